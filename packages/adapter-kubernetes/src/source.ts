// KubernetesSource: watchers (one Reflector per resource and namespace) fill the typed state;
// one coalesced flush builds the model from it (only the Services that changed are rebuilt),
// hands it to the pipeline when it changed, and, on the elected leader, writes Gateway API status.
import { readFileSync } from 'node:fs';
import { summarizeWatches } from '@meshgate/model';
import type { Model, Source, SourceSink, SourceStatus } from '@meshgate/model';
import { ServiceModelCache } from './build.ts';
import type { BuildOptions } from './build.ts';
import type { KubeLogger, KubernetesSourceOptions } from './config.ts';
import { DEFAULT_CONTROLLER } from './gateway.ts';
import type { DesiredStatus } from './gateway.ts';
import type { KubeClient, KubeObject } from './kube.ts';
import { LeaderElector } from './leader.ts';
import { Reflector } from './reflector.ts';
import { serviceAccountsOf } from './services.ts';
import {
  emptyState,
  keyOf,
  toGw,
  toMeshConfigMap,
  toMeshSecret,
  toPod,
  toSecret,
  toService,
  toSlice,
} from './state.ts';
import type { KubeState, SliceInfo } from './state.ts';
import { StatusWriter } from './status.ts';

const silent: KubeLogger = { debug() {}, info() {}, warn() {}, error() {} };
const GW = '/apis/gateway.networking.k8s.io/v1';

type StoreName = Exclude<keyof KubeState, never>;

interface ResourceSpec {
  store: StoreName;
  /** Collection path for a namespace, or cluster-wide when ns is undefined. */
  path: (ns?: string) => string;
  clusterScoped?: boolean;
  optional?: boolean;
  fieldSelector?: string;
  // biome-ignore lint/suspicious/noExplicitAny: converters return the store's record type
  convert: (o: KubeObject) => any;
}

const nsPath = (group: string, plural: string) => (ns?: string) =>
  ns ? `${group}/namespaces/${ns}/${plural}` : `${group}/${plural}`;

export const RESOURCES: Record<string, ResourceSpec> = {
  services: { store: 'services', path: nsPath('/api/v1', 'services'), convert: toService },
  endpointslices: {
    store: 'slices',
    path: nsPath('/apis/discovery.k8s.io/v1', 'endpointslices'),
    convert: toSlice,
  },
  pods: { store: 'pods', path: nsPath('/api/v1', 'pods'), convert: toPod },
  namespaces: {
    store: 'namespaces',
    path: () => '/api/v1/namespaces',
    clusterScoped: true,
    convert: (o) => o.metadata.labels ?? {},
  },
  gatewayclasses: {
    store: 'gatewayClasses',
    path: () => `${GW}/gatewayclasses`,
    clusterScoped: true,
    optional: true,
    convert: toGw,
  },
  gateways: { store: 'gateways', path: nsPath(GW, 'gateways'), optional: true, convert: toGw },
  httproutes: { store: 'httpRoutes', path: nsPath(GW, 'httproutes'), optional: true, convert: toGw },
  grpcroutes: { store: 'grpcRoutes', path: nsPath(GW, 'grpcroutes'), optional: true, convert: toGw },
  referencegrants: { store: 'referenceGrants', path: nsPath(GW, 'referencegrants'), optional: true, convert: toGw },
  // Istio policy, read by the Istio mesh hook: cluster-wide, since the mesh-wide policy lives in Istio's root namespace.
  peerauthentications: {
    store: 'peerAuthentications',
    path: nsPath('/apis/security.istio.io/v1', 'peerauthentications'),
    clusterScoped: true,
    optional: true,
    convert: toGw,
  },
  destinationrules: {
    store: 'destinationRules',
    path: nsPath('/apis/networking.istio.io/v1', 'destinationrules'),
    clusterScoped: true,
    optional: true,
    convert: toGw,
  },
  // Secrets a mesh hook names (Istio's credentialName, which may be Opaque), in the namespaces it asks for only.
  meshsecrets: { store: 'meshSecrets', path: nsPath('/api/v1', 'secrets'), convert: toMeshSecret },
  // ConfigMaps a mesh hook names (Istio's mesh config), watched by name in one namespace.
  meshconfigmaps: { store: 'meshConfigMaps', path: nsPath('/api/v1', 'configmaps'), convert: toMeshConfigMap },
  // Only TLS Secrets, the kind certificateRefs name; their keys never leave the process except over SDS.
  secrets: {
    store: 'secrets',
    path: nsPath('/api/v1', 'secrets'),
    fieldSelector: 'type=kubernetes.io/tls',
    convert: toSecret,
  },
};

interface Watcher {
  resource: string;
  namespace?: string;
  /** One object only (a mesh hook's watch by name). */
  name?: string;
  reflector: Reflector;
  failure?: string;
}

