// The one direction of flow: sources -> mergeModels -> translate (per profile) -> XdsCache.
// Source events are debounced; a change that touches only endpoints takes a fast path that
// re-translates just the changed services' ClusterLoadAssignments and patches them into the
// cache, so listeners, routes and clusters are not rebuilt and only EDS watchers wake
// (docs/architecture.md, rules 7 and 8). A model with problems is never published: the last good
// resources stay in service (rule 5) and the problems show on /readyz and in metrics.
// The pipeline only merges, translates and publishes: the rules a model must meet belong to the
// model and the translator, certificate readiness to cert-readiness.ts, source metrics to metrics.ts.
import { EventEmitter } from 'node:events';
import { emptyModel, mergeModels } from '@meshgate/model';
import type { MergeConflict, Model, ModelProblem, Service, Source, SourceStatus } from '@meshgate/model';
import { endpointTlsNotices, translate, translateEndpointUpdate } from '@meshgate/translator';
import type { Profile } from '@meshgate/translator';
import { Debouncer, TYPE } from '@meshgate/xds-core';
import type { PublishResult, XdsCache } from '@meshgate/xds-core';
import { CertReadiness, type CertStatus } from './cert-readiness.ts';
import type { Logger } from './logger.ts';
import { type Metrics, SourceMetrics } from './metrics.ts';

export type { CertStatus } from './cert-readiness.ts';

export interface PipelineOptions {
  sources: Source[];
  cache: XdsCache;
  profiles?: Profile[];
  debounceMs?: number;
  maxDelayMs?: number;
  logger: Logger;
  metrics?: Metrics;
  /** An identity whose certificate has less than this fraction of its lifetime left makes /readyz fail. */
  certNearExpiryFraction?: number;
  /**
   * Called with every service name that some source's routes send traffic to, whenever that set
   * changes. Runs on the source's update, before the debounce, so a source that fetches services
   * on demand (Consul's watchServices) starts the watch before its first sync when it can.
   */
  onRouteBackends?: (names: ReadonlySet<string>) => void;
}

export interface PublishedEvent {
  kind: 'full' | 'endpoints';
  /** performance.now() when the cache finished publishing. */
  at: number;
  /** Groups (profiles) with at least one changed resource. */
  groups: string[];
  /** Seconds from the first source event of the burst to the publish. */
  seconds: number;
}

/** What /readyz shows about one source. */
export interface SourceReadiness {
  synced: boolean;
  stale: boolean;
  lastError?: string;
  lastErrorAt?: string;
  lastUpdateAt?: string;
  watches?: SourceStatus['watches'];
  details?: SourceStatus['details'];
}

/** The body of /readyz besides `ready`. */
export interface ReadinessDetail {
  sources: Record<string, SourceReadiness>;
  translation: {
    ok: boolean;
    problems: readonly ModelProblem[];
    /** Served, but not as the model says for every client (e.g. endpoints gRPC clients cannot be given). */
    notices?: readonly ModelProblem[];
    lastPublishAt?: string;
  };
  cache: { ready: boolean };
  certs?: CertStatus[];
  conflicts?: readonly MergeConflict[];
}

interface PipelineEvents {
  published: [PublishedEvent];
}

/**
 * Classifies the difference between two merged models. Returns the services whose endpoints
 * changed when nothing else differs (empty when the models are equal), or undefined when any
 * other part changed and a full translation is needed.
 */
export function endpointOnlyChanges(prev: Model, next: Model): readonly Service[] | undefined {
  // The TLS profiles in use stay in: a gRPC client's cluster takes its one TLS setting from them (grpcTlsPlan).
  const strip = (m: Model) =>
    JSON.stringify({
      ...m,
      services: m.services.map((s) => ({
        ...s,
        endpoints: s.endpointTls ? [...new Set(s.endpoints.map((e) => e.tlsProfile ?? ''))].sort() : [],
      })),
    });
  if (prev.services.length !== next.services.length || strip(prev) !== strip(next)) return undefined;
  const changed: Service[] = [];
  for (let i = 0; i < next.services.length; i++) {
    if (JSON.stringify(prev.services[i].endpoints) !== JSON.stringify(next.services[i].endpoints))
      changed.push(next.services[i]);
  }
  return changed;
}

