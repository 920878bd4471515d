// The `kubernetes:` section of meshgate's config file: its settings, defaults and validator.
// Contributed by this package; meshgate hands the raw section here and prints the errors.

import type { Identity, Service, TrustBundle } from '@meshgate/model';
import type { KubeState, ServiceInfo, ServicePort, SliceInfo } from './state.ts';

/**
 * A mesh adapter's say over the Services this source builds, e.g. Istio's upstream mTLS per endpoint from pod labels
 * and policy objects. Pure over the state; conditions are what an operator must see on /readyz.
 */
export interface ServiceMeshHook {
  /** Extra resources (keys of RESOURCES) the hook reads from the state, e.g. 'peerauthentications'. */
  readonly resources: readonly string[];
  apply(
    svc: ServiceInfo,
    port: ServicePort,
    model: Service,
    slices: readonly SliceInfo[],
    state: KubeState,
  ): { service: Service; conditions: readonly string[] };
  /**
   * Resources to watch in one namespace only (with `name`, that one object), decided from the state (e.g. Secrets in
   * the gateway's namespace once a DestinationRule names one); a watch starts when first asked for and then stays.
   */
  watches?(state: KubeState): readonly { resource: string; namespace: string; name?: string }[];
  /** Conditions that belong to no one Service (e.g. a mesh config that does not parse). */
  conditions?(state: KubeState): readonly string[];
  /** Identities and trust bundles the hook's Services refer to, added to the source's model. */
  model?(state: KubeState): { identities: readonly Identity[]; trustBundles: readonly TrustBundle[] };
  /**
   * Optional, for hooks whose view changes outside the Kubernetes API (Linkerd's destination controller): called once
   * when the source starts; the hook calls `rebuild` with `namespace/name` keys of Services whose models it would now
   * make differently, and the source builds those again (debounced with its own events).
   */
  subscribe?(rebuild: (serviceKeys: readonly string[]) => void): void;
  /** Optional: after every build, the model service names now built, so the hook can drop what it holds for others. */
  inUse?(modelServices: ReadonlySet<string>): void;
  /** Optional: the source stopped; release what the hook holds open. */
  stop?(): void;
}

export interface KubeLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export type NamespaceScope = { all: true } | { names: string[] } | { selector: string };

export interface KubernetesSourceOptions {
  /** Source name in status and merge precedence. Default 'kubernetes'. */
  name?: string;
  /** Kubeconfig file. Default: in-cluster (the pod's service account) when KUBERNETES_SERVICE_HOST is set. */
  kubeconfig?: string;
  /** Kubeconfig context. Default: its current-context. */
  context?: string;
  /** Which namespaces are read. Default: all. */
  namespaces?: NamespaceScope;
  /** Cluster DNS domain: a Service port is also a gRPC target `<svc>.<ns>.svc.<domain>:<port>`. Default 'cluster.local'. */
  clusterDomain?: string;
  /**
   * Linkerd's injected-ingress mode (the gateway pod carries `linkerd.io/inject: ingress`): Services are reached at
   * their cluster IP with `l5d-dst-override: <svc>.<ns>.svc.<clusterDomain>:<port>`. Default false.
   */
  linkerdIngress?: boolean;
  /** Watch Pods to learn the service accounts behind endpoints (Istio/Linkerd identities). Default false. */
  pods?: boolean;
  /** A mesh's view of each Service (set in code, not in the config file): watches pods and the hook's resources. */
  mesh?: ServiceMeshHook;
  /** Read GatewayClass, Gateway, HTTPRoute, GRPCRoute and ReferenceGrant (and TLS Secrets). Default true. */
  gatewayApi?: boolean;
  /** GatewayClasses with this spec.controllerName are meshgate's. Default 'meshgate.io/gateway-controller'. */
  controllerName?: string;
  /** Write status to Gateway API objects (the elected leader only). Default true. */
  writeStatus?: boolean;
  /**
   * Namespaces whose TLS Secrets may be read for listener certificateRefs. Default: every watched
   * namespace; [] reads none (HTTPS listeners then report their certificates unresolved).
   */
  secretNamespaces?: string[];
  leaderElection?: {
    /** Default true: several replicas agree on one status writer through a Lease. */
    enabled?: boolean;
    /** Namespace of the Lease. Default: $POD_NAMESPACE, else the in-cluster namespace, else 'default'. */
    namespace?: string;
    /** Default 'meshgate-leader'. */
    leaseName?: string;
    /** Seconds a lease lasts without renewal. Default 15. */
    leaseSeconds?: number;
    /** Default: $POD_NAME or the host name, plus a random suffix. */
    identity?: string;
  };
  /** Backoff after API errors. Default 200 ms doubling to 10 s, full jitter. */
  backoff?: { baseMs: number; capMs: number };
  logger?: KubeLogger;
}

