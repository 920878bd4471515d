// ConsulSource: watches a Consul agent with blocking queries and turns what it sees into a partial
// model: services and endpoints (catalog + health), the gateway's Connect identity and the Connect
// roots, ingress-gateway listeners and routes, and intention verdicts in its status.
//
// Shape: one blocking loop per watched thing (catalog, each service, roots, leaf, ingress entry,
// intentions). Each loop echoes X-Consul-Index, follows the reset rules, is paced by its own token
// bucket and backs off with jitter after errors. Loops only update state; a single coalesced
// `flush` builds the model and status, and emits them when they changed.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type {
  Endpoint,
  GatewayListener,
  Identity,
  Model,
  Route,
  Service,
  ServiceProtocol,
  Source,
  SourceSink,
  SourceStatus,
  TrustBundle,
} from '@meshgate/model';
import {
  DEFAULT_WAIT_MS,
  TokenBucket,
  backoffDelay,
  blockingTimeout,
  formatWait,
  jitteredWait,
  nextIndex,
} from './blocking.ts';
import { ConsulHttp, ConsulHttpError, type ConsulResponse } from './http.ts';
import { validateLeaf } from './leaf.ts';
import {
  CONSUL_NAME_RE,
  ROOTS_BUNDLE_NAME,
  connectSni,
  connectSpiffeId,
  identityName,
  ingressListenerName,
  ingressRouteName,
  serviceModelName,
  trustDomainOf,
} from './names.ts';
import type { ConsulLogger, ConsulSourceOptions } from './options.ts';
import {
  ConsulDataError,
  parseCatalogServices,
  parseHealthEntries,
  parseIngressGateway,
  parseIntentionCheck,
  parseLeaf,
  parseRoots,
  type IngressListener,
  type ParsedRoots,
} from './parse.ts';
import { Semaphore, sleep } from './util.ts';

const silent: ConsulLogger = { debug() {}, info() {}, warn() {}, error() {} };

interface Resolved {
  name: string;
  address: string;
  datacenter?: string;
  namespace?: string;
  partition?: string;
  services: string[];
  tag?: string;
  watchAll: boolean;
  includeWarning: boolean;
  connect: 'auto' | 'always' | 'never';
  regionKey: string;
  zoneKey: string;
  weightTagPrefix: string;
  gateway?: {
    name: string;
    register: boolean;
    kind: 'ingress-gateway' | 'typical';
    address: string;
    port: number;
    ingressRoutes: boolean;
    checkIntentions: boolean;
  };
  waitMs: number;
  requestTimeoutMs: number;
  concurrency: number;
  maxBodyBytes: number;
  rateLimit: { burst: number; minIntervalMs: number; maxIntervalMs: number };
  backoff: { baseMs: number; capMs: number };
}

/** One running blocking loop. */
interface Loop {
  key: string;
  abort: AbortController;
  /** Has answered (well or badly) at least once; counts toward `synced`. */
  answered: boolean;
  /** Current transport-level failure (agent unreachable, ACL, 5xx); makes the source stale. */
  failure?: string;
  index: number;
  requests: number;
}

interface ServiceState {
  name: string;
  connect: boolean;
  loop: Loop;
  endpoints?: Endpoint[];
  bad?: string;
}

