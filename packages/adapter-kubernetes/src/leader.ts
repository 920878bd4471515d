// Leader election on a coordination.k8s.io/v1 Lease, so that of several replicas exactly one
// writes Gateway API status (every replica serves xDS). Same rules as client-go's leaderelection:
// a lease is taken when it is free or its holder has not renewed it for leaseDuration as observed
// on this replica's own clock (no cross-machine clock comparison); the holder renews every
// retryPeriod and steps down when it could not renew for renewDeadline. Updates carry the
// resourceVersion, so two candidates can never both win the same round.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { KubeApiError } from './kube.ts';
import type { KubeClient } from './kube.ts';

export interface LeaderOptions {
  namespace: string;
  name: string;
  /** Default: $POD_NAME or the host name, plus a random suffix. */
  identity?: string;
  leaseSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

interface Lease {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** metav1.MicroTime text: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function defaultIdentity(): string {
  return `${process.env.POD_NAME || hostname()}_${randomBytes(4).toString('hex')}`;
}

export class LeaderElector {
  readonly identity: string;
  leader = false;
  transitions = 0;
  private readonly path: string;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private observed: { key: string; at: number } | undefined;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy: Promise<void> | undefined;

  private readonly client: KubeClient;
  private readonly onChange: (leader: boolean) => void;
  private readonly onError: (err: Error) => void;

  constructor(
    client: KubeClient,
    o: LeaderOptions,
    onChange: (leader: boolean) => void,
    onError: (err: Error) => void = () => {},
  ) {
    this.client = client;
    this.onChange = onChange;
    this.onError = onError;
    this.identity = o.identity ?? defaultIdentity();
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases`;
    this.leaseMs = (o.leaseSeconds ?? 15) * 1000;
    this.renewDeadlineMs = (o.renewDeadlineSeconds ?? Math.max(1, Math.floor((o.leaseSeconds ?? 15) * 0.66))) * 1000;
    this.retryMs = (o.retryPeriodSeconds ?? Math.max(1, Math.floor((o.leaseSeconds ?? 15) / 7))) * 1000;
    this.name = o.name;
  }

  private readonly name: string;

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.busy = this.round().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.retryMs * (this.leader ? 1 : 0.8 + Math.random() * 0.4));
      });
    };
    tick();
  }

  /** Stops; a leader releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.busy;
    if (!this.leader) return;
    try {
      const lease = await this.client.request<Lease>('GET', `${this.path}/${this.name}`);
      if (lease.spec?.holderIdentity === this.identity) {
        await this.client.request('PUT', `${this.path}/${this.name}`, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
        });
      }
    } catch {
      /* the lease expires by itself */
    }
    this.set(false);
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.transitions++;
    this.onChange(leader);
  }

  private async round(): Promise<void> {
    const now = Date.now();
    try {
      let lease: Lease | undefined;
      try {
        lease = await this.client.request<Lease>('GET', `${this.path}/${this.name}`, undefined, this.retryMs * 2);
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      }
      const spec = {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseMs / 1000,
        renewTime: microTime(),
      };
      if (!lease) {
        await this.client.request('POST', this.path, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.name },
          spec: { ...spec, acquireTime: microTime(), leaseTransitions: 0 },
        });
        this.lastRenew = now;
        this.set(true);
        return;
      }
      const holder = lease.spec?.holderIdentity ?? '';
      const key = `${holder}|${lease.spec?.renewTime ?? ''}`;
      if (this.observed?.key !== key) this.observed = { key, at: now };
      const duration = (lease.spec?.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
      const mine = holder === this.identity;
      const free = holder === '' || now - this.observed.at > duration;
      if (!mine && !free) {
        this.set(false);
        return;
      }
      await this.client.request('PUT', `${this.path}/${this.name}`, {
        ...lease,
        spec: {
          ...lease.spec,
          ...spec,
          ...(mine ? {} : { acquireTime: microTime(), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 }),
        },
      });
      this.lastRenew = now;
      this.set(true);
    } catch (err) {
      this.onError(err as Error);
      // A leader that cannot renew steps down before its lease can run out elsewhere.
      if (this.leader && now - this.lastRenew > this.renewDeadlineMs) this.set(false);
    }
  }
}
