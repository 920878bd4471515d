// buildModel(state): the whole partial model of the Kubernetes source from its typed state. Pure.
// ServiceModelCache lets the source rebuild only the Services whose objects or slices changed;
// its output equals buildModel's.
import type { Model, Route, Service } from '@meshgate/model';
import { buildGatewayApi, DEFAULT_CONTROLLER } from './gateway.ts';
import type { GatewayBuild } from './gateway.ts';
import type { ServiceMeshHook } from './config.ts';
import { serviceHostname, serviceModels, slicesByService } from './services.ts';
import type { KubeState, ServiceInfo, SliceInfo } from './state.ts';

export interface BuildOptions {
  source: string;
  /** Cluster DNS domain of the Service hostnames routes are made for. Default 'cluster.local'. */
  clusterDomain?: string;
  inScope: (namespace: string) => boolean;
  gatewayApi: boolean;
  controllerName?: string;
  /** Linkerd's injected-ingress mode (see serviceModels). */
  linkerdIngress?: boolean;
  mesh?: ServiceMeshHook;
}

/** serviceModels() with the mesh hook's say on each port's model. */
function meshModels(
  svc: ServiceInfo,
  slices: Iterable<SliceInfo>,
  state: KubeState,
  o: BuildOptions,
): { services: Service[]; conditions: string[] } {
  const list = [...slices];
  const services = serviceModels(svc, list, o.source, ingressOf(o));
  if (!o.mesh) return { services, conditions: [] };
  const conditions: string[] = [];
  const out = services.map((m) => {
    const portNumber = Number(m.name.slice(m.name.lastIndexOf('/') + 1));
    const port = svc.ports.find((p) => p.port === portNumber && p.protocol === 'TCP');
    if (!port) return m;
    const r = o.mesh!.apply(svc, port, m, list, state);
    conditions.push(...r.conditions);
    return r.service;
  });
  return { services: out, conditions };
}

const ingressOf = (o: BuildOptions) => (o.linkerdIngress ? { clusterDomain: o.clusterDomain } : undefined);

export function buildModel(state: KubeState, o: BuildOptions): { model: Model; gateway: GatewayBuild } {
  const bySvc = slicesByService(state);
  const services: Service[] = [];
  const conds = new Map<string, string[]>();
  for (const [key, svc] of state.services)
    if (o.inScope(svc.namespace)) {
      const built = meshModels(svc, bySvc.get(key) ?? [], state, o);
      services.push(...built.services);
      if (built.conditions.length) conds.set(key, built.conditions);
    }
  return assemble(services, state, o, (k) => conds.get(k));
}

function assemble(
  services: Service[],
  state: KubeState,
  o: BuildOptions,
  meshConditions?: (serviceKey: string) => readonly string[] | undefined,
): { model: Model; gateway: GatewayBuild } {
  const gateway = o.gatewayApi
    ? buildGatewayApi(state, {
        controllerName: o.controllerName ?? DEFAULT_CONTROLLER,
        inScope: o.inScope,
        source: o.source,
        ...(meshConditions ? { meshConditions } : {}),
        ...(o.linkerdIngress ? { linkerdIngress: true } : {}),
      })
    : { routes: [], listeners: [], identities: [], statuses: [] };
  services.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const extra = o.mesh?.model?.(state);
  // One route per Service port under its in-cluster DNS name, so `xds:///cart.shop.svc.cluster.local:8080`
  // reaches it (the gRPC dial target; Envoy listeners never name these routes).
  const dnsRoutes: Route[] = services.map((s) => {
    const [, ns, svc, port] = s.name.split('/');
    return {
      name: `${s.name}/dns`,
      hosts: [serviceHostname(ns, svc, Number(port), o.clusterDomain)],
      match: { prefix: '/' },
      backends: [{ service: s.name, weight: 1 }],
      source: o.source,
    };
  });
  return {
    model: {
      services,
      routes: [...dnsRoutes, ...gateway.routes],
      listeners: gateway.listeners,
      identities: [...gateway.identities, ...(extra?.identities ?? [])],
      trustBundles: [...(extra?.trustBundles ?? [])],
    },
    gateway,
  };
}