export class Pipeline extends EventEmitter<PipelineEvents> {
  readonly profiles: Profile[];
  private readonly sources: Source[];
  private readonly cache: XdsCache;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly sourceMetrics: SourceMetrics | undefined;
  private readonly debouncer: Debouncer;
  private readonly certs: CertReadiness;
  private readonly parts = new Map<string, Model>();
  private readonly statuses = new Map<string, SourceStatus>();
  private readonly startErrors = new Map<string, string>();
  private readonly onRouteBackends: ((names: ReadonlySet<string>) => void) | undefined;
  /** Per source: the backend names of its routes (recomputed only for the source that changed). */
  private readonly backendsBySource = new Map<string, Set<string>>();
  private backendsKey = '';
  private lastGood: Model | undefined;
  private problems: readonly ModelProblem[] = [];
  private notices: readonly ModelProblem[] = [];
  private conflicts: readonly MergeConflict[] = [];
  private burstStart: number | undefined;
  private lastPublishAt: number | undefined;
  private stopped = false;

  constructor(o: PipelineOptions) {
    super();
    const names = new Set<string>();
    for (const s of o.sources) {
      if (names.has(s.name))
        throw new Error(`two sources are named ${JSON.stringify(s.name)}; source names must be unique`);
      names.add(s.name);
    }
    this.sources = o.sources;
    this.cache = o.cache;
    this.profiles = o.profiles ?? ['envoy', 'grpc'];
    this.log = o.logger;
    this.metrics = o.metrics;
    this.sourceMetrics = o.metrics ? new SourceMetrics(o.metrics) : undefined;
    this.certs = new CertReadiness({
      nearExpiryFraction: o.certNearExpiryFraction ?? 0.1,
      log: this.log,
      metrics: o.metrics,
    });
    this.onRouteBackends = o.onRouteBackends;
    this.debouncer = new Debouncer(
      {
        quietMs: o.debounceMs ?? 100,
        maxDelayMs: Math.max(o.maxDelayMs ?? 1000, o.debounceMs ?? 100),
        onError: (err) => this.log.error({ err }, 'pipeline run failed'),
      },
      () => this.run(),
    );
    for (const s of this.sources) {
      this.statuses.set(s.name, { name: s.name, synced: false, stale: false });
      this.sourceMetrics?.init(s.name);
    }
  }