export class KubernetesSource implements Source {
  readonly name: string;
  readonly state: KubeState = emptyState();
  private readonly o: KubernetesSourceOptions;
  private readonly log: KubeLogger;
  private readonly build: BuildOptions;
  private readonly cache: ServiceModelCache;
  private client: KubeClient | undefined;
  private sink: SourceSink | undefined;
  private watchers: Watcher[] = [];
  private dirty = new Set<string>();
  private allDirty = true;
  private flushQueued = false;
  private synced = false;
  private lastGatewayJson = '';
  private lastStatusJson = '';
  private statuses: DesiredStatus[] = [];
  private lastError: { message: string; at: number } | undefined;
  private elector: LeaderElector | undefined;
  private writer: StatusWriter | undefined;
  private isLeader = false;
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;
  private model: Model | undefined;
  private meshConditions: string[] = [];

  constructor(o: KubernetesSourceOptions) {
    this.o = o;
    this.name = o.name ?? 'kubernetes';
    this.log = o.logger ?? silent;
    const ns = o.namespaces;
    const inScope: (n: string) => boolean =
      ns && 'names' in ns
        ? (n) => ns.names.includes(n)
        : ns && 'selector' in ns
          ? (n) => this.state.namespaces.has(n)
          : () => true;
    this.build = {
      source: this.name,
      inScope,
      gatewayApi: o.gatewayApi ?? true,
      controllerName: o.controllerName ?? DEFAULT_CONTROLLER,
      ...(o.clusterDomain ? { clusterDomain: o.clusterDomain } : {}),
      ...(o.linkerdIngress ? { linkerdIngress: true } : {}),
      ...(o.mesh ? { mesh: o.mesh } : {}),
    };
    this.cache = new ServiceModelCache(this.build);
  }

  /** Whether this replica currently writes Gateway API status. */
  get leader(): boolean {
    return this.isLeader;
  }

  /** Service accounts behind a Service's endpoints (needs `pods: true`). */
  serviceAccounts(namespace: string, service: string): string[] {
    return serviceAccountsOf(this.state, namespace, service);
  }

