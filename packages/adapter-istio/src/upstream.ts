// How the gateway reaches one Service port of an Istio mesh, decided the way istiod decides it for an ingress
// gateway (a `router` proxy), as plain data: per endpoint Istio mTLS or plaintext, the SNI, ALPN and exact SPIFFE
// SANs of an Istio client, and the policy (PeerAuthentication, DestinationRule) that changes it. Pure: the caller
// hands in the pods and policy objects it watches. Deliberate differences from istiod are listed in docs/istio.md.
import type { Endpoint, SanMatch, ServiceProtocol, UpstreamTls } from '@meshgate/model';
import type { ResolvedCredential } from './credentials.ts';

/** The pod label Istio's injector sets on pods whose sidecar terminates mTLS (`istio`) or not (`disabled`). */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
/** The endpoint TLS profile key of Istio mTLS endpoints; Envoy matches it as `{tlsMode: istio}`, as istiod does. */
export const ISTIO_PROFILE = 'istio';

/**
 * What an Istio client offers after istiod's `istio.alpn` HTTP filter has replaced the cluster's in-mesh ALPN
 * (istio/istio pilot/pkg/xds/filters: mtlsHTTP11ALPN, mtlsHTTP2ALPN; util.ALPNInMesh for TCP). Upstream Envoy and
 * gRPC clients have no such filter, so the final list goes on the cluster itself.
 */
export function istioAlpn(protocol: ServiceProtocol | undefined): string[] {
  if (protocol === 'grpc' || protocol === 'http2') return ['istio-h2', 'istio', 'h2'];
  if (protocol === 'tcp') return ['istio'];
  return ['istio-http/1.1', 'istio', 'http/1.1'];
}

