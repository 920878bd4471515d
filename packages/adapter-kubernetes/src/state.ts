// The typed state the watchers fill: compact records converted from the API server's objects as
// they arrive (managedFields, annotations and everything meshgate does not read are dropped at
// once, which keeps 100,000 endpoints small). buildModel() reads only this state; it never sees
// raw objects or the network.
import type { KubeObject } from './kube.ts';

export interface ServicePort {
  /** '' for an unnamed port (a Service with one port). */
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface ServiceInfo {
  namespace: string;
  name: string;
  type: string;
  /** spec.clusterIP: an address, 'None' for headless Services, '' when unset. */
  clusterIP: string;
  ports: ServicePort[];
}

export interface SliceEndpoint {
  address: string;
  /** Conditions as the EndpointSlice API defines their defaults: ready unset = true, serving unset = ready. */
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  zone?: string;
  /** The Pod behind the endpoint (targetRef), for service-account lookups. */
  pod?: string;
}

export interface SliceInfo {
  namespace: string;
  name: string;
  /** The owning Service (label kubernetes.io/service-name). */
  service: string;
  addressType: string;
  ports: { name: string; port: number; protocol: string }[];
  endpoints: SliceEndpoint[];
}

export interface PodInfo {
  namespace: string;
  name: string;
  serviceAccount: string;
  /** The pod's labels (mesh policy selectors and Istio's sidecar label read them). */
  labels: Record<string, string>;
}

/** A Gateway API object: spec and status as JSON, and the metadata status writes need. */
export interface GwObject {
  namespace: string;
  name: string;
  generation: number;
  resourceVersion: string;
  creationTimestamp: string;
  labels: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: Gateway API specs are read field by field with checks.
  spec: any;
  // biome-ignore lint/suspicious/noExplicitAny: written back as a whole.
  status: any;
}

export interface SecretInfo {
  namespace: string;
  name: string;
  type: string;
  /** PEM text of tls.crt and tls.key; never logged or put in status. */
  cert?: string;
  key?: string;
}

/** A Secret a mesh hook reads credentials from (e.g. an Istio DestinationRule's credentialName): only its
 * certificate keys, decoded; tokens and every other key are dropped on arrival. */
export interface MeshSecretInfo {
  namespace: string;
  name: string;
  data: Record<string, string>;
}

/** The keys of a mesh Secret that are kept: certificates, keys and CAs under Kubernetes' and Istio's names. */
export const MESH_SECRET_KEYS = ['tls.crt', 'tls.key', 'ca.crt', 'cert', 'key', 'cacert'] as const;

export interface KubeState {
  services: Map<string, ServiceInfo>;
  slices: Map<string, SliceInfo>;
  /** Only filled when pods are watched (`pods: true`). */
  pods: Map<string, PodInfo>;
  /** Namespaces in scope; only filled with a namespace label selector. */
  namespaces: Map<string, Record<string, string>>;
  gatewayClasses: Map<string, GwObject>;
  gateways: Map<string, GwObject>;
  httpRoutes: Map<string, GwObject>;
  grpcRoutes: Map<string, GwObject>;
  referenceGrants: Map<string, GwObject>;
  secrets: Map<string, SecretInfo>;
  /** Istio policy objects; only filled when a mesh hook asks for them. */
  peerAuthentications: Map<string, GwObject>;
  destinationRules: Map<string, GwObject>;
  /** Secrets a mesh hook asked for, only in the namespaces it named. */
  meshSecrets: Map<string, MeshSecretInfo>;
  /** ConfigMaps a mesh hook asked for by name (their data only). */
  meshConfigMaps: Map<string, { namespace: string; name: string; data: Record<string, string> }>;
}

export function emptyState(): KubeState {
  return {
    services: new Map(),
    slices: new Map(),
    pods: new Map(),
    namespaces: new Map(),
    gatewayClasses: new Map(),
    gateways: new Map(),
    httpRoutes: new Map(),
    grpcRoutes: new Map(),
    referenceGrants: new Map(),
    secrets: new Map(),
    peerAuthentications: new Map(),
    destinationRules: new Map(),
    meshSecrets: new Map(),
    meshConfigMaps: new Map(),
  };
}

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: { metadata: { name: string; namespace?: string } }): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function toService(o: KubeObject): ServiceInfo {
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON
  const spec = (o.spec ?? {}) as any;
  return {
    namespace: str(o.metadata.namespace),
    name: o.metadata.name,
    type: str(spec.type) || 'ClusterIP',
    clusterIP: str(spec.clusterIP),
    ports: (Array.isArray(spec.ports) ? spec.ports : []).map(
      (p: { name?: string; port?: number; protocol?: string; appProtocol?: string }) => ({
        name: str(p.name),
        port: Number(p.port),
        protocol: str(p.protocol) || 'TCP',
        ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
      }),
    ),
  };
}