/** Per-Service memo of serviceModels(); `dirty` names the `namespace/name` keys to redo. */
export class ServiceModelCache {
  private readonly byKey = new Map<string, Service[]>();
  /** The JSON of each Service's models, to tell a real change from an event that changed nothing meshgate uses. */
  private readonly json = new Map<string, string>();
  /** Slice keys per Service key, maintained from slice events. */
  private readonly slices = new Map<string, Map<string, SliceInfo>>();
  /** The Services whose slices name a pod (`ns/pod` -> slice key -> Service key), so a pod event rebuilds only those. */
  private readonly podServices = new Map<string, Map<string, string>>();

  /** The mesh hook's conditions per Service key. */
  private readonly conds = new Map<string, string[]>();

  private readonly o: BuildOptions;

  constructor(o: BuildOptions) {
    this.o = o;
  }

  /** The mesh hook's conditions of the last build, sorted. */
  conditions(): string[] {
    return [...this.conds.values()].flat().sort();
  }

  sliceSet(s: SliceInfo): void {
    const k = `${s.namespace}/${s.service}`;
    const sliceKey = `${s.namespace}/${s.name}`;
    let m = this.slices.get(k);
    if (!m) this.slices.set(k, (m = new Map()));
    m.set(sliceKey, s);
    for (const e of s.endpoints) {
      if (!e.pod) continue;
      const podKey = `${s.namespace}/${e.pod}`;
      let owners = this.podServices.get(podKey);
      if (!owners) this.podServices.set(podKey, (owners = new Map()));
      owners.set(sliceKey, k);
    }
  }

  sliceDelete(s: SliceInfo): void {
    const k = `${s.namespace}/${s.service}`;
    const sliceKey = `${s.namespace}/${s.name}`;
    const m = this.slices.get(k);
    m?.delete(sliceKey);
    if (m && m.size === 0) this.slices.delete(k);
    for (const e of s.endpoints) {
      if (!e.pod) continue;
      const podKey = `${s.namespace}/${e.pod}`;
      const owners = this.podServices.get(podKey);
      owners?.delete(sliceKey);
      if (owners && owners.size === 0) this.podServices.delete(podKey);
    }
  }

  /** Rebuilds the slice index from scratch (after a relist of slices). */
  resetSlices(all: Iterable<SliceInfo>): void {
    this.slices.clear();
    this.podServices.clear();
    for (const s of all) if (s.service) this.sliceSet(s);
  }

  /** Keys of the Services whose EndpointSlices name the pod `ns/name`: the only ones a change of that pod can touch. */
  servicesOfPod(podKey: string): Iterable<string> {
    return new Set(this.podServices.get(podKey)?.values());
  }

  /** `servicesChanged`: whether any model service differs from the previous build's. */
  build(
    state: KubeState,
    dirty: Set<string> | 'all',
  ): { model: Model; gateway: GatewayBuild; servicesChanged: boolean } {
    let changed = false;
    if (dirty === 'all') {
      for (const k of this.byKey.keys()) if (!state.services.has(k)) changed = true;
      this.byKey.clear();
    }
    const keys = dirty === 'all' ? state.services.keys() : dirty;
    for (const k of keys) {
      const svc = state.services.get(k);
      if (!svc || !this.o.inScope(svc.namespace)) {
        changed ||= this.json.has(k);
        this.conds.delete(k);
        this.byKey.delete(k);
        this.json.delete(k);
        continue;
      }
      const { services: list, conditions } = meshModels(svc, this.slices.get(k)?.values() ?? [], state, this.o);
      if (conditions.length) this.conds.set(k, conditions);
      else this.conds.delete(k);
      const json = JSON.stringify(list);
      if (this.json.get(k) !== json) changed = true;
      this.json.set(k, json);
      this.byKey.set(k, list);
    }
    if (dirty === 'all')
      for (const k of [...this.json.keys()])
        if (!this.byKey.has(k)) {
          this.json.delete(k);
          this.conds.delete(k);
        }
    const services: Service[] = [];
    for (const list of this.byKey.values()) services.push(...list);
    this.o.mesh?.inUse?.(new Set(services.map((s) => s.name)));
    return { ...assemble(services, state, this.o, (k) => this.conds.get(k)), servicesChanged: changed };
  }
}
