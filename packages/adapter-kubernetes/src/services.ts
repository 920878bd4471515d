// Services + EndpointSlices -> model services. Pure.
import type { Endpoint, Model, Service, ServiceProtocol } from '@meshgate/model';
import type { KubeState, ServiceInfo, ServicePort, SliceInfo } from './state.ts';

/** Model name of one port of a Service: `k8s/<namespace>/<service>/<port>`, stable across restarts and sources. */
export function serviceModelName(namespace: string, service: string, port: number): string {
  return `k8s/${namespace}/${service}/${port}`;
}

/**
 * The name a proxyless gRPC client dials for a Service port, as in-cluster DNS spells it:
 * `xds:///<service>.<namespace>.svc.<clusterDomain>:<port>`. The model name itself holds `/`,
 * which grpc-go percent-encodes but grpc-js sends as the HTTP/2 authority, where servers refuse it.
 */
export function serviceHostname(
  namespace: string,
  service: string,
  port: number,
  clusterDomain = 'cluster.local',
): string {
  return `${service}.${namespace}.svc.${clusterDomain}:${port}`;
}

/** appProtocol first (the API's own field), then the port-name prefix convention (`grpc-web`, `http2`). */
export function portProtocol(p: ServicePort): ServiceProtocol | undefined {
  const ap = p.appProtocol?.toLowerCase();
  if (ap === 'grpc') return 'grpc';
  if (ap === 'kubernetes.io/h2c' || ap === 'http2' || ap === 'h2c') return 'http2';
  if (ap === 'http' || ap === 'kubernetes.io/http') return 'http';
  if (ap === 'tcp') return 'tcp';
  const prefix = p.name.split('-')[0].toLowerCase();
  if (prefix === 'grpc') return 'grpc';
  if (prefix === 'http2' || prefix === 'h2c') return 'http2';
  if (prefix === 'http') return 'http';
  return undefined;
}

/**
 * The endpoints of one Service port, from all of its slices. Ready endpoints are used; endpoints
 * that are terminating but still serving are used only while no ready endpoint is left (so a
 * rollout whose new pods are not ready yet does not black-hole traffic); the rest are left out.
 * An address:port in several slices counts once.
 */
export function portEndpoints(port: ServicePort, slices: Iterable<SliceInfo>): Endpoint[] {
  const ready = new Map<string, Endpoint>();
  const fallback = new Map<string, Endpoint>();
  for (const s of slices) {
    if (s.addressType !== 'IPv4' && s.addressType !== 'IPv6') continue; // FQDN slices carry no IPs
    const sp = s.ports.find((x) => x.name === port.name && x.protocol === port.protocol);
    if (!sp || !Number.isInteger(sp.port) || sp.port < 1) continue;
    for (const e of s.endpoints) {
      const ep: Endpoint = { address: e.address, port: sp.port, ...(e.zone ? { locality: { zone: e.zone } } : {}) };
      const key = `${e.address}|${sp.port}`;
      if (e.ready) ready.set(key, ep);
      else if (e.serving && e.terminating) fallback.set(key, ep);
    }
  }
  const chosen = ready.size > 0 ? ready : fallback;
  return [...chosen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

/** One model service per TCP port of the Service. */
/**
 * Linkerd's injected-ingress mode: the gateway pod's linkerd-proxy picks the destination from `l5d-dst-override`, so
 * each Service port is reached at its cluster IP (the proxy balances over the endpoints, with mTLS) and every request
 * carries `l5d-dst-override: <svc>.<ns>.svc.<clusterDomain>:<port>`, set over any client value.
 */
export interface LinkerdIngress {
  clusterDomain?: string;
}

export function serviceModels(
  svc: ServiceInfo,
  slices: Iterable<SliceInfo>,
  source: string,
  linkerdIngress?: LinkerdIngress,
): Service[] {
  if (svc.type === 'ExternalName') return [];
  const list = [...slices];
  const out: Service[] = [];
  // Headless Services have no cluster IP: their pods are the only addresses, as without the mode.
  const viaClusterIP = linkerdIngress && svc.clusterIP && svc.clusterIP !== 'None';
  for (const p of svc.ports) {
    if (p.protocol !== 'TCP' || !Number.isInteger(p.port)) continue;
    const protocol = portProtocol(p);
    out.push({
      name: serviceModelName(svc.namespace, svc.name, p.port),
      endpoints: viaClusterIP ? [{ address: svc.clusterIP, port: p.port }] : portEndpoints(p, list),
      ...(protocol ? { protocol } : {}),
      ...(linkerdIngress
        ? {
            requestHeadersToAdd: [
              {
                name: 'l5d-dst-override',
                value: serviceHostname(svc.namespace, svc.name, p.port, linkerdIngress.clusterDomain),
              },
            ],
          }
        : {}),
      source,
    });
  }
  return out;
}

/** Slices grouped by `namespace/service`, for buildModel and incremental rebuilds. */
export function slicesByService(state: KubeState): Map<string, SliceInfo[]> {
  const out = new Map<string, SliceInfo[]>();
  for (const s of state.slices.values()) {
    if (!s.service) continue;
    const k = `${s.namespace}/${s.service}`;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(s);
  }
  return out;
}

/**
 * Service accounts of the pods behind a Service's endpoints (from targetRefs), for meshes whose
 * workload identity is the service account (Istio, Linkerd). Needs pods to be watched.
 */
export function serviceAccountsOf(state: KubeState, namespace: string, service: string): string[] {
  const out = new Set<string>();
  for (const s of state.slices.values()) {
    if (s.namespace !== namespace || s.service !== service) continue;
    for (const e of s.endpoints) {
      const pod = e.pod ? state.pods.get(`${namespace}/${e.pod}`) : undefined;
      if (pod) out.add(pod.serviceAccount);
    }
  }
  return [...out].sort();
}

/** A routed service whose `l5d-dst-override` a linkerd-proxy in ingress mode resolves through a ServiceProfile. */
export interface ProfileNeed {
  /** The model service routes name. */
  service: string;
  namespace: string;
  /** `<svc>.<ns>.svc.<domain>`: the ServiceProfile's name. */
  profile: string;
  /** The Kubernetes Service's own name. */
  kubeService: string;
}

/**
 * Linkerd injected ingress: recent linkerd-proxies in ingress mode resolve `l5d-dst-override` through a ServiceProfile
 * of that name. Every service some route names whose override is `<svc>.<ns>.svc.<domain>:<port>`, whatever source
 * defined the route.
 */
export function serviceProfileNeeds(model: Pick<Model, 'services' | 'routes'>): ProfileNeed[] {
  const routed = new Set(model.routes.flatMap((r) => r.backends.map((b) => b.service)));
  const out: ProfileNeed[] = [];
  for (const s of model.services) {
    if (!routed.has(s.name)) continue;
    const dst = s.requestHeadersToAdd?.find((h) => h.name.toLowerCase() === 'l5d-dst-override')?.value;
    const m = dst ? /^(([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.[^:]+):\d+$/.exec(dst) : null;
    if (m) out.push({ service: s.name, namespace: m[3], profile: m[1], kubeService: m[2] });
  }
  return out.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}

/** The warning for one need without a ServiceProfile, naming the fix. */
export function missingProfileWarning(n: ProfileNeed): string {
  return `linkerd injected ingress: service ${n.service} is routed, but namespace ${n.namespace} has no ServiceProfile ${n.profile}; recent linkerd-proxies in ingress mode need one to resolve l5d-dst-override (create one, e.g. from \`linkerd profile --template ${n.kubeService} -n ${n.namespace}\`)`;
}