/** Istio's SNI for a cluster without subset: `outbound_.<port>_._.<fqdn>` (model.BuildDNSSrvSubsetKey). */
export function istioSni(fqdn: string, port: number): string {
  return `outbound_.${port}_._.${fqdn}`;
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * Each SPIFFE ID again under every trust domain alias (Istio's spiffe.ExpandWithTrustDomains): a workload whose
 * certificate still carries an old trust domain passes secure naming during a trust domain migration.
 */
export function expandTrustDomains(ids: readonly string[], aliases: readonly string[]): string[] {
  const out = new Set(ids);
  for (const id of ids) {
    const m = /^spiffe:\/\/[^/]+(\/.*)$/.exec(id);
    if (m) for (const td of aliases) out.add(`spiffe://${td}${m[1]}`);
  }
  return [...out];
}

export interface IstioPod {
  namespace: string;
  name: string;
  serviceAccount: string;
  labels: Readonly<Record<string, string>>;
}

/** A PeerAuthentication or DestinationRule as the API server has it (spec read field by field with checks). */
export interface IstioPolicyObject {
  namespace: string;
  name: string;
  creationTimestamp?: string;
  // biome-ignore lint/suspicious/noExplicitAny: raw spec, read defensively
  spec: any;
}

export interface IstioPolicies {
  peerAuthentications: readonly IstioPolicyObject[];
  destinationRules: readonly IstioPolicyObject[];
}

export interface IstioUpstreamOptions {
  trustDomain: string;
  /** The mesh config's `trustDomainAliases`: secure-naming SANs are also accepted under these trust domains. */
  trustDomainAliases?: readonly string[];
  /** DNS domain of Service FQDNs. Default 'cluster.local'. */
  clusterDomain?: string;
  /** Istio's root namespace: mesh-wide PeerAuthentication and DestinationRules. Default 'istio-system'. */
  rootNamespace?: string;
  /** The gateway's own namespace: its DestinationRules come first, as for any Istio client. */
  gatewayNamespace?: string;
  /** Model names of the gateway's Istio certificate and the Istio root. */
  clientIdentity: string;
  trustBundle: string;
  /**
   * The model parts of a DestinationRule `credentialName` (a Secret in the gateway's namespace); absent when the
   * gateway's namespace is unknown, and then SIMPLE/MUTUAL cannot be honoured.
   */
  credential?: (credentialName: string) => ResolvedCredential;
}

export interface IstioServicePort {
  namespace: string;
  service: string;
  /** The Service port (SNI and DestinationRule port-level settings use it, not the target port). */
  port: number;
  protocol?: ServiceProtocol;
  endpoints: readonly { endpoint: Endpoint; pod?: IstioPod }[];
  /** Service accounts of every pod behind the Service (secure naming). */
  serviceAccounts: readonly string[];
}

export type IstioConditionReason =
  | 'StrictWithoutSidecar'
  | 'NoServiceAccount'
  | 'UnsupportedTlsMode'
  | 'DestinationRuleCredential';

/** Something an operator must see: policy the gateway cannot honour as written. */
export interface IstioCondition {
  reason: IstioConditionReason;
  message: string;
}

export interface IstioUpstream {
  tls?: UpstreamTls;
  endpointTls?: Record<string, UpstreamTls>;
  endpoints: Endpoint[];
  conditions: IstioCondition[];
  /** Where the decision came from, for /debug: `DestinationRule ns/name`, or `PeerAuthentication`. */
  decidedBy: string;
}

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

const MODES = new Set(['STRICT', 'PERMISSIVE', 'DISABLE']);
const modeOf = (m: unknown): MtlsMode | undefined =>
  typeof m === 'string' && MODES.has(m) ? (m as MtlsMode) : undefined;

const olderFirst = (a: IstioPolicyObject, b: IstioPolicyObject) =>
  (a.creationTimestamp ?? '').localeCompare(b.creationTimestamp ?? '') || a.name.localeCompare(b.name);

function matchLabels(spec: unknown): Record<string, string> | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: raw spec
  const m = (spec as any)?.selector?.matchLabels;
  return m && typeof m === 'object' && Object.keys(m).length > 0 ? (m as Record<string, string>) : undefined;
}

/**
 * The PeerAuthentication mode that applies to a workload port, as Istio resolves it: the oldest matching workload
 * policy (its port-level setting first), then the namespace policy, then the mesh policy in the root namespace,
 * each UNSET inheriting from the next; PERMISSIVE when none says. A pod-less endpoint sees namespace and mesh only.
 */
export function peerAuthenticationMode(
  policies: readonly IstioPolicyObject[],
  namespace: string,
  labels: Readonly<Record<string, string>> | undefined,
  port: number,
  rootNamespace = 'istio-system',
): { mode: MtlsMode; from?: string } {
  const inNs = policies.filter((p) => p.namespace === namespace).sort(olderFirst);
  if (labels) {
    for (const p of inNs) {
      const sel = matchLabels(p.spec);
      // A selector in the root namespace is ignored (Istio: selectors there do not apply mesh-wide).
      if (!sel || namespace === rootNamespace) continue;
      if (!Object.entries(sel).every(([k, v]) => labels[k] === v)) continue;
      const portMode = modeOf(p.spec?.portLevelMtls?.[String(port)]?.mode);
      if (portMode) return { mode: portMode, from: `${p.namespace}/${p.name}` };
      const mode = modeOf(p.spec?.mtls?.mode);
      if (mode) return { mode, from: `${p.namespace}/${p.name}` };
      break; // the oldest matching workload policy is the one that applies, even when it inherits
    }
  }
  for (const ns of namespace === rootNamespace ? [namespace] : [namespace, rootNamespace]) {
    const p = policies
      .filter((x) => x.namespace === ns && !matchLabels(x.spec))
      .sort(olderFirst)
      .find(() => true);
    const mode = modeOf(p?.spec?.mtls?.mode);
    if (p && mode) return { mode, from: `${p.namespace}/${p.name}` };
  }
  return { mode: 'PERMISSIVE' };
}

function hostMatches(host: string, drNamespace: string, fqdn: string, domain: string): 'exact' | number | undefined {
  const h = host.includes('.') || host === '*' || host.startsWith('*.') ? host : `${host}.${drNamespace}.svc.${domain}`;
  if (h === fqdn) return 'exact';
  if (h === '*') return 0;
  if (h.startsWith('*.') && fqdn.endsWith(h.slice(1))) return h.length;
  return undefined;
}

/**
 * The DestinationRule TLS settings for a Service port: the gateway's namespace first, then the Service's, then the
 * root namespace (the order Istio looks them up for a client); in one namespace an exact host beats the longest
 * wildcard; a port-level setting beats the rule's own. exportTo is not read.
 */
export function destinationRuleTls(
  rules: readonly IstioPolicyObject[],
  o: {
    fqdn: string;
    namespace: string;
    port: number;
    gatewayNamespace?: string;
    rootNamespace: string;
    domain: string;
  },
  // biome-ignore lint/suspicious/noExplicitAny: raw ClientTLSSettings
): { tls: any; from: string } | undefined {
  const order = [...new Set([o.gatewayNamespace, o.namespace, o.rootNamespace].filter((x): x is string => !!x))];
  for (const ns of order) {
    let best: { rule: IstioPolicyObject; score: number } | undefined;
    for (const r of rules.filter((x) => x.namespace === ns).sort(olderFirst)) {
      if (typeof r.spec?.host !== 'string') continue;
      const m = hostMatches(r.spec.host, r.namespace, o.fqdn, o.domain);
      if (m === undefined) continue;
      const score = m === 'exact' ? Number.MAX_SAFE_INTEGER : m;
      if (!best || score > best.score) best = { rule: r, score };
    }
    if (!best) continue;
    const tp = best.rule.spec.trafficPolicy;
    const portLevel = Array.isArray(tp?.portLevelSettings)
      ? tp.portLevelSettings.find((s: { port?: { number?: number } }) => s?.port?.number === o.port)
      : undefined;
    const tls = portLevel?.tls ?? tp?.tls;
    const from = `DestinationRule ${best.rule.namespace}/${best.rule.name}`;
    return tls?.mode ? { tls, from } : undefined;
  }
  return undefined;
}

/**
 * The upstream of one Service port. With no DestinationRule TLS, as istiod's auto mTLS: Istio mTLS (profile
 * `istio`) to endpoints whose pod carries the sidecar label unless their PeerAuthentication is DISABLE, plaintext to
 * the rest. A workload under STRICT without a sidecar still gets mTLS (never plaintext against STRICT) and a
 * StrictWithoutSidecar condition: it cannot terminate mTLS, so its requests fail until a sidecar is injected or the
 * policy changes. DestinationRule ISTIO_MUTUAL: mTLS to every endpoint; DISABLE: plaintext to every endpoint.
 */
export function istioUpstream(sp: IstioServicePort, policies: IstioPolicies, o: IstioUpstreamOptions): IstioUpstream {
  const domain = o.clusterDomain ?? 'cluster.local';
  const root = o.rootNamespace ?? 'istio-system';
  const fqdn = `${sp.service}.${sp.namespace}.svc.${domain}`;
  const name = `${sp.namespace}/${sp.service}:${sp.port}`;
  const conditions: IstioCondition[] = [];
  const sans = expandTrustDomains(
    sp.serviceAccounts.map((sa) => spiffeId(o.trustDomain, sp.namespace, sa)),
    o.trustDomainAliases ?? [],
  );
  const mtls = (sni?: string, explicitSans?: readonly string[]): UpstreamTls => ({
    sni: sni || istioSni(fqdn, sp.port),
    alpn: istioAlpn(sp.protocol),
    expectedSans: [...new Set(explicitSans?.length ? explicitSans : sans)]
      .sort()
      .map((value) => ({ kind: 'uri', value })),
    trustBundle: o.trustBundle,
    clientIdentity: o.clientIdentity,
  });
  const all = sp.endpoints.map((e) => e.endpoint);
  const noSans = (what: string): IstioUpstream => {
    conditions.push({
      reason: 'NoServiceAccount',
      message: `${name}: ${what} requires Istio mTLS but no pod behind the Service is known, so there is no service account to verify (secure naming); its endpoints are left out until their pods are seen`,
    });
    return { endpoints: [], conditions, decidedBy: what };
  };

  const dr = destinationRuleTls(policies.destinationRules, {
    fqdn,
    namespace: sp.namespace,
    port: sp.port,
    gatewayNamespace: o.gatewayNamespace,
    rootNamespace: root,
    domain,
  });
  if (dr?.tls.mode === 'DISABLE') return { endpoints: all, conditions, decidedBy: dr.from };
  if (dr?.tls.mode === 'ISTIO_MUTUAL') {
    const explicit = Array.isArray(dr.tls.subjectAltNames)
      ? dr.tls.subjectAltNames.filter((s: unknown) => typeof s === 'string')
      : [];
    if (explicit.length === 0 && sans.length === 0) return noSans(dr.from);
    return {
      tls: mtls(typeof dr.tls.sni === 'string' ? dr.tls.sni : undefined, explicit),
      endpoints: all,
      conditions,
      decidedBy: dr.from,
    };
  }
  if (dr?.tls.mode === 'SIMPLE' || dr?.tls.mode === 'MUTUAL')
    return originatedTls(dr.tls, dr.from, {
      name,
      fqdn,
      protocol: sp.protocol,
      endpoints: all,
      credential: o.credential,
    });
  if (dr)
    conditions.push({
      reason: 'UnsupportedTlsMode',
      message: `${name}: ${dr.from} asks for tls.mode ${JSON.stringify(dr.tls.mode)}, which meshgate does not know (ISTIO_MUTUAL, DISABLE, SIMPLE and MUTUAL are); the Service is reached as PeerAuthentication and sidecars decide`,
    });

  const endpoints: Endpoint[] = [];
  const strictNoSidecar: string[] = [];
  let meshed = 0;
  for (const { endpoint, pod } of sp.endpoints) {
    const sidecar = pod?.labels[TLS_MODE_LABEL] === ISTIO_PROFILE;
    const { mode, from } = peerAuthenticationMode(
      policies.peerAuthentications,
      sp.namespace,
      pod?.labels,
      endpoint.port,
      root,
    );
    const wantMtls = sidecar ? mode !== 'DISABLE' : mode === 'STRICT';
    if (!sidecar && mode === 'STRICT')
      strictNoSidecar.push(
        `${pod ? `pod ${pod.name}` : 'an endpoint without a pod'} (${endpoint.address}:${endpoint.port}, PeerAuthentication ${from})`,
      );
    if (wantMtls) meshed++;
    endpoints.push(wantMtls ? { ...endpoint, tlsProfile: ISTIO_PROFILE } : endpoint);
  }
  if (strictNoSidecar.length)
    conditions.push({
      reason: 'StrictWithoutSidecar',
      message: `${name}: STRICT mTLS applies to ${strictNoSidecar.join(', ')}, which has no Istio sidecar (label ${TLS_MODE_LABEL}=istio) to terminate it; meshgate sends mTLS there, never plaintext, so its requests fail: inject the sidecar or relax the PeerAuthentication`,
    });
  if (meshed === 0) return { endpoints, conditions, decidedBy: 'PeerAuthentication' };
  if (sans.length === 0) {
    const r = noSans('PeerAuthentication');
    return { ...r, endpoints: endpoints.filter((e) => e.tlsProfile === undefined) };
  }
  return { endpointTls: { [ISTIO_PROFILE]: mtls() }, endpoints, conditions, decidedBy: 'PeerAuthentication' };
}

/** A SAN of a DestinationRule: a URI when it names a scheme (`spiffe://…`), else a DNS name. */
function sanOf(value: string): SanMatch {
  return { kind: /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? 'uri' : 'dns', value };
}

/**
 * DestinationRule SIMPLE / MUTUAL: TLS that meshgate originates with the rule's own credential, as istiod has a
 * gateway do: the CA (and for MUTUAL the client certificate) of the Secret `credentialName` in the gateway's
 * namespace, the rule's `sni` and `subjectAltNames`, `h2` as ALPN for HTTP/2 and gRPC. Where istiod would accept
 * any certificate from the CA (no `subjectAltNames`: auto SAN validation against the request's Host, or none with a
 * fixed `sni`), meshgate checks the SNI as a DNS SAN: the SNI is the rule's `sni`, else the Service's FQDN. What
 * cannot be honoured (file-mounted credentials, insecureSkipVerify, a missing or broken Secret) leaves every
 * endpoint out with a `DestinationRuleCredential` condition: never plaintext, never an unverified peer.
 */
function originatedTls(
  // biome-ignore lint/suspicious/noExplicitAny: raw ClientTLSSettings
  tls: any,
  from: string,
  c: {
    name: string;
    fqdn: string;
    protocol: ServiceProtocol | undefined;
    endpoints: Endpoint[];
    credential: IstioUpstreamOptions['credential'];
  },
): IstioUpstream {
  const mode = tls.mode as 'SIMPLE' | 'MUTUAL';
  const refuse = (why: string): IstioUpstream => ({
    endpoints: [],
    conditions: [
      {
        reason: 'DestinationRuleCredential',
        message: `${c.name}: ${from} asks for tls.mode ${mode}, but ${why}; its endpoints are left out until that is fixed (never plaintext, never an unverified peer)`,
      },
    ],
    decidedBy: from,
  });
  if (tls.insecureSkipVerify === true)
    return refuse('insecureSkipVerify is set: meshgate always verifies the upstream, remove it');
  const credentialName = typeof tls.credentialName === 'string' ? tls.credentialName : '';
  if (!credentialName) {
    const files = ['clientCertificate', 'privateKey', 'caCertificates'].filter((k) => tls[k]);
    return refuse(
      files.length
        ? `it names files (${files.join(', ')}), which meshgate does not read: put them in a Secret in the gateway's namespace and name it in credentialName`
        : "it has no credentialName: name a Secret in the gateway's namespace with the CA (ca.crt) and, for MUTUAL, the client certificate (tls.crt, tls.key)",
    );
  }
  if (credentialName.includes('://'))
    return refuse(`credentialName ${JSON.stringify(credentialName)} is not a Secret name (only Secrets are read)`);
  if (!c.credential)
    return refuse(
      "the gateway's namespace is unknown, so its Secret cannot be found: set istio.namespace (or run in a pod)",
    );
  const cred = c.credential(credentialName);
  if (!cred.trustBundle) return refuse(String(cred.caProblem));
  if (mode === 'MUTUAL' && !cred.identity) return refuse(String(cred.certProblem));
  const sni = typeof tls.sni === 'string' && tls.sni ? tls.sni : c.fqdn;
  const explicit: string[] = Array.isArray(tls.subjectAltNames)
    ? tls.subjectAltNames.filter((s: unknown): s is string => typeof s === 'string' && s !== '')
    : [];
  const alpn = c.protocol === 'grpc' || c.protocol === 'http2' ? ['h2'] : undefined;
  return {
    tls: {
      sni,
      ...(alpn ? { alpn } : {}),
      expectedSans: (explicit.length ? [...new Set(explicit)].sort() : [sni]).map(sanOf),
      trustBundle: cred.trustBundle.name,
      ...(mode === 'MUTUAL' && cred.identity ? { clientIdentity: cred.identity.name } : {}),
    },
    endpoints: c.endpoints,
    conditions: [],
    decidedBy: from,
  };
}

/**
 * The credentials DestinationRules ask for with SIMPLE or MUTUAL (the rule's own `tls` and its port-level ones), so
 * the caller watches and serves only those: `mutual` when a client certificate is needed too.
 */
export function destinationRuleCredentials(rules: readonly IstioPolicyObject[]): Map<string, { mutual: boolean }> {
  const out = new Map<string, { mutual: boolean }>();
  for (const r of rules) {
    const tp = r.spec?.trafficPolicy;
    const all = [
      tp?.tls,
      ...(Array.isArray(tp?.portLevelSettings) ? tp.portLevelSettings.map((p: { tls?: unknown }) => p?.tls) : []),
    ];
    for (const t of all) {
      if (!t || (t.mode !== 'SIMPLE' && t.mode !== 'MUTUAL')) continue;
      if (typeof t.credentialName !== 'string' || !t.credentialName || t.credentialName.includes('://')) continue;
      const prev = out.get(t.credentialName);
      out.set(t.credentialName, { mutual: (prev?.mutual ?? false) || t.mode === 'MUTUAL' });
    }
  }
  return out;
}
