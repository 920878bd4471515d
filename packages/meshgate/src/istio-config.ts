// The `istio:` section: the gateway's Istio workload identity straight from istiod's CA (no sidecar), served over
// SDS like the built-in CA's identities. Its own file so the section and its settings stay apart from the rest.
import { DEFAULT_CA_ADDRESS, DEFAULT_CA_SERVER_NAME, ISTIO_CA_AUDIENCE } from '@meshgate/adapter-istio';
import { ALLOWED_NODES, NAME } from '@meshgate/adapter-file';
import type { ConfigSection } from '@meshgate/config-schema';
import { dnsName, HOST_PORT, KUBE_NAME, PATH } from './config-specs.ts';

export const ISTIO_DEFAULTS = {
  address: DEFAULT_CA_ADDRESS,
  serverName: DEFAULT_CA_SERVER_NAME,
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
  secretName: 'istio/default',
  trustBundle: 'istio/roots',
  tokenAudience: ISTIO_CA_AUDIENCE,
  rootNamespace: 'istio-system',
  upstreams: true,
} as const;

/** Where a pod's own namespace is written; used when `istio.namespace` is left out. */
export const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export const ISTIO_SECTION: ConfigSection = {
  key: 'istio',
  owner: '@meshgate/meshgate',
  field: {
    doc: "joins an Istio mesh without a sidecar: the gateway's workload certificate from istiod's CA (CreateCertificate, ServiceAccount token), renewed before it expires and served over SDS with the Istio root as a trust bundle",
    spec: {
      kind: 'object',
      fields: {
        address: { spec: HOST_PORT, default: ISTIO_DEFAULTS.address, doc: "istiod's CA (TLS) port, host:port" },
        serverName: {
          spec: dnsName(),
          default: ISTIO_DEFAULTS.serverName,
          doc: "the name istiod's serving certificate must carry (checked against the Istio root before the token is sent)",
        },
        namespace: {
          spec: KUBE_NAME,
          doc: `the gateway's namespace; default: the pod's own (${IN_CLUSTER_NAMESPACE_FILE})`,
        },
        serviceAccount: {
          spec: KUBE_NAME,
          required: true,
          doc: "the gateway's ServiceAccount: its SPIFFE ID is `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`",
        },
        tokenFile: {
          spec: PATH,
          doc: 'a projected ServiceAccount token (audience `istio-ca`), read at each use; without it the token comes from the TokenRequest API through the kubeconfig (needs `create` on serviceaccounts/token)',
        },
        tokenAudience: {
          spec: { kind: 'string', nonEmpty: true },
          default: ISTIO_DEFAULTS.tokenAudience,
          doc: "audience of TokenRequest tokens; must be one of istiod's TOKEN_AUDIENCES",
        },
        kubeconfig: {
          spec: PATH,
          doc: 'kubeconfig for TokenRequest and the root ConfigMap; default: `--kubeconfig`, then `kubernetes.kubeconfig`, then in-cluster',
        },
        rootCertFile: {
          spec: PATH,
          doc: 'the Istio root(s), PEM; without it `root-cert.pem` of the ConfigMap `istio-ca-root-cert` in the gateway namespace, read before each request',
        },
        trustDomain: {
          spec: dnsName('trust domain'),
          default: ISTIO_DEFAULTS.trustDomain,
          doc: "the mesh's trust domain (must equal the mesh config's `trustDomain`; a difference is a MeshConfig condition on /readyz)",
        },
        clusterId: {
          spec: { kind: 'string', nonEmpty: true },
          default: ISTIO_DEFAULTS.clusterId,
          doc: "istiod's name for the cluster whose API server reviews the token",
        },
        ttl: {
          spec: { kind: 'duration', minMs: 1000 },
          doc: "requested certificate lifetime (istiod caps it at MAX_WORKLOAD_CERT_TTL); default: istiod's (24h)",
        },
        secretName: {
          spec: NAME,
          default: ISTIO_DEFAULTS.secretName,
          doc: 'SDS name of the certificate and key',
        },
        trustBundle: {
          spec: NAME,
          default: ISTIO_DEFAULTS.trustBundle,
          doc: 'SDS name of the Istio root trust bundle',
        },
        allowedNodes: ALLOWED_NODES,
        upstreams: {
          spec: { kind: 'bool' },
          default: String(ISTIO_DEFAULTS.upstreams),
          doc: 'with a `kubernetes:` section: reach its Services as an Istio client (Istio mTLS with this certificate to pods with the sidecar, plaintext to the rest; PeerAuthentication and DestinationRule tls.mode honoured); watches Pods, PeerAuthentications and DestinationRules cluster-wide',
        },
        rootNamespace: {
          spec: KUBE_NAME,
          default: ISTIO_DEFAULTS.rootNamespace,
          doc: "Istio's root namespace: mesh-wide PeerAuthentication and DestinationRules, and the mesh config (ConfigMap `istio`, key `mesh`: `trustDomainAliases`)",
        },
      },
    },
  },
};

export interface IstioSettings {
  address: string;
  serverName: string;
  /** Absent: the pod's own namespace, read at start. */
  namespace?: string;
  serviceAccount: string;
  tokenFile?: string;
  tokenAudience: string;
  kubeconfig?: string;
  rootCertFile?: string;
  trustDomain: string;
  clusterId: string;
  ttlMs?: number;
  secretName: string;
  trustBundle: string;
  allowedNodes?: string[];
  upstreams: boolean;
  rootNamespace: string;
}

/** The checked `istio:` section as settings; relative paths are the config file's. */
// biome-ignore lint/suspicious/noExplicitAny: checked by the section's schema before it gets here
export function istioSettings(c: Record<string, any>, rel: (p: string) => string = (p) => p): IstioSettings {
  return {
    address: c.address ?? ISTIO_DEFAULTS.address,
    serverName: c.serverName ?? ISTIO_DEFAULTS.serverName,
    ...(c.namespace !== undefined ? { namespace: c.namespace } : {}),
    serviceAccount: c.serviceAccount,
    ...(c.tokenFile !== undefined ? { tokenFile: rel(c.tokenFile) } : {}),
    tokenAudience: c.tokenAudience ?? ISTIO_DEFAULTS.tokenAudience,
    ...(c.kubeconfig !== undefined ? { kubeconfig: rel(c.kubeconfig) } : {}),
    ...(c.rootCertFile !== undefined ? { rootCertFile: rel(c.rootCertFile) } : {}),
    trustDomain: c.trustDomain ?? ISTIO_DEFAULTS.trustDomain,
    clusterId: c.clusterId ?? ISTIO_DEFAULTS.clusterId,
    ...(c.ttl !== undefined ? { ttlMs: c.ttl } : {}),
    secretName: c.secretName ?? ISTIO_DEFAULTS.secretName,
    trustBundle: c.trustBundle ?? ISTIO_DEFAULTS.trustBundle,
    ...(c.allowedNodes?.length ? { allowedNodes: [...c.allowedNodes] } : {}),
    upstreams: c.upstreams ?? ISTIO_DEFAULTS.upstreams,
    rootNamespace: c.rootNamespace ?? ISTIO_DEFAULTS.rootNamespace,
  };
}
