// ConsulSource: wires the parts (see README.md). It learns the datacenter, registers the gateway,
// starts the watches the settings ask for and keeps the per-service watches equal to the wanted
// set. Every answer updates the state and queues one coalesced flush, which builds the model and
// status from the state and hands them to the sink when they changed.
import type { Model, Source, SourceSink, SourceStatus } from '@meshgate/model';
import { buildModel, buildStatus } from './build.ts';
import { leafStep, rootsStep } from './connect.ts';
import { ConsulHttp, ConsulHttpError } from './http.ts';
import { checkIntentions, intentionsStep } from './intentions.ts';
import { LoopEngine, type LoopStep } from './loop.ts';
import { CONSUL_NAME_RE, serviceModelName } from './names.ts';
import type { ConsulLogger, ConsulSourceOptions } from './options.ts';
import { ConsulDataError } from './parse.ts';
import { type ConsulSettings, resolveSettings } from './settings.ts';
import {
  type ConsulState,
  type ServiceWatch,
  desiredServices,
  isSynced,
  needsCatalog,
  newState,
  serviceWatchKey,
} from './state.ts';
import { AclToken } from './token.ts';
import { Semaphore } from './util.ts';
import {
  type WatchContext,
  blockingGet,
  catalogStep,
  errText,
  ingressStep,
  isBadData,
  serviceStep,
} from './watchers.ts';

