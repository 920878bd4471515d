// Istio's say over the Kubernetes source's Services: with an `istio:` section next to `kubernetes:`, every Service
// port is reached the way an Istio ingress gateway reaches it (adapter-istio's istioUpstream): Istio mTLS with the
// gateway's istiod certificate to pods with the sidecar, plaintext to the rest, as PeerAuthentication and
// DestinationRule say. Glue only: the decisions live in @meshgate/adapter-istio, the watching in the Kubernetes source.
import { readFileSync } from 'node:fs';
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

export function istioMeshHook(s: IstioSettings, clusterDomain?: string): ServiceMeshHook {
  const gatewayNamespace = ownNamespace(s);
  const credential = (state: KubeState) =>
    gatewayNamespace
      ? (name: string) => resolveCredential(name, gatewayNamespace, state.meshSecrets, 'kubernetes')
      : undefined;
  return {
    resources: ['peerauthentications', 'destinationrules'],
    // Secrets are read only once a DestinationRule names one (credentialName), and only in the gateway's namespace,
    // the one place Istio looks for them too.
    watches: (state) =>
      gatewayNamespace && destinationRuleCredentials(policies(state.destinationRules)).size > 0
        ? [{ resource: 'meshsecrets', namespace: gatewayNamespace }]
        : [],
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