  /** The statuses meshgate wants on Gateway API objects right now (for tests and /debug). */
  desiredStatuses(): DesiredStatus[] {
    return this.statuses;
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    // Loaded here, not at import: the client library takes ~1.5 s to load and meshgate
    // imports this package even when no kubernetes section is configured.
    const kube = await import('./kube.ts');
    const creds = this.o.kubeconfig
      ? { kubeconfig: this.o.kubeconfig, ...(this.o.context ? { context: this.o.context } : {}) }
      : { inCluster: true as const };
    this.client = kube.createKubeClient(kube.loadKubeConfig(creds));
    this.log.info(
      { server: this.client.server, namespaces: this.o.namespaces ?? 'all' },
      'watching the Kubernetes API',
    );

    const wanted = ['services', 'endpointslices'];
    const ns = this.o.namespaces;
    if (!(ns && 'names' in ns)) wanted.push('namespaces');
    if (this.o.pods || this.o.mesh) wanted.push('pods');
    for (const r of this.o.mesh?.resources ?? []) if (!wanted.includes(r)) wanted.push(r);
    if (this.build.gatewayApi) wanted.push('gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants');
    for (const r of wanted) {
      const spec = RESOURCES[r];
      const scopes: (string | undefined)[] = spec.clusterScoped || !(ns && 'names' in ns) ? [undefined] : ns.names;
      for (const n of scopes) this.watchers.push(this.watcher(r, spec, n));
    }
    // Secrets only where the operator allows them (the chart grants read access just there).
    if (this.build.gatewayApi) {
      const sn = this.o.secretNamespaces;
      const scopes: (string | undefined)[] = sn ? sn : ns && 'names' in ns ? ns.names : [undefined];
      for (const n of scopes) this.watchers.push(this.watcher('secrets', RESOURCES.secrets, n));
    }
    for (const w of this.watchers) w.reflector.start();
    this.o.mesh?.subscribe?.((keys) => {
      for (const k of keys) this.dirty.add(k);
      this.queueFlush();
    });

    const writeStatus = this.build.gatewayApi && (this.o.writeStatus ?? true);
    if (writeStatus) {
      this.writer = new StatusWriter(this.client, this.build.controllerName!, this.log);
      const le = this.o.leaderElection ?? {};
      if (le.enabled === false) this.setLeader(true);
      else {
        this.elector = new LeaderElector(
          this.client,
          {
            namespace: le.namespace ?? process.env.POD_NAMESPACE ?? inClusterNamespace() ?? 'default',
            name: le.leaseName ?? 'meshgate-leader',
            ...(le.identity ? { identity: le.identity } : {}),
            ...(le.leaseSeconds ? { leaseSeconds: le.leaseSeconds } : {}),
          },
          (leader) => this.setLeader(leader),
          (err) => this.log.debug({ err: err.message }, 'leader election round failed'),
        );
        this.elector.start();
      }
      // Status writes that failed (API server away) are retried even when nothing else changes.
      this.resync = setInterval(() => this.reconcileStatus(), 30_000);
      this.resync.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    await Promise.all(this.watchers.map((w) => w.reflector.stop()));
    this.o.mesh?.stop?.();
    await this.elector?.stop();
  }

  private setLeader(leader: boolean): void {
    this.isLeader = leader;
    this.log.info(
      { identity: this.elector?.identity },
      leader ? 'elected leader: writing Gateway API status' : 'not the leader: leaving status to the leader',
    );
    if (leader) {
      this.writer?.reset();
      this.reconcileStatus();
    }
    this.emitStatus();
  }

  private reconcileStatus(): void {
    if (!this.isLeader || !this.writer || !this.synced || this.stopped) return;
    this.writer.reconcile(() => ({ state: this.state, desired: this.statuses }));
  }

  private watcher(resource: string, spec: ResourceSpec, namespace: string | undefined, name?: string): Watcher {
    // biome-ignore lint/suspicious/noExplicitAny: each store holds its own record type
    const store = this.state[spec.store] as Map<string, any>;
    const w: Watcher = {
      resource,
      ...(namespace ? { namespace } : {}),
      ...(name ? { name } : {}),
      reflector: undefined as unknown as Reflector,
    };
    const label = `${name ? `${resource} ${name}` : resource}${namespace ? ` in ${namespace}` : ''}`;
    // By name, the RBAC grant can name the object too (resourceNames applies to a list by metadata.name).
    const fieldSelector = [spec.fieldSelector, name ? `metadata.name=${name}` : undefined].filter(Boolean).join(',');
    const ns = this.o.namespaces;
    w.reflector = new Reflector(
      this.client!,
      {
        path: spec.path(namespace),
        ...(fieldSelector ? { fieldSelector } : {}),
        ...(resource === 'namespaces' && ns && 'selector' in ns ? { labelSelector: ns.selector } : {}),
        ...(spec.optional ? { optional: true } : {}),
        ...(this.o.backoff ? { backoff: this.o.backoff } : {}),
      },
      {
        replace: (items) => {
          // Swapped in one step once the complete list is in: nothing is dropped in between.
          for (const k of [...store.keys()])
            if (name ? k === `${namespace}/${name}` : !namespace || k.startsWith(`${namespace}/`)) store.delete(k);
          for (const it of items) store.set(keyOf(it), spec.convert(it));
          if (spec.store === 'slices') this.cache.resetSlices(this.state.slices.values());
          this.allDirty = true;
          this.queueFlush();
        },
        upsert: (obj) => {
          const key = keyOf(obj);
          const rec = spec.convert(obj);
          // Most pod events are status changes; the record keeps only the service account and labels, so an
          // unchanged record changes nothing a mesh hook reads and costs no rebuild.
          if (spec.store === 'pods' && JSON.stringify(store.get(key)) === JSON.stringify(rec)) return;
          if (spec.store === 'slices') {
            const prev = store.get(key) as SliceInfo | undefined;
            if (prev) {
              this.cache.sliceDelete(prev);
              this.dirty.add(`${prev.namespace}/${prev.service}`);
            }
            if (rec.service) this.cache.sliceSet(rec);
            this.dirty.add(`${rec.namespace}/${rec.service}`);
          } else if (spec.store === 'services') this.dirty.add(key);
          else if (spec.store === 'pods') this.podChanged(key);
          else if (spec.store === 'namespaces' || this.meshReads(spec.store)) this.allDirty = true;
          store.set(key, rec);
          if (spec.store !== 'pods' || this.o.mesh) this.queueFlush();
        },
        remove: (obj) => {
          const key = keyOf(obj);
          const prev = store.get(key);
          store.delete(key);
          if (spec.store === 'slices' && prev) {
            this.cache.sliceDelete(prev);
            this.dirty.add(`${prev.namespace}/${prev.service}`);
          } else if (spec.store === 'services') this.dirty.add(key);
          else if (spec.store === 'pods') this.podChanged(key);
          else if (spec.store === 'namespaces' || this.meshReads(spec.store)) this.allDirty = true;
          if (spec.store !== 'pods' || this.o.mesh) this.queueFlush();
        },
        error: (err) => {
          const first = !w.failure;
          w.failure = err.message;
          // A watch started later (a mesh hook's) holds the build until it lists or fails: go on without it.
          if (first && this.synced) this.queueFlush();
          this.lastError = { message: `${label}: ${err.message}`, at: Date.now() };
          if (first)
            this.log.warn(
              { resource: label, err: err.message },
              'Kubernetes API error; keeping the last view and retrying',
            );
          this.emitStatus();
        },
        recovered: () => {
          w.failure = undefined;
          this.log.info({ resource: label }, 'Kubernetes watch recovered');
          this.emitStatus();
        },
      },
    );
    return w;
  }

  /** A pod's labels or ServiceAccount reach a mesh hook only through the Services whose slices name it. */
  private podChanged(podKey: string): void {
    if (!this.o.mesh) return;
    for (const k of this.cache.servicesOfPod(podKey)) this.dirty.add(k);
  }

  /**
   * Policy objects change what a mesh hook makes of any Service (a PeerAuthentication's selector, a mesh-wide
   * DestinationRule), so with a hook they rebuild all Services: simple and correct; the per-Service memo still drops
   * the ones that did not change.
   */
  private meshReads(store: StoreName): boolean {
    return (
      !!this.o.mesh &&
      (store === 'peerAuthentications' ||
        store === 'destinationRules' ||
        store === 'meshSecrets' ||
        store === 'meshConfigMaps')
    );
  }

  private queueFlush(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /**
   * Starts the namespaced watches the mesh hook asks for now. True while one of them has neither listed nor failed:
   * the build waits for it, so a Secret that exists is never reported missing in between.
   */
  private meshWatches(): boolean {
    for (const want of this.o.mesh?.watches?.(this.state) ?? []) {
      const spec = RESOURCES[want.resource];
      const same = (w: Watcher) =>
        w.resource === want.resource && w.namespace === want.namespace && w.name === want.name;
      if (!spec || this.watchers.some(same)) continue;
      const w = this.watcher(want.resource, spec, want.namespace, want.name);
      this.watchers.push(w);
      this.log.info({ resource: want.resource, namespace: want.namespace, name: want.name }, 'watching for the mesh');
      w.reflector.start();
    }
    return this.watchers.some((w) => w.reflector.lists === 0 && !w.failure);
  }

  private flush(): void {
    if (this.stopped || !this.sink) return;
    if (!this.synced) {
      if (!this.watchers.every((w) => w.reflector.lists > 0)) return;
      this.synced = true;
      this.log.info(
        { services: this.state.services.size, endpointSlices: this.state.slices.size },
        'Kubernetes source synced',
      );
    }
    if (this.meshWatches()) return;
    const dirty = this.allDirty ? 'all' : this.dirty;
    const { model, gateway, servicesChanged } = this.cache.build(this.state, dirty);
    const conditions = [...(this.o.mesh?.conditions?.(this.state) ?? []), ...this.cache.conditions()];
    if (JSON.stringify(conditions) !== JSON.stringify(this.meshConditions) && conditions.length)
      this.log.warn({ conditions }, 'mesh policy the gateway cannot honour as written');
    this.meshConditions = conditions;
    this.allDirty = false;
    this.dirty = new Set();
    this.statuses = gateway.statuses;
    // Compared per part: a whole-model JSON of 100,000 endpoints would cost more than the change itself.
    const gwJson = JSON.stringify([gateway.routes, gateway.listeners, model.identities, model.trustBundles]);
    const changed = servicesChanged || gwJson !== this.lastGatewayJson;
    this.lastGatewayJson = gwJson;
    if (changed || !this.model) {
      this.model = model;
      this.sink.update(model);
    }
    this.emitStatus();
    this.reconcileStatus();
  }

  private emitStatus(): void {
    if (!this.sink) return;
    const failing = this.watchers.filter((w) => w.failure);
    const label = (w: Watcher) =>
      `${w.name ? `${w.resource} ${w.name}` : w.resource}${w.namespace ? ` in ${w.namespace}` : ''}`;
    const s: SourceStatus = {
      name: this.name,
      synced: this.synced,
      stale: failing.length > 0,
      watches: summarizeWatches(
        this.watchers.map(
          (w) => [label(w), { synced: w.reflector.lists > 0, ...(w.failure ? { failure: w.failure } : {}) }] as const,
        ),
      ),
      ...(failing.length && this.lastError
        ? { lastError: this.lastError.message, lastErrorAt: this.lastError.at }
        : {}),
      details: {
        server: this.client?.server,
        services: this.state.services.size,
        endpointSlices: this.state.slices.size,
        modelServices: this.model?.services.length ?? 0,
        routes: this.model?.routes.length ?? 0,
        ...(this.writer ? { leader: this.isLeader, statusWrites: this.writer.writes } : {}),
        ...(this.meshConditions.length ? { meshConditions: this.meshConditions } : {}),
        relists: this.watchers.reduce((n, w) => n + Math.max(0, w.reflector.lists - 1), 0),
      },
    };
    const json = JSON.stringify(s);
    if (json === this.lastStatusJson) return;
    this.lastStatusJson = json;
    this.sink.status(s);
  }
}

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