function resolve(o: ConsulSourceOptions): Resolved {
  const g = o.gateway;
  return {
    name: o.name ?? 'consul',
    address: o.address ?? 'http://127.0.0.1:8500',
    datacenter: o.datacenter,
    namespace: o.namespace,
    partition: o.partition,
    services: [...(o.services ?? [])],
    tag: o.tag,
    watchAll: o.watchAll ?? false,
    includeWarning: o.includeWarning ?? false,
    connect: o.connect ?? 'auto',
    regionKey: o.localityRegionKey ?? 'region',
    zoneKey: o.localityZoneKey ?? 'zone',
    weightTagPrefix: o.weightTagPrefix ?? 'meshgate-weight=',
    gateway: g
      ? {
          name: g.name ?? 'meshgate-gateway',
          register: g.register ?? true,
          kind: g.kind ?? 'ingress-gateway',
          address: g.address ?? '127.0.0.1',
          port: g.port ?? 8443,
          ingressRoutes: g.ingressRoutes ?? true,
          checkIntentions: g.checkIntentions ?? true,
        }
      : undefined,
    waitMs: Math.min(600_000, Math.max(1, o.waitMs ?? DEFAULT_WAIT_MS)),
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    concurrency: o.concurrency ?? 32,
    maxBodyBytes: o.maxBodyBytes ?? 16 * 1024 * 1024,
    rateLimit: {
      burst: o.rateLimit?.burst ?? 2,
      minIntervalMs: o.rateLimit?.minIntervalMs ?? 1000,
      maxIntervalMs: o.rateLimit?.maxIntervalMs ?? 15_000,
    },
    backoff: { baseMs: o.backoff?.baseMs ?? 250, capMs: o.backoff?.capMs ?? 30_000 },
  };
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class ConsulSource implements Source {
  readonly name: string;
  private readonly o: Resolved;
  private readonly raw: ConsulSourceOptions;
  private readonly log: ConsulLogger;
  private http?: ConsulHttp;
  private token = '';
  private sink?: SourceSink;
  private stopped = false;
  private readonly root = new AbortController();
  private readonly limiter: Semaphore;
  private readonly loops = new Map<string, Loop>();
  private readonly running = new Set<Promise<void>>();

  private dc = '';
  private catalog?: Map<string, string[]>;
  private readonly services = new Map<string, ServiceState>();
  private routeNeeds = new Set<string>();
  private ingress: IngressListener[] = [];
  private ingressBad?: string;
  private roots?: ParsedRoots & { trustDomainResolved: string };
  private pendingLeaf?: { certPem: string; privateKeyPem: string; serviceUri: string };
  private leaf?: { chainPem: string; keyPem: string; notAfter?: Date; serial: string };
  private leafError?: string;
  private readonly allowed = new Map<string, boolean>();
  private intentionDenials = 0;
  private intentionsAnswered = false;
  private intentionsGen = 0;
  private registered = false;
  private registering = false;

  private synced = false;
  private lastModelJson = '';
  private lastStatusJson = '';
  private lastError?: string;
  private lastErrorAt?: number;
  private lastUpdateAt?: number;
  private flushQueued = false;

  constructor(options: ConsulSourceOptions = {}) {
    this.raw = options;
    this.o = resolve(options);
    this.name = this.o.name;
    this.log = options.logger ?? silent;
    this.limiter = new Semaphore(this.o.concurrency);
    for (const s of this.o.services)
      if (!CONSUL_NAME_RE.test(s))
        throw new Error(
          `consul.services: ${JSON.stringify(s)} is not a Consul service name; use letters, digits, - . _`,
        );
    try {
      new URL(this.o.address);
    } catch {
      throw new Error(`consul.address: ${JSON.stringify(this.o.address)} is not a URL; use e.g. http://127.0.0.1:8500`);
    }
  }

  /** Plain Consul name -> model service name, for routes that name the plain service. */
  aliases(): Map<string, string> {
    const out = new Map<string, string>();
    if (!this.dc) return out;
    for (const n of [...this.services.keys()].sort()) out.set(n, serviceModelName(this.dc, n));
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
    this.routeNeeds = set;
    if (this.sink && this.dc) this.reconcile();
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    this.token = this.readToken();
    this.http = new ConsulHttp({
      address: this.o.address,
      token: () => this.token,
      tls: this.raw.tls,
      maxBodyBytes: this.o.maxBodyBytes,
      common: { dc: this.o.datacenter, ns: this.o.namespace, partition: this.o.partition },
      redact: (s) => this.redact(s),
    });
    this.emitStatus();
    this.spawn(this.main());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.root.abort();
    for (const l of this.loops.values()) l.abort.abort();
    await Promise.allSettled([...this.running]);
    const g = this.o.gateway;
    if (g?.register && this.registered && this.http) {
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

  // ---------------------------------------------------------------- setup

  private readToken(): string {
    if (this.raw.token) return this.raw.token.trim();
    if (this.raw.tokenEnv) {
      const v = process.env[this.raw.tokenEnv];
      if (v === undefined)
        throw new Error(
          `consul.tokenEnv: environment variable ${this.raw.tokenEnv} is not set; export it or use tokenFile`,
        );
      return v.trim();
    }
    if (this.raw.tokenFile) {
      try {
        return readFileSync(this.raw.tokenFile, 'utf8').trim();
      } catch (e) {
        throw new Error(
          `consul.tokenFile: cannot read ${this.raw.tokenFile} (${(e as NodeJS.ErrnoException).code ?? 'error'}); fix the path or its permissions`,
        );
      }
    }
    return '';
  }

  private redact(s: string): string {
    return this.token && this.token.length >= 4 ? s.split(this.token).join('[redacted]') : s;
  }

  private spawn(p: Promise<void>): void {
    const q = p
      .catch((e) => this.log.error({ err: this.redact(errText(e)) }, 'consul: internal error'))
      .finally(() => this.running.delete(q));
    this.running.add(q);
  }

  private async main(): Promise<void> {
    // Learn the datacenter (it is part of every model name and SNI) before anything else.
    let attempt = 0;
    while (!this.stopped && !this.dc) {
      if (this.o.datacenter) {
        this.dc = this.o.datacenter;
        break;
      }
      try {
        const res = await this.http!.request('GET', '/v1/agent/self', {
          timeoutMs: this.o.requestTimeoutMs,
          signal: this.root.signal,
          query: { dc: undefined },
        });
        const cfg = (res.body as { Config?: { Datacenter?: unknown } } | undefined)?.Config;
        if (typeof cfg?.Datacenter !== 'string' || !cfg.Datacenter)
          throw new ConsulDataError('agent/self.Config.Datacenter: missing; set consul.datacenter');
        this.dc = cfg.Datacenter;
        this.setFailure('agent/self', undefined);
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof ConsulHttpError && e.kind === 'acl') this.token = this.safeReread();
        this.setFailure('agent/self', errText(e));
        await sleep(backoffDelay(attempt++, this.o.backoff.baseMs, this.o.backoff.capMs), this.root.signal);
      }
    }
    if (this.stopped) return;
    const g = this.o.gateway;
    if (g?.register) this.spawn(this.register());
    if (this.o.watchAll || this.o.tag || this.o.connect === 'auto')
      this.startLoop('catalog', () => this.catalogLoopOnce.bind(this));
    if (g) {
      this.startLoop('roots', () => this.rootsOnce.bind(this));
      this.startLoop('leaf', () => this.leafOnce.bind(this));
      if (g.ingressRoutes) this.startLoop('ingress', () => this.ingressOnce.bind(this));
      if (g.checkIntentions) this.startLoop('intentions', () => this.intentionsOnce.bind(this));
    }
    this.reconcile();
  }

  private async register(): Promise<void> {
    const g = this.o.gateway!;
    if (this.registering) return;
    this.registering = true;
    let attempt = 0;
    try {
      while (!this.stopped) {
        try {
          await this.http!.request('PUT', '/v1/agent/service/register', {
            timeoutMs: this.o.requestTimeoutMs,
            signal: this.root.signal,
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
          this.registered = true;
          this.setFailure('register', undefined);
          this.log.info({ gateway: g.name }, 'consul: gateway registered');
          return;
        } catch (e) {
          if (this.stopped) return;
          if (e instanceof ConsulHttpError && e.kind === 'acl') this.token = this.safeReread();
          this.setFailure('register', errText(e));
          await sleep(backoffDelay(attempt++, this.o.backoff.baseMs, this.o.backoff.capMs), this.root.signal);
        }
      }
    } finally {
      this.registering = false;
    }
  }

  // ---------------------------------------------------------------- loops

  /**
   * Starts a blocking loop. `make` returns the step: given the index to send (0 = plain read) and
   * a signal, it performs one request, applies the answer, and returns the X-Consul-Index seen.
   */
  private startLoop(key: string, make: () => (index: number, loop: Loop) => Promise<number | undefined>): Loop {
    const existing = this.loops.get(key);
    if (existing) return existing;
    const loop: Loop = { key, abort: new AbortController(), answered: false, index: 0, requests: 0 };
    this.loops.set(key, loop);
    const step = make();
    const bucket = new TokenBucket(this.o.rateLimit);
    const run = async () => {
      let attempt = 0;
      while (!this.stopped && !loop.abort.signal.aborted) {
        const delay = bucket.take();
        if (delay > 0) await sleep(delay, loop.abort.signal);
        if (this.stopped || loop.abort.signal.aborted) break;
        try {
          loop.requests++;
          const sent = loop.index;
          const returned = await step(sent, loop);
          loop.index = nextIndex(sent, returned);
          const wasFailing = loop.failure !== undefined;
          loop.answered = true;
          if (wasFailing) {
            loop.failure = undefined;
            this.log.info({ watch: key }, 'consul: watch recovered');
            // The agent may have restarted without our registration.
            if (this.o.gateway?.register) this.spawn(this.register());
          }
          attempt = 0;
          this.queueFlush();
        } catch (e) {
          if (this.stopped || loop.abort.signal.aborted) break;
          const msg = this.redact(errText(e));
          if (
            e instanceof ConsulDataError ||
            (e instanceof ConsulHttpError && (e.kind === 'bad-json' || e.kind === 'too-large'))
          ) {
            // Bad data: reported by the step's owner (per service); not a reason to call the agent down.
            loop.answered = true;
            this.noteError(msg);
            this.log.warn({ watch: key, err: msg }, 'consul: skipped a malformed answer');
          } else {
            if (e instanceof ConsulHttpError && e.kind === 'acl') this.token = this.safeReread();
            if (loop.failure === undefined)
              this.log.warn({ watch: key, err: msg }, 'consul: watch failing; keeping the last known state');
            loop.failure = msg;
            this.noteError(msg);
          }
          // After a failure the agent may have restarted with a fresh (lower) index: read afresh.
          loop.index = 0;
          this.queueFlush();
          await sleep(backoffDelay(attempt++, this.o.backoff.baseMs, this.o.backoff.capMs), loop.abort.signal);
        }
      }
    };
    this.spawn(run());
    return loop;
  }

  private stopLoop(key: string): void {
    const l = this.loops.get(key);
    if (!l) return;
    l.abort.abort();
    this.loops.delete(key);
  }

  private safeReread(): string {
    try {
      return this.readToken();
    } catch {
      return this.token;
    }
  }

  /** One GET: blocking when index >= 1, otherwise a plain read through the fan-out limiter. */
  private get(
    path: string,
    index: number,
    loop: Loop,
    query: Record<string, string | number | boolean | undefined> = {},
    allow404 = false,
  ): Promise<ConsulResponse> {
    if (index >= 1) {
      const wait = jitteredWait(this.o.waitMs);
      return this.http!.request('GET', path, {
        query: { ...query, index, wait: formatWait(wait) },
        timeoutMs: blockingTimeout(wait, this.o.requestTimeoutMs),
        signal: loop.abort.signal,
        allow404,
      });
    }
    return this.limiter.run(() =>
      this.http!.request('GET', path, {
        query,
        timeoutMs: this.o.requestTimeoutMs,
        signal: loop.abort.signal,
        allow404,
      }),
    );
  }

  private async catalogLoopOnce(index: number, loop: Loop): Promise<number | undefined> {
    const res = await this.get('/v1/catalog/services', index, loop);
    this.catalog = parseCatalogServices(res.body);
    this.reconcile();
    return res.index;
  }

  private async rootsOnce(index: number, loop: Loop): Promise<number | undefined> {
    const res = await this.get('/v1/agent/connect/ca/roots', index, loop, {
      dc: undefined,
      ns: undefined,
      partition: undefined,
    });
    const r = parseRoots(res.body);
    let td = r.trustDomain;
    if (!td) {
      try {
        const san = new X509Certificate(r.rootPems[0]).subjectAltName ?? '';
        td = trustDomainOf(san.replace(/^.*URI:/, '')) ?? '';
      } catch {
        td = '';
      }
    }
    if (!td) throw new ConsulDataError('connect/ca/roots: no TrustDomain and the root carries no spiffe:// URI');
    const changed =
      !this.roots || this.roots.activeRootId !== r.activeRootId || this.roots.rootPems.join() !== r.rootPems.join();
    this.roots = { ...r, trustDomainResolved: td };
    if (changed)
      this.log.info({ activeRootId: r.activeRootId, roots: r.rootPems.length }, 'consul: Connect roots updated');
    if (this.pendingLeaf) this.applyLeaf();
    return res.index;
  }

  private async leafOnce(index: number, loop: Loop): Promise<number | undefined> {
    const g = this.o.gateway!;
    const res = await this.get(`/v1/agent/connect/ca/leaf/${encodeURIComponent(g.name)}`, index, loop, {
      dc: undefined,
    });
    const l = parseLeaf(res.body);
    this.pendingLeaf = { certPem: l.certPem, privateKeyPem: l.privateKeyPem, serviceUri: l.serviceUri };
    this.applyLeaf();
    return res.index;
  }

  /** Validates the newest leaf against the roots; a bad one is reported and the previous kept. */
  private applyLeaf(): void {
    const p = this.pendingLeaf;
    if (!p || !this.roots) return;
    const g = this.o.gateway!;
    const expected =
      p.serviceUri ||
      connectSpiffeId(g.name, this.o.namespace, this.dc, this.roots.trustDomainResolved, this.o.partition);
    let check = validateLeaf({
      certPem: p.certPem,
      privateKeyPem: p.privateKeyPem,
      rootPems: this.roots.rootPems,
      intermediatePems: this.roots.activeIntermediates,
      expectedUri: expected,
    });
    if (check.ok && !expected.endsWith(`/svc/${g.name}`))
      check = { ok: false, reason: `ServiceURI ${expected} is not the gateway service ${g.name}` };
    if (!check.ok) {
      // Keep the pending leaf: new roots may still make it valid.
      const msg = `consul: leaf certificate for ${g.name} rejected: ${check.reason}; keeping the previous one`;
      if (this.leafError !== msg) this.log.warn({ gateway: g.name }, msg);
      this.leafError = msg;
      this.noteError(msg);
      this.queueFlush();
      return;
    }
    this.pendingLeaf = undefined;
    this.leafError = undefined;
    const chain = [
      `${p.certPem.trim()}\n`,
      ...this.roots.activeIntermediates.filter((i) => !p.certPem.includes(i.trim())),
    ].join('');
    const serial = (() => {
      try {
        return new X509Certificate(p.certPem).serialNumber;
      } catch {
        return '';
      }
    })();
    if (this.leaf?.serial !== serial)
      this.log.info(
        { gateway: g.name, notAfter: check.notAfter?.toISOString() },
        'consul: gateway leaf certificate updated',
      );
    this.leaf = { chainPem: chain, keyPem: p.privateKeyPem, notAfter: check.notAfter, serial };
    this.queueFlush();
  }

  private async ingressOnce(index: number, loop: Loop): Promise<number | undefined> {
    const g = this.o.gateway!;
    const res = await this.get(`/v1/config/ingress-gateway/${encodeURIComponent(g.name)}`, index, loop, {}, true);
    try {
      this.ingress = res.status === 404 || res.body === undefined ? [] : parseIngressGateway(res.body);
      this.ingressBad = undefined;
    } catch (e) {
      // Keep the previous listeners; block until the entry changes instead of retrying the same bad one.
      this.ingressBad = errText(e);
      this.noteError(`consul: ingress-gateway entry ${g.name} rejected: ${this.ingressBad}`);
      this.log.warn(
        { gateway: g.name, err: this.ingressBad },
        'consul: ingress-gateway entry rejected; keeping the previous routes',
      );
    }
    this.reconcile();
    return res.index;
  }

  private async intentionsOnce(index: number, loop: Loop): Promise<number | undefined> {
    const g = this.o.gateway!;
    // Blocking on the gateway's matching intentions wakes us on any change that could flip a
    // verdict; the verdicts themselves come from /intentions/check, which applies Consul's own
    // precedence and default policy.
    const res = await this.get('/v1/connect/intentions/match', index, loop, { by: 'source', name: g.name });
    if (typeof res.body !== 'object' || res.body === null)
      throw new ConsulDataError('connect/intentions/match: expected an object');
    await this.recheckIntentions([...this.services.values()].filter((s) => s.connect).map((s) => s.name));
    this.intentionsAnswered = true;
    return res.index;
  }

  private async recheckIntentions(names: string[]): Promise<void> {
    const g = this.o.gateway;
    if (!g?.checkIntentions || names.length === 0) return;
    const gen = ++this.intentionsGen;
    await Promise.all(
      names.map((svc) =>
        this.limiter.run(async () => {
          if (this.stopped) return;
          try {
            const res = await this.http!.request('GET', '/v1/connect/intentions/check', {
              query: { source: g.name, destination: svc },
              timeoutMs: this.o.requestTimeoutMs,
              signal: this.root.signal,
            });
            const ok = parseIntentionCheck(res.body);
            if (gen < this.intentionsGen && this.allowed.has(svc)) return; // a newer check round owns this verdict
            const before = this.allowed.get(svc);
            this.allowed.set(svc, ok);
            if (!ok && before !== false) {
              this.intentionDenials++;
              this.log.warn(
                { gateway: g.name, service: svc },
                `consul: intention denies ${g.name} -> ${svc}; requests to ${svc} through the mesh will be refused`,
              );
            } else if (ok && before === false) {
              this.log.info({ gateway: g.name, service: svc }, `consul: intention now allows ${g.name} -> ${svc}`);
            }
          } catch (e) {
            this.noteError(this.redact(errText(e)));
          }
        }),
      ),
    );
    this.queueFlush();
  }

  // ---------------------------------------------------------------- services

  private desired(): Map<string, boolean> {
    const want = new Set<string>([...this.o.services, ...this.routeNeeds]);
    for (const l of this.ingress) for (const s of l.services) if (s.name !== '*') want.add(s.name);
    const gw = this.o.gateway?.name;
    if (this.catalog && (this.o.watchAll || this.o.tag)) {
      for (const [name, tags] of this.catalog) {
        if (name === gw || name === 'consul' || name.endsWith('-sidecar-proxy')) continue;
        if (this.o.watchAll || tags.includes(this.o.tag!)) want.add(name);
      }
    }
    const out = new Map<string, boolean>();
    for (const name of want) {
      const connect =
        this.o.connect === 'always'
          ? true
          : this.o.connect === 'never'
            ? false
            : !!this.catalog?.has(`${name}-sidecar-proxy`);
      out.set(name, connect);
    }
    return out;
  }

  /** Starts and stops per-service loops so exactly the needed services are watched. */
  private reconcile(): void {
    if (this.stopped || !this.dc) return;
    // In auto mode, Connect-ness comes from the catalog: wait for its first answer.
    if (this.o.connect === 'auto' && !this.catalog) return;
    const want = this.desired();
    const newConnect: string[] = [];
    for (const [name, st] of this.services) {
      if (!want.has(name) || want.get(name) !== st.connect) {
        this.stopLoop(`svc:${name}`);
        this.services.delete(name);
        this.allowed.delete(name);
      }
    }
    for (const [name, connect] of want) {
      if (this.services.has(name)) continue;
      const st = { name, connect } as ServiceState;
      st.loop = this.startLoop(`svc:${name}`, () => (index, loop) => this.serviceOnce(st, index, loop));
      this.services.set(name, st);
      if (connect) newConnect.push(name);
    }
    if (newConnect.length && this.intentionsAnswered) this.spawn(this.recheckIntentions(newConnect));
    this.queueFlush();
  }

  private async serviceOnce(st: ServiceState, index: number, loop: Loop): Promise<number | undefined> {
    const path = `/v1/health/${st.connect ? 'connect' : 'service'}/${encodeURIComponent(st.name)}`;
    const res = await this.get(path, index, loop, { passing: this.o.includeWarning ? undefined : true }).catch((e) => {
      if (e instanceof ConsulHttpError && (e.kind === 'bad-json' || e.kind === 'too-large')) st.bad = errText(e);
      throw e;
    });
    try {
      const list = parseHealthEntries(res.body, `health/${st.connect ? 'connect' : 'service'}/${st.name}`, {
        includeWarning: this.o.includeWarning,
        regionKey: this.o.regionKey,
        zoneKey: this.o.zoneKey,
        weightTagPrefix: this.o.weightTagPrefix,
        connectDestination: st.connect ? st.name : undefined,
      });
      st.endpoints = list.map((i) => i.endpoint);
      st.bad = undefined;
    } catch (e) {
      if (!(e instanceof ConsulDataError)) throw e;
      // Skip this answer for this service only; keep its last good endpoints and wait for a change.
      st.bad = e.message;
      this.noteError(`consul: service ${st.name} skipped: ${e.message}`);
      this.log.warn({ service: st.name, err: e.message }, 'consul: malformed health answer; service skipped');
    }
    return res.index;
  }

  // ---------------------------------------------------------------- model and status

  private noteError(msg: string): void {
    this.lastError = this.redact(msg);
    this.lastErrorAt = Date.now();
  }

  private setFailure(key: string, msg: string | undefined): void {
    let l = this.loops.get(key);
    if (!l && msg === undefined) return;
    if (!l) {
      // Pseudo-loop for one-shot steps (agent/self, register) so they count toward staleness.
      l = { key, abort: new AbortController(), answered: false, index: 0, requests: 0 };
      this.loops.set(key, l);
    }
    l.failure = msg === undefined ? undefined : this.redact(msg);
    if (msg === undefined) this.loops.delete(key);
    else this.noteError(msg);
    this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      if (this.stopped) return;
      this.flush();
    });
  }

  private isSynced(): boolean {
    if (!this.dc) return false;
    if (this.o.connect === 'auto' && !this.catalog) return false;
    for (const l of this.loops.values())
      if (!l.answered && (l.key.startsWith('svc:') || ['catalog', 'roots', 'ingress', 'intentions'].includes(l.key)))
        return false;
    if (this.o.gateway) {
      if (!this.leaf) return false;
      if (this.o.gateway.register && !this.registered) return false;
    }
    return true;
  }

  /** Builds the model from current state (pure with respect to I/O). */
  buildModel(): Model {
    const model: Model = { services: [], routes: [], listeners: [], identities: [], trustBundles: [] };
    const dc = this.dc;
    const protocols = new Map<string, ServiceProtocol>();
    for (const l of this.ingress) {
      if (l.protocol === 'tcp') continue;
      for (const s of l.services) protocols.set(s.name, l.protocol);
    }
    const gw = this.o.gateway;
    const idName = gw ? identityName(gw.name) : undefined;
    if (this.roots)
      model.trustBundles.push({
        name: ROOTS_BUNDLE_NAME,
        caPems: [...this.roots.rootPems],
        source: this.name,
      } satisfies TrustBundle);
    if (gw && this.leaf)
      model.identities.push({
        name: idName!,
        certChainPem: this.leaf.chainPem,
        privateKeyPem: this.leaf.keyPem,
        source: this.name,
      } satisfies Identity);
    for (const st of [...this.services.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const svc: Service = {
        name: serviceModelName(dc, st.name),
        endpoints: st.endpoints ? st.endpoints.map((e) => ({ ...e })) : [],
        source: this.name,
      };
      const proto = protocols.get(st.name);
      if (proto) svc.protocol = proto;
      if (st.connect) {
        if (!this.roots)
          svc.endpoints = []; // never send plaintext to a mesh sidecar
        else {
          const td = this.roots.trustDomainResolved;
          svc.tls = {
            sni: connectSni(st.name, this.o.namespace, dc, td, this.o.partition),
            expectedSans: [
              { kind: 'uri', value: connectSpiffeId(st.name, this.o.namespace, dc, td, this.o.partition) },
            ],
            trustBundle: ROOTS_BUNDLE_NAME,
          };
          if (gw && this.leaf) svc.tls.clientIdentity = idName;
        }
      }
      model.services.push(svc);
    }
    for (const l of [...this.ingress].sort((a, b) => a.port - b.port)) {
      if (l.protocol === 'tcp') continue; // reported in status: TCP listeners have no L7 routes in the model
      const routes: string[] = [];
      for (const s of l.services) {
        if (s.name === '*' || !this.services.has(s.name)) continue;
        const r: Route = {
          name: ingressRouteName(l.port, s.name),
          hosts: s.hosts.length ? [...s.hosts] : [`${s.name}.ingress.*`],
          match: { prefix: '/' },
          backends: [{ service: serviceModelName(dc, s.name), weight: 1 }],
          source: this.name,
        };
        if (s.requestHeadersToAdd.length) r.requestHeadersToAdd = s.requestHeadersToAdd;
        if (s.requestHeadersToRemove.length) r.requestHeadersToRemove = s.requestHeadersToRemove;
        if (s.responseHeadersToAdd.length) r.responseHeadersToAdd = s.responseHeadersToAdd;
        if (s.responseHeadersToRemove.length) r.responseHeadersToRemove = s.responseHeadersToRemove;
        model.routes.push(r);
        routes.push(r.name);
      }
      model.listeners.push({
        name: ingressListenerName(l.port),
        port: l.port,
        routes,
        source: this.name,
      } satisfies GatewayListener);
    }
    return model;
  }

  /** Current status (also what the sink last received). */
  status(): SourceStatus {
    const failures = [...this.loops.values()].filter((l) => l.failure !== undefined);
    const bad: Record<string, string> = {};
    for (const st of this.services.values()) if (st.bad) bad[st.name] = st.bad;
    const denied = [...this.allowed]
      .filter(([, ok]) => !ok)
      .map(([n]) => n)
      .sort();
    const unsupported: string[] = [];
    for (const l of this.ingress) {
      if (l.protocol === 'tcp') unsupported.push(`listener ${l.port}: tcp listeners are not routed by meshgate`);
      if (l.services.some((s) => s.name === '*'))
        unsupported.push(`listener ${l.port}: wildcard service "*" is not supported; name the services`);
    }
    const details: Record<string, unknown> = {
      address: new URL(this.o.address).origin,
      datacenter: this.dc || undefined,
      watchedServices: this.services.size,
      connectServices: [...this.services.values()]
        .filter((s) => s.connect)
        .map((s) => s.name)
        .sort(),
      deniedServices: denied,
      // The same list under the key meshgate's pipeline reads for its intention gauge.
      intentionDenied: denied,
      intentionDenialsTotal: this.intentionDenials,
      badServices: bad,
      failingWatches: failures.map((l) => l.key).sort(),
    };
    if (this.catalog) details.catalogServices = this.catalog.size;
    if (this.roots) details.trustDomain = this.roots.trustDomainResolved;
    if (this.leaf?.notAfter) details.leafNotAfter = this.leaf.notAfter.toISOString();
    if (this.leafError) details.leafError = this.leafError;
    if (this.ingressBad) details.ingressError = this.ingressBad;
    if (unsupported.length) details.unsupported = unsupported;
    if (this.services.size > 200)
      details.warning = `watching ${this.services.size} services holds as many blocking requests; Consul's http_max_conns_per_client defaults to 200`;
    const connectWithoutGateway = !this.o.gateway && [...this.services.values()].some((s) => s.connect);
    if (connectWithoutGateway)
      details.warningConnect =
        'Connect services are watched but consul.gateway is not set: no client certificate is presented, so sidecars will refuse the gateway';
    const s: SourceStatus = { name: this.name, synced: this.synced, stale: failures.length > 0, details };
    const lastError = failures[0]?.failure ?? this.lastError;
    if (lastError) {
      s.lastError = this.redact(lastError);
      s.lastErrorAt = this.lastErrorAt;
    }
    if (this.lastUpdateAt) s.lastUpdateAt = this.lastUpdateAt;
    return s;
  }

  /** Request counters per watch, for tests and the debug page. */
  requestCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.loops.values()) out[l.key] = l.requests;
    return out;
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
    if (!this.synced && this.isSynced()) {
      this.synced = true;
      this.log.info({ services: this.services.size }, 'consul: synced');
    }
    // Before the first complete view nothing is emitted: a partial model would look like lost services.
    if (this.synced) {
      const model = this.buildModel();
      const j = JSON.stringify(model);
      if (j !== this.lastModelJson) {
        this.lastModelJson = j;
        this.lastUpdateAt = Date.now();
        this.sink?.update(model);
      }
    }
    this.emitStatus();
  }
}