  /** Starts every source. A source that fails to start is reported on /readyz, not thrown. */
  async start(): Promise<void> {
    if (this.sources.length === 0) this.debouncer.trigger();
    await Promise.all(
      this.sources.map(async (source) => {
        const log = this.log.child({ source: source.name });
        try {
          await source.start({
            update: (model) => this.onUpdate(source.name, model),
            status: (status) => this.onStatus(source.name, status, log),
          });
        } catch (err) {
          const msg = (err as Error).message;
          this.startErrors.set(source.name, msg);
          this.metrics?.reloadErrors.inc({ source: source.name });
          log.error({ err: msg }, 'source failed to start');
        }
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.debouncer.close();
    await Promise.allSettled(this.sources.map((s) => s.stop()));
  }

  /** Resolves when no debounced run is pending or running (for tests and orderly shutdown). */
  idle(): Promise<void> {
    return this.debouncer.idle();
  }

  private onUpdate(name: string, model: Model): void {
    if (this.stopped) return;
    this.parts.set(name, model);
    if (this.onRouteBackends) this.routeBackends(name, model);
    this.burstStart ??= performance.now();
    this.debouncer.trigger();
  }

  private routeBackends(name: string, model: Model): void {
    this.backendsBySource.set(name, new Set(model.routes.flatMap((r) => r.backends.map((b) => b.service))));
    const all = new Set<string>();
    for (const set of this.backendsBySource.values()) for (const n of set) all.add(n);
    const key = [...all].sort().join('\n');
    if (key === this.backendsKey) return;
    this.backendsKey = key;
    try {
      this.onRouteBackends!(all);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'telling sources which services routes need failed');
    }
  }

  private onStatus(name: string, status: SourceStatus, log: Logger): void {
    const prev = this.statuses.get(name);
    this.statuses.set(name, { ...status, name });
    if (status.lastError && status.lastErrorAt !== prev?.lastErrorAt) {
      this.metrics?.reloadErrors.inc({ source: name });
      log.warn(
        { error: status.lastError, stale: status.stale },
        'source reported an error; serving its last good view',
      );
    } else if (prev?.stale && !status.stale) log.info('source recovered');
    this.sourceMetrics?.apply(name, status);
    if (status.synced && !prev?.synced) {
      log.info('source synced');
      this.debouncer.trigger();
    }
  }

  get allSynced(): boolean {
    return [...this.statuses.values()].every((s) => s.synced);
  }

  private run(): void {
    if (this.stopped) return;
    // Nothing is published before every source has a complete first view (docs/architecture.md, rule 5).
    if (!this.allSynced) return;
    const started = this.burstStart ?? performance.now();
    this.burstStart = undefined;
    const parts = this.sources
      .filter((s) => this.parts.has(s.name))
      .map((s) => ({ source: s.name, model: this.parts.get(s.name)! }));
    const { model, conflicts } = parts.length ? mergeModels(parts) : { model: emptyModel(), conflicts: [] };
    if (conflicts.length && JSON.stringify(conflicts) !== JSON.stringify(this.conflicts))
      this.log.warn({ conflicts }, 'sources define the same names; the earlier source wins');
    this.conflicts = conflicts;

    const changedServices = this.lastGood ? endpointOnlyChanges(this.lastGood, model) : undefined;
    if (changedServices && this.problems.length === 0) {
      if (changedServices.length === 0) {
        if (!this.cache.ready) this.markReady();
        return;
      }
      this.publishEndpoints(model, changedServices, started);
    } else this.publishFull(model, started);
  }

  private publishFull(model: Model, started: number): void {
    const sets = new Map<Profile, ReturnType<typeof translate>['resources']>();
    const problems: ModelProblem[] = [];
    for (const p of this.profiles) {
      const r = translate(model, p);
      for (const pr of r.problems)
        if (!problems.some((x) => x.path === pr.path && x.message === pr.message)) problems.push(pr);
      sets.set(p, r.resources);
    }
    if (problems.length) return this.reject(problems);
    const results: [string, PublishResult][] = this.profiles.map((p) => [p, this.cache.publish(p, sets.get(p)!)]);
    this.accept(model);
    this.metrics?.publishes.inc({ kind: 'full' });
    this.finish('full', results, started);
  }

  private publishEndpoints(model: Model, services: readonly Service[], started: number): void {
    // The translator holds the fast path to the rules translate() applies, so a bad address never
    // reaches clients this way either (they would NACK the assignment).
    const sets = new Map<Profile, Map<string, object>>();
    for (const p of this.profiles) {
      const r = translateEndpointUpdate(model, services, p);
      if (r.problems.length) return this.reject(r.problems);
      sets.set(p, r.assignments);
    }
    const results: [string, PublishResult][] = this.profiles.map((p) => [
      p,
      this.cache.patch(p, TYPE.endpoint, sets.get(p)!),
    ]);
    this.accept(model);
    this.metrics?.publishes.inc({ kind: 'endpoints' });
    this.finish('endpoints', results, started);
  }

  private reject(problems: readonly ModelProblem[]): void {
    const fresh = JSON.stringify(problems) !== JSON.stringify(this.problems);
    this.problems = problems;
    this.metrics?.translationProblems.set({}, problems.length);
    // One readable line per problem naming the item and the source it came from, e.g. a route
    // from the file whose backend no source defines.
    if (fresh)
      this.log.error(
        { problems: problems.map((p) => `${p.path}${p.source ? ` (from source ${p.source})` : ''}: ${p.message}`) },
        `configuration has ${problems.length} problem(s); keeping the last good resources`,
      );
  }

  private accept(model: Model): void {
    if (this.problems.length) this.log.info('configuration problems resolved');
    this.problems = [];
    this.metrics?.translationProblems.set({}, 0);
    this.lastGood = model;
    this.certs.update(model.identities);
    const notices = this.profiles.includes('grpc') ? endpointTlsNotices(model) : [];
    if (JSON.stringify(notices) !== JSON.stringify(this.notices) && notices.length)
      this.log.warn({ notices: notices.map((n) => `${n.path}: ${n.message}`) }, 'served with notices');
    this.notices = notices;
  }

  private finish(kind: 'full' | 'endpoints', results: [string, PublishResult][], started: number): void {
    if (!this.cache.ready) this.markReady();
    const at = performance.now();
    this.lastPublishAt = Date.now();
    const groups = results.filter(([, r]) => r.changes.length > 0).map(([g]) => g);
    const seconds = (at - started) / 1000;
    if (groups.length) {
      this.metrics?.convergence.observe({ stage: 'publish' }, seconds);
      this.log.info(
        {
          kind,
          groups,
          changes: Object.fromEntries(
            results.map(([g, r]) => [
              g,
              r.changes.map((c) => ({
                type: c.typeUrl.slice(c.typeUrl.lastIndexOf('.') + 1),
                changed: c.changed.length,
                removed: c.removed.length,
              })),
            ]),
          ),
          ms: Math.round(seconds * 1000),
        },
        'published',
      );
    }
    this.emit('published', { kind, at, groups, seconds });
  }

  private markReady(): void {
    this.cache.markReady();
    this.log.info('all sources synced; serving xDS');
  }

  /** Readiness and its detail for /readyz. */
  readiness(): { ready: boolean; detail: ReadinessDetail } {
    // Near-expiry is a time comparison against values computed when the certificate changed, so
    // a certificate nearing expiry still flips readiness without an event.
    const certs = this.certs.status();
    const sources: Record<string, SourceReadiness> = {};
    for (const [name, s] of this.statuses) {
      const startError = this.startErrors.get(name);
      sources[name] = {
        synced: s.synced,
        stale: s.stale,
        ...(s.lastError || startError ? { lastError: s.lastError ?? startError } : {}),
        ...(s.lastErrorAt ? { lastErrorAt: new Date(s.lastErrorAt).toISOString() } : {}),
        ...(s.lastUpdateAt ? { lastUpdateAt: new Date(s.lastUpdateAt).toISOString() } : {}),
        ...(s.watches ? { watches: s.watches } : {}),
        ...(s.details ? { details: s.details } : {}),
      };
    }
    const synced = this.allSynced;
    // A stale source means the running config no longer matches what the operator wrote.
    const fresh = [...this.statuses.values()].every((s) => !s.stale) && this.startErrors.size === 0;
    const translationOk = this.problems.length === 0 && this.lastGood !== undefined;
    const certsOk = certs.every((c) => !c.nearExpiry);
    const detail: ReadinessDetail = {
      sources,
      translation: {
        ok: translationOk,
        problems: this.problems,
        ...(this.notices.length ? { notices: this.notices } : {}),
        ...(this.lastPublishAt ? { lastPublishAt: new Date(this.lastPublishAt).toISOString() } : {}),
      },
      cache: { ready: this.cache.ready },
      ...(certs.length ? { certs } : {}),
      ...(this.conflicts.length ? { conflicts: this.conflicts } : {}),
    };
    return { ready: synced && fresh && translationOk && this.cache.ready && certsOk, detail };
  }

  /** The model last published (for status pages and tests). */
  get model(): Model | undefined {
    return this.lastGood;
  }
}
