// Istio's say over the Kubernetes source's Services: with an `istio:` section next to `kubernetes:`, every Service
// port is reached the way an Istio ingress gateway reaches it (adapter-istio's istioUpstream): Istio mTLS with the
// gateway's istiod certificate to pods with the sidecar, plaintext to the rest, as PeerAuthentication and
// DestinationRule say. Glue only: the decisions live in @meshgate/adapter-istio, the watching in the Kubernetes source.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  destinationRuleCredentials,
  type IstioPod,
  type IstioPolicyObject,
  istioUpstream,
  resolveCredential,
} from '@meshgate/adapter-istio';
import type { Identity, TrustBundle } from '@meshgate/model';
import type { KubeState, ServiceMeshHook } from '@meshgate/adapter-kubernetes';
import { IN_CLUSTER_NAMESPACE_FILE, type IstioSettings } from './istio-config.ts';

function policies(m: KubeState['peerAuthentications']): IstioPolicyObject[] {
  return [...m.values()].map((o) => ({
    namespace: o.namespace,
    name: o.name,
    creationTimestamp: o.creationTimestamp,
    spec: o.spec,
  }));
}

function ownNamespace(s: IstioSettings): string | undefined {
  if (s.namespace) return s.namespace;
  try {
    return readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Istio's mesh config: ConfigMap `istio` (istiod's default revision), key `mesh`, in Istio's root namespace. */
export const MESH_CONFIGMAP = 'istio';
const MESH_KEY = 'mesh';

interface MeshConfigView {
  trustDomain?: string;
  trustDomainAliases: string[];
}

/** The parts of the mesh config meshgate reads, or why it cannot read them. */
export function readMeshConfig(text: string | undefined): MeshConfigView | { error: string } {
  if (text === undefined || text.trim() === '') return { trustDomainAliases: [] };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { error: `is not YAML (${(err as Error).message.split('\n')[0]})` };
  }
  if (doc === null || doc === undefined) return { trustDomainAliases: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) return { error: 'is not a mapping of mesh settings' };
  const m = doc as Record<string, unknown>;
  const td = m.trustDomain;
  if (td !== undefined && td !== null && (typeof td !== 'string' || td === ''))
    return { error: 'trustDomain must be a non-empty string' };
  const aliases = m.trustDomainAliases ?? [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string' || !/^[a-z0-9.-]+$/i.test(a)))
    return { error: 'trustDomainAliases must be a list of trust domain names' };
  return {
    ...(typeof td === 'string' ? { trustDomain: td } : {}),
    trustDomainAliases: [...new Set(aliases as string[])],
  };
}

export function istioMeshHook(s: IstioSettings, clusterDomain?: string): ServiceMeshHook {
  const gatewayNamespace = ownNamespace(s);
  const meshKey = `${s.rootNamespace}/${MESH_CONFIGMAP}`;
  // A mesh config that does not parse keeps the last good one (and says so).
  let lastGood: MeshConfigView = { trustDomainAliases: [] };
  // Read once per change of the text, not once per Service port.
  let memo: { text: string | undefined; r: ReturnType<typeof readMeshConfig> } | undefined;
  const meshConfig = (state: KubeState): { view: MeshConfigView; problem?: string } => {
    const text = state.meshConfigMaps.get(meshKey)?.data[MESH_KEY];
    if (!memo || memo.text !== text) memo = { text, r: readMeshConfig(text) };
    const r = memo.r;
    if ('error' in r)
      return {
        view: lastGood,
        problem: `MeshConfig: ConfigMap ${meshKey} key ${MESH_KEY} ${r.error}; meshgate keeps the last good mesh config (trustDomainAliases ${JSON.stringify(lastGood.trustDomainAliases)}): fix the ConfigMap`,
      };
    lastGood = r;
    return {
      view: r,
      ...(r.trustDomain && r.trustDomain !== s.trustDomain
        ? {
            problem: `MeshConfig: the mesh's trustDomain is ${JSON.stringify(r.trustDomain)} (ConfigMap ${meshKey}) but istio.trustDomain is ${JSON.stringify(s.trustDomain)}, so secure naming expects other SPIFFE IDs than istiod issues: set istio.trustDomain to ${JSON.stringify(r.trustDomain)}`,
          }
        : {}),
    };
  };
  const credential = (state: KubeState) =>
    gatewayNamespace
      ? (name: string) => resolveCredential(name, gatewayNamespace, state.meshSecrets, 'kubernetes')
      : undefined;
  return {
    resources: ['peerauthentications', 'destinationrules'],
    // Secrets are read only once a DestinationRule names one (credentialName), and only in the gateway's namespace,
    // the one place Istio looks for them too.
    watches: (state) => [
      // The mesh config by name: trustDomainAliases widen secure naming as in istiod.
      { resource: 'meshconfigmaps', namespace: s.rootNamespace, name: MESH_CONFIGMAP },
      ...(gatewayNamespace && destinationRuleCredentials(policies(state.destinationRules)).size > 0
        ? [{ resource: 'meshsecrets', namespace: gatewayNamespace }]
        : []),
    ],
    conditions(state) {
      const p = meshConfig(state).problem;
      return p ? [p] : [];
    },
    model(state) {
      const identities: Identity[] = [];
      const trustBundles: TrustBundle[] = [];
      const resolve = credential(state);
      if (resolve)
        for (const [name, { mutual }] of destinationRuleCredentials(policies(state.destinationRules))) {
          const c = resolve(name);
          // The same nodes as the gateway's Istio certificate: both are the gateway's keys.
          if (mutual && c.identity)
            identities.push(s.allowedNodes ? { ...c.identity, allowedNodes: s.allowedNodes } : c.identity);
          if (c.trustBundle) trustBundles.push(c.trustBundle);
        }
      return { identities, trustBundles };
    },
    apply(svc, port, model, slices, state) {
      // By address and port: pods on the host network share the node's address.
      const podOf = new Map<string, IstioPod>();
      const serviceAccounts = new Set<string>();
      for (const sl of slices)
        for (const e of sl.endpoints) {
          const pod = e.pod ? state.pods.get(`${sl.namespace}/${e.pod}`) : undefined;
          if (!pod) continue;
          for (const p of sl.ports) podOf.set(`${e.address}|${p.port}`, pod);
          serviceAccounts.add(pod.serviceAccount);
        }
      const u = istioUpstream(
        {
          namespace: svc.namespace,
          service: svc.name,
          port: port.port,
          ...(model.protocol ? { protocol: model.protocol } : {}),
          endpoints: model.endpoints.map((endpoint) => {
            const pod = podOf.get(`${endpoint.address}|${endpoint.port}`);
            return pod ? { endpoint, pod } : { endpoint };
          }),
          serviceAccounts: [...serviceAccounts].sort(),
        },
        {
          peerAuthentications: policies(state.peerAuthentications),
          destinationRules: policies(state.destinationRules),
        },
        {
          trustDomain: s.trustDomain,
          trustDomainAliases: meshConfig(state).view.trustDomainAliases,
          rootNamespace: s.rootNamespace,
          ...(clusterDomain ? { clusterDomain } : {}),
          ...(gatewayNamespace ? { gatewayNamespace } : {}),
          clientIdentity: s.secretName,
          trustBundle: s.trustBundle,
          ...(gatewayNamespace ? { credential: credential(state)! } : {}),
        },
      );
      const { tls: _tls, endpointTls: _et, ...rest } = model;
      return {
        service: {
          ...rest,
          endpoints: u.endpoints,
          ...(u.tls ? { tls: u.tls } : {}),
          ...(u.endpointTls ? { endpointTls: u.endpointTls } : {}),
        },
        conditions: u.conditions.map((c) => `${c.reason}: ${c.message}`),
      };
    },
  };
}