const silent: ConsulLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class ConsulSource implements Source {
  readonly name: string;
  private readonly s: ConsulSettings;
  private readonly raw: ConsulSourceOptions;
  private readonly log: ConsulLogger;
  private readonly state: ConsulState = newState();
  private readonly engine: LoopEngine;
  private readonly limiter: Semaphore;
  private http?: ConsulHttp;
  private ctx?: WatchContext;
  private readonly token: AclToken;
  private sink?: SourceSink;
  private stopped = false;
  private registering = false;
  private flushQueued = false;
  private lastModelJson = '';
  private lastStatusJson = '';

  constructor(options: ConsulSourceOptions = {}) {
    this.raw = options;
    this.s = resolveSettings(options);
    this.name = this.s.name;
    this.log = options.logger ?? silent;
    this.token = new AclToken(options);
    this.limiter = new Semaphore(this.s.concurrency);
    this.engine = new LoopEngine({
      rateLimit: this.s.rateLimit,
      backoff: this.s.backoff,
      isBadData,
      events: {
        answered: (key, recovered) => {
          const w = this.state.watches.get(key);
          if (w) {
            w.synced = true;
            w.failure = undefined;
          }
          if (recovered) {
            this.log.info({ watch: key }, 'consul: watch recovered');
            // The agent may have restarted without our registration.
            if (this.s.gateway?.register) this.engine.spawn(this.register());
          }
          this.queueFlush();
        },
        badData: (key, err) => {
          // Reported by the watcher next to the thing it concerns; not a reason to call the agent down.
          const w = this.state.watches.get(key);
          if (w) w.synced = true;
          const msg = this.redact(errText(err));
          this.noteError(msg);
          this.log.warn({ watch: key, err: msg }, 'consul: skipped a malformed answer');
          this.queueFlush();
        },
        failed: (key, err, first) => {
          if (err instanceof ConsulHttpError && err.kind === 'acl') this.token.reload();
          const msg = this.redact(errText(err));
          if (first) this.log.warn({ watch: key, err: msg }, 'consul: watch failing; keeping the last known state');
          const w = this.state.watches.get(key);
          if (w) w.failure = msg;
          this.noteError(msg);
          this.queueFlush();
        },
        internalError: (err) => this.log.error({ err: this.redact(errText(err)) }, 'consul: internal error'),
      },
    });
  }

  /** Plain Consul name -> model service name, for routes that name the plain service. */
  aliases(): Map<string, string> {
    const out = new Map<string, string>();
    if (!this.state.dc) return out;
    for (const n of [...this.state.services.keys()].sort()) out.set(n, serviceModelName(this.state.dc, n));
    return out;
  }

  /**
   * Tells the source which services routes need (plain Consul names or `consul/<dc>/<svc>`). They
   * are watched in addition to the configured ones; a name dropped here stops being watched.
   */
  watchServices(names: Iterable<string>): void {
    const set = new Set<string>();
    for (const n of names) {
      const m = /^consul\/[^/]+\/(.+)$/.exec(n);
      const plain = m ? m[1] : n;
      if (CONSUL_NAME_RE.test(plain)) set.add(plain);
    }
    this.state.routeNeeds = set;
    if (this.sink && this.state.dc) this.reconcile();
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    this.token.load();
    const http = new ConsulHttp({
      address: this.s.address,
      token: () => this.token.get(),
      tls: this.raw.tls,
      maxBodyBytes: this.s.maxBodyBytes,
      common: { dc: this.s.datacenter, ns: this.s.namespace, partition: this.s.partition },
      redact: (s) => this.redact(s),
    });
    this.http = http;
    this.ctx = {
      settings: this.s,
      state: this.state,
      get: blockingGet(http, this.limiter, this.s),
      log: this.log,
      noteError: (msg) => this.noteError(msg),
      reconcile: () => this.reconcile(),
      changed: () => this.queueFlush(),
    };
    this.emitStatus();
    this.engine.spawn(this.main());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.engine.close();
    const g = this.s.gateway;
    if (g?.register && this.state.registered && this.http) {
      try {
        await this.http.request('PUT', `/v1/agent/service/deregister/${encodeURIComponent(g.name)}`, {
          timeoutMs: 2000,
        });
      } catch (e) {
        this.log.warn({ err: this.redact(errText(e)) }, 'consul: could not deregister the gateway');
      }
    }
    this.http?.close();
  }

  /** Request counters per watch, for tests and the debug page. */
  requestCounts(): Record<string, number> {
    return this.engine.requestCounts();
  }

  /** The model from the current state (what the sink last received once synced). */
  buildModel(): Model {
    return buildModel(this.state, this.s);
  }

  /** Current status (also what the sink last received). */
  status(): SourceStatus {
    return buildStatus(this.state, this.s);
  }

  // ---------------------------------------------------------------- setup

  private redact(s: string): string {
    return this.token.redact(s);
  }

  /** A one-shot task failed (agent/self, register): stale until it succeeds. */
  private taskFailed(key: string, err: unknown): void {
    if (err instanceof ConsulHttpError && err.kind === 'acl') this.token.reload();
    const msg = this.redact(errText(err));
    this.state.failingTasks.set(key, msg);
    this.noteError(msg);
    this.queueFlush();
  }

  private taskDone(key: string): void {
    if (this.state.failingTasks.delete(key)) this.queueFlush();
  }

  private async main(): Promise<void> {
    // The datacenter is part of every model name and SNI: learn it before anything else.
    const dc =
      this.s.datacenter ??
      (await this.engine.retry(
        async (signal) => {
          const res = await this.http!.request('GET', '/v1/agent/self', {
            timeoutMs: this.s.requestTimeoutMs,
            signal,
            query: { dc: undefined },
          });
          const cfg = (res.body as { Config?: { Datacenter?: unknown } } | undefined)?.Config;
          if (typeof cfg?.Datacenter !== 'string' || !cfg.Datacenter)
            throw new ConsulDataError('agent/self.Config.Datacenter: missing; set consul.datacenter');
          return cfg.Datacenter;
        },
        (e) => this.taskFailed('agent/self', e),
      ));
    if (this.stopped || !dc) return;
    this.state.dc = dc;
    this.taskDone('agent/self');
    const g = this.s.gateway;
    if (g?.register) this.engine.spawn(this.register());
    if (needsCatalog(this.s)) this.watch('catalog', (i, sig) => catalogStep(this.ctx!, i, sig));
    if (g) {
      this.watch('roots', (i, sig) => rootsStep(this.ctx!, i, sig));
      this.watch('leaf', (i, sig) => leafStep(this.ctx!, i, sig));
      if (g.ingressRoutes) this.watch('ingress', (i, sig) => ingressStep(this.ctx!, i, sig));
      if (g.checkIntentions) this.watch('intentions', (i, sig) => intentionsStep(this.ctx!, i, sig));
    }
    this.reconcile();
  }

  private async register(): Promise<void> {
    const g = this.s.gateway!;
    if (this.registering) return;
    this.registering = true;
    try {
      const ok = await this.engine.retry(
        async (signal) => {
          await this.http!.request('PUT', '/v1/agent/service/register', {
            timeoutMs: this.s.requestTimeoutMs,
            signal,
            query: { dc: undefined },
            body: {
              ID: g.name,
              Name: g.name,
              Kind: g.kind === 'ingress-gateway' ? 'ingress-gateway' : undefined,
              Address: g.address,
              Port: g.port,
              Meta: { 'managed-by': 'meshgate' },
            },
          });
          return true;
        },
        (e) => this.taskFailed('register', e),
      );
      if (!ok || this.stopped) return;
      this.state.registered = true;
      this.taskDone('register');
      this.log.info({ gateway: g.name }, 'consul: gateway registered');
      this.queueFlush();
    } finally {
      this.registering = false;
    }
  }

  // ---------------------------------------------------------------- watches

  /** Starts a watch: its state entry and its loop, together. */
  private watch(key: string, step: LoopStep): void {
    if (this.engine.has(key)) return;
    this.state.watches.set(key, { synced: false });
    this.engine.start(key, step);
  }

  private unwatch(key: string): void {
    this.engine.stop(key);
    this.state.watches.delete(key);
  }

  /** Starts and stops per-service watches so exactly the wanted services are watched. */
  private reconcile(): void {
    const st = this.state;
    if (this.stopped || !st.dc) return;
    // In auto mode, Connect-ness comes from the catalog: wait for its first answer.
    if (this.s.connect === 'auto' && !st.catalog) return;
    const want = desiredServices(st, this.s);
    for (const [name, svc] of st.services) {
      if (want.get(name) !== svc.connect) {
        this.unwatch(serviceWatchKey(name));
        st.services.delete(name);
        st.intentions.allowed.delete(name);
      }
    }
    const newConnect: string[] = [];
    for (const [name, connect] of want) {
      if (st.services.has(name)) continue;
      const svc: ServiceWatch = { name, connect };
      st.services.set(name, svc);
      this.watch(serviceWatchKey(name), (i, sig) => serviceStep(this.ctx!, svc, i, sig));
      if (connect) newConnect.push(name);
    }
    if (newConnect.length && st.intentions.answered)
      this.engine.spawn(checkIntentions(this.ctx!, newConnect, this.engine.signal));
    this.queueFlush();
  }

  // ---------------------------------------------------------------- flush

  private noteError(msg: string): void {
    this.state.lastError = this.redact(msg);
    this.state.lastErrorAt = Date.now();
  }

  private queueFlush(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      if (!this.stopped) this.flush();
    });
  }

  private emitStatus(): void {
    const s = this.status();
    const { lastErrorAt: _a, ...cmp } = s;
    const j = JSON.stringify(cmp);
    if (j === this.lastStatusJson) return;
    this.lastStatusJson = j;
    this.sink?.status(s);
  }

  private flush(): void {
    const st = this.state;
    if (!st.synced && isSynced(st, this.s)) {
      st.synced = true;
      this.log.info({ services: st.services.size }, 'consul: synced');
    }
    // Before the first complete view nothing is emitted: a partial model would look like lost services.
    if (st.synced) {
      const model = buildModel(st, this.s);
      const j = JSON.stringify(model);
      if (j !== this.lastModelJson) {
        this.lastModelJson = j;
        st.lastUpdateAt = Date.now();
        this.sink?.update(model);
      }
    }
    this.emitStatus();
  }
}
