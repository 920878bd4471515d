// Writing Gateway API status back. Pure parts (merge, compare) and the writer that PUTs the status
// subresource. A write happens only when the status meshgate wants differs from what the object
// carries, ignoring lastTransitionTime (kept while a condition's status stays the same), so the
// watch event a write causes finds nothing left to do: no loops.
import type { Condition, DesiredStatus, RouteParentStatus, StatusKind } from './gateway.ts';
import { GROUP } from './gateway.ts';
import type { GwObject, KubeState } from './state.ts';

/** JSON with sorted keys, for order-insensitive comparison of API objects. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** Microsecond RFC 3339, the API's metav1.Time/MicroTime text form. */
export function kubeTime(d: Date = new Date()): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** Desired conditions with lastTransitionTime kept from `existing` where the status did not change. */
export function mergeConditions(existing: unknown, desired: Condition[], now: string): Condition[] {
  const old = new Map<string, Condition>();
  for (const c of Array.isArray(existing) ? (existing as Condition[]) : []) old.set(c.type, c);
  return desired.map((c) => {
    const prev = old.get(c.type);
    return {
      ...c,
      lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
    };
  });
}

const sameRef = (a: Record<string, unknown>, b: Record<string, unknown>) => {
  const norm = (r: Record<string, unknown>) =>
    canonical({
      group: GROUP,
      kind: 'Gateway',
      ...r,
      ...(r.namespace === undefined ? {} : { namespace: r.namespace }),
    });
  return norm(a) === norm(b);
};

/**
 * The status object to write, or undefined when the current one already says the same. Routes
 * keep the parent entries of other controllers untouched.
 */
export function nextStatus(obj: GwObject, d: DesiredStatus, controllerName: string, now: string): object | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: status JSON
  const cur = (obj.status ?? {}) as any;
  // biome-ignore lint/suspicious/noExplicitAny: status JSON
  let next: any;
  if (d.kind === 'GatewayClass')
    next = { ...cur, conditions: mergeConditions(cur.conditions, d.conditions ?? [], now) };
  else if (d.kind === 'Gateway') {
    const oldListeners = new Map<string, { conditions?: unknown }>(
      (Array.isArray(cur.listeners) ? cur.listeners : []).map((l: { name: string }) => [l.name, l]),
    );
    next = {
      ...cur,
      conditions: mergeConditions(cur.conditions, d.conditions ?? [], now),
      listeners: (d.listeners ?? []).map((l) => ({
        ...l,
        conditions: mergeConditions(oldListeners.get(l.name)?.conditions, l.conditions, now),
      })),
    };
  } else {
    const curParents: RouteParentStatus[] = Array.isArray(cur.parents) ? cur.parents : [];
    const others = curParents.filter((p) => p.controllerName !== controllerName);
    const ours = (d.parents ?? []).map((p) => {
      const prev = curParents.find((c) => c.controllerName === controllerName && sameRef(c.parentRef, p.parentRef));
      return { ...p, conditions: mergeConditions(prev?.conditions, p.conditions, now) };
    });
    next = { ...cur, parents: [...others, ...ours] };
  }
  return canonical(next) === canonical(cur) ? undefined : next;
}

const API: Record<StatusKind, { plural: string; namespaced: boolean }> = {
  GatewayClass: { plural: 'gatewayclasses', namespaced: false },
  Gateway: { plural: 'gateways', namespaced: true },
  HTTPRoute: { plural: 'httproutes', namespaced: true },
  GRPCRoute: { plural: 'grpcroutes', namespaced: true },
};

export function statusPath(kind: StatusKind, namespace: string, name: string): string {
  const a = API[kind];
  return `/apis/${GROUP}/v1/${a.namespaced ? `namespaces/${namespace}/` : ''}${a.plural}/${name}/status`;
}

export function objectOf(state: KubeState, kind: StatusKind, namespace: string, name: string): GwObject | undefined {
  const key = namespace ? `${namespace}/${name}` : name;
  if (kind === 'GatewayClass') return state.gatewayClasses.get(name);
  if (kind === 'Gateway') return state.gateways.get(key);
  if (kind === 'HTTPRoute') return state.httpRoutes.get(key);
  return state.grpcRoutes.get(key);
}

export interface StatusClient {
  request<T>(method: 'PUT', path: string, body: unknown, timeoutMs?: number): Promise<T>;
}

export interface StatusLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Applies desired statuses one object at a time. Runs are serialised; a run asked for while one is
 * going re-runs once after it with the latest state. A write answered 409 (the object changed) is
 * left to the next run, which the object's own watch event triggers.
 */
export class StatusWriter {
  writes = 0;
  conflicts = 0;
  private running = false;
  private again: (() => { state: KubeState; desired: DesiredStatus[] }) | undefined;
  /** `kind/ns/name` -> the resourceVersion a write was based on, so it is not repeated before the watch catches up. */
  private readonly pending = new Map<string, string>();

  private readonly client: StatusClient;
  private readonly controllerName: string;
  private readonly log: StatusLogger;

  constructor(client: StatusClient, controllerName: string, log: StatusLogger) {
    this.client = client;
    this.controllerName = controllerName;
    this.log = log;
  }

  /** `get` is read when the run starts, so a burst of calls writes from the latest state. */
  reconcile(get: () => { state: KubeState; desired: DesiredStatus[] }): void {
    if (this.running) {
      this.again = get;
      return;
    }
    this.running = true;
    void this.run(get).finally(() => {
      this.running = false;
      const next = this.again;
      this.again = undefined;
      if (next) this.reconcile(next);
    });
  }

  private async run(get: () => { state: KubeState; desired: DesiredStatus[] }): Promise<void> {
    const { state, desired } = get();
    const now = kubeTime();
    for (const d of desired) {
      const obj = objectOf(state, d.kind, d.namespace, d.name);
      if (!obj) continue;
      const key = `${d.kind}/${d.namespace}/${d.name}`;
      if (this.pending.get(key) === obj.resourceVersion) continue;
      const status = nextStatus(obj, d, this.controllerName, now);
      if (!status) continue;
      const body = {
        apiVersion: `${GROUP}/v1`,
        kind: d.kind,
        metadata: {
          name: obj.name,
          ...(obj.namespace ? { namespace: obj.namespace } : {}),
          resourceVersion: obj.resourceVersion,
        },
        status,
      };
      try {
        await this.client.request('PUT', statusPath(d.kind, d.namespace, d.name), body);
        this.writes++;
        this.pending.set(key, obj.resourceVersion);
        this.log.info({ kind: d.kind, namespace: d.namespace || undefined, name: d.name }, 'status written');
      } catch (err) {
        const e = err as { status?: number; message: string };
        if (e.status === 409) this.conflicts++;
        else if (e.status === 404) continue;
        else
          this.log.warn(
            { kind: d.kind, namespace: d.namespace || undefined, name: d.name, err: e.message },
            'status write failed',
          );
      }
    }
  }

  /** Forget write bookkeeping (on gaining leadership: write whatever differs). */
  reset(): void {
    this.pending.clear();
  }
}