export function toSlice(o: KubeObject): SliceInfo {
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON
  const x = o as any;
  return {
    namespace: str(o.metadata.namespace),
    name: o.metadata.name,
    service: str(o.metadata.labels?.['kubernetes.io/service-name']),
    addressType: str(x.addressType),
    ports: (Array.isArray(x.ports) ? x.ports : []).map((p: { name?: string; port?: number; protocol?: string }) => ({
      name: str(p.name),
      port: Number(p.port),
      protocol: str(p.protocol) || 'TCP',
    })),
    endpoints: (Array.isArray(x.endpoints) ? x.endpoints : [])
      .filter((e: { addresses?: unknown[] }) => Array.isArray(e.addresses) && e.addresses.length > 0)
      .map(
        (e: {
          addresses: string[];
          conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
          zone?: string;
          targetRef?: { kind?: string; name?: string };
        }) => {
          const ready = e.conditions?.ready ?? true;
          return {
            // Consumers use the first address (the API says the others are fungible).
            address: e.addresses[0],
            ready,
            serving: e.conditions?.serving ?? ready,
            terminating: e.conditions?.terminating ?? false,
            ...(e.zone ? { zone: e.zone } : {}),
            ...(e.targetRef?.kind === 'Pod' && e.targetRef.name ? { pod: e.targetRef.name } : {}),
          };
        },
      ),
  };
}

export function toPod(o: KubeObject): PodInfo {
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON
  const spec = (o.spec ?? {}) as any;
  return {
    namespace: str(o.metadata.namespace),
    name: o.metadata.name,
    serviceAccount: str(spec.serviceAccountName) || 'default',
    labels: o.metadata.labels ?? {},
  };
}

export function toGw(o: KubeObject): GwObject {
  return {
    namespace: str(o.metadata.namespace),
    name: o.metadata.name,
    generation: Number(o.metadata.generation ?? 0),
    resourceVersion: str(o.metadata.resourceVersion),
    creationTimestamp: str(o.metadata.creationTimestamp),
    labels: o.metadata.labels ?? {},
    spec: o.spec ?? {},
    status: o.status ?? {},
  };
}

export function toSecret(o: KubeObject): SecretInfo {
  const data = (o.data ?? {}) as Record<string, string>;
  const dec = (k: string) =>
    typeof data[k] === 'string' ? Buffer.from(data[k], 'base64').toString('utf8') : undefined;
  const cert = dec('tls.crt');
  const key = dec('tls.key');
  return {
    namespace: str(o.metadata.namespace),
    name: o.metadata.name,
    type: str(o.type),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
  };
}

export function toMeshSecret(o: KubeObject): MeshSecretInfo {
  const raw = (o.data ?? {}) as Record<string, unknown>;
  const data: Record<string, string> = {};
  for (const k of MESH_SECRET_KEYS)
    if (typeof raw[k] === 'string') data[k] = Buffer.from(raw[k] as string, 'base64').toString('utf8');
  return { namespace: str(o.metadata.namespace), name: o.metadata.name, data };
}

export function toMeshConfigMap(o: KubeObject): { namespace: string; name: string; data: Record<string, string> } {
  const raw = (o.data ?? {}) as Record<string, unknown>;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') data[k] = v;
  return { namespace: str(o.metadata.namespace), name: o.metadata.name, data };
}