export interface KubeConfigError {
  path: string;
  message: string;
}

const KNOWN = [
  'name',
  'kubeconfig',
  'context',
  'namespaces',
  'pods',
  'linkerdIngress',
  'clusterDomain',
  'gatewayApi',
  'controllerName',
  'writeStatus',
  'secretNamespaces',
  'leaderElection',
];
const LE_KNOWN = ['enabled', 'namespace', 'leaseName', 'leaseSeconds', 'identity'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Validates the raw `kubernetes:` section. Paths in errors are relative to `pathPrefix` so
 * meshgate can add the file and line. `null` (an empty section) means "all defaults".
 */
export function parseKubernetesConfig(
  obj: unknown,
  pathPrefix = 'kubernetes',
): { options?: KubernetesSourceOptions; errors: KubeConfigError[] } {
  const errors: KubeConfigError[] = [];
  const p = (k: string) => (pathPrefix ? `${pathPrefix}.${k}` : k);
  if (obj === null || obj === undefined) return { options: {}, errors };
  if (typeof obj !== 'object' || Array.isArray(obj))
    return {
      errors: [
        { path: pathPrefix, message: 'must be a mapping of Kubernetes settings, e.g. {kubeconfig: ~/.kube/config}' },
      ],
    };
  const o = obj as Record<string, unknown>;
  const out: KubernetesSourceOptions = {};
  const unknown = (sec: Record<string, unknown>, known: string[], prefix: string) => {
    for (const k of Object.keys(sec))
      if (!known.includes(k))
        errors.push({ path: `${prefix}.${k}`, message: `unknown setting; known settings: ${known.join(', ')}` });
  };
  unknown(o, KNOWN, pathPrefix);
  const str = (sec: Record<string, unknown>, k: string, path: string): string | undefined => {
    const v = sec[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') {
      errors.push({ path, message: 'must be a non-empty string' });
      return undefined;
    }
    return v;
  };
  const bool = (sec: Record<string, unknown>, k: string, path: string): boolean | undefined => {
    const v = sec[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      errors.push({ path, message: 'must be true or false' });
      return undefined;
    }
    return v;
  };
  const sub = (k: string): Record<string, unknown> | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) {
      errors.push({ path: p(k), message: 'must be a mapping' });
      return undefined;
    }
    return v as Record<string, unknown>;
  };

  const name = str(o, 'name', p('name'));
  if (name) out.name = name;
  const kubeconfig = str(o, 'kubeconfig', p('kubeconfig'));
  if (kubeconfig) out.kubeconfig = kubeconfig;
  const context = str(o, 'context', p('context'));
  if (context) out.context = context;
  const cd = str(o, 'clusterDomain', p('clusterDomain'));
  if (cd !== undefined) {
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(cd))
      errors.push({ path: p('clusterDomain'), message: 'must be a lower-case DNS name, e.g. cluster.local' });
    else out.clusterDomain = cd;
  }
  const pods = bool(o, 'pods', p('pods'));
  if (pods !== undefined) out.pods = pods;
  const linkerdIngress = bool(o, 'linkerdIngress', p('linkerdIngress'));
  if (linkerdIngress !== undefined) out.linkerdIngress = linkerdIngress;

  const ns = o.namespaces;
  if (ns === 'all' || ns === undefined || ns === null) {
    if (ns === 'all') out.namespaces = { all: true };
  } else if (Array.isArray(ns)) {
    const bad = ns.filter((n) => typeof n !== 'string' || !DNS_LABEL.test(n));
    if (bad.length || ns.length === 0)
      errors.push({
        path: p('namespaces'),
        message: ns.length
          ? `not namespace names: ${bad.map((b) => JSON.stringify(b)).join(', ')}`
          : 'an empty list reads nothing; leave it out to read all namespaces',
      });
    else out.namespaces = { names: [...new Set(ns as string[])].sort() };
  } else if (
    typeof ns === 'object' &&
    Object.keys(ns).length === 1 &&
    typeof (ns as { selector?: unknown }).selector === 'string'
  ) {
    const sel = (ns as { selector: string }).selector.trim();
    if (!sel)
      errors.push({
        path: p('namespaces.selector'),
        message: 'must be a non-empty label selector, e.g. "mesh=enabled"',
      });
    else out.namespaces = { selector: sel };
  } else
    errors.push({
      path: p('namespaces'),
      message: 'must be "all", a list of namespace names, or {selector: "label=value"}',
    });

  const gwApi = bool(o, 'gatewayApi', p('gatewayApi'));
  if (gwApi !== undefined) out.gatewayApi = gwApi;
  const ws = bool(o, 'writeStatus', p('writeStatus'));
  if (ws !== undefined) out.writeStatus = ws;
  const cn = str(o, 'controllerName', p('controllerName'));
  if (cn !== undefined) {
    if (!/^[a-z0-9.-]+\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(cn))
      errors.push({ path: p('controllerName'), message: 'must be a domain-prefixed path, e.g. example.com/gateway' });
    else out.controllerName = cn;
  }
  const sn = o.secretNamespaces;
  if (sn !== undefined && sn !== null) {
    if (!Array.isArray(sn) || sn.some((n) => typeof n !== 'string' || !DNS_LABEL.test(n)))
      errors.push({ path: p('secretNamespaces'), message: 'must be a list of namespace names ([] reads no Secrets)' });
    else out.secretNamespaces = [...new Set(sn as string[])].sort();
  }
  const le = sub('leaderElection');
  if (le) {
    unknown(le, LE_KNOWN, p('leaderElection'));
    const l: NonNullable<KubernetesSourceOptions['leaderElection']> = {};
    const enabled = bool(le, 'enabled', p('leaderElection.enabled'));
    if (enabled !== undefined) l.enabled = enabled;
    const n = str(le, 'namespace', p('leaderElection.namespace'));
    if (n !== undefined) {
      if (!DNS_LABEL.test(n)) errors.push({ path: p('leaderElection.namespace'), message: 'must be a namespace name' });
      else l.namespace = n;
    }
    const ln = str(le, 'leaseName', p('leaderElection.leaseName'));
    if (ln !== undefined) {
      if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(ln))
        errors.push({ path: p('leaderElection.leaseName'), message: 'must be a lower-case DNS name' });
      else l.leaseName = ln;
    }
    const ls = le.leaseSeconds;
    if (ls !== undefined && ls !== null) {
      if (typeof ls !== 'number' || !Number.isInteger(ls) || ls < 2 || ls > 3600)
        errors.push({ path: p('leaderElection.leaseSeconds'), message: 'must be an integer in 2..3600' });
      else l.leaseSeconds = ls;
    }
    const id = str(le, 'identity', p('leaderElection.identity'));
    if (id !== undefined) l.identity = id;
    out.leaderElection = l;
  }
  return errors.length ? { errors } : { options: out, errors };
}
