// Who may fetch an identity's Secret. A Secret holding a private key goes only to a client whose
// certificate the xDS port verified (`xds.tls`) and that the identity's `allowedNodes` admits,
// unless `xds.insecureAllowUnauthenticatedSecrets` opts out for local development. The node id and
// cluster are whatever the client writes in its xDS Node message, so on their own they only keep
// honest clients apart; a URI SAN (SPIFFE ID) or DNS SAN is checked against the verified client
// certificate, so it binds the Secret to a key the client holds. Trust bundles go to anyone.
import type { PeerIdentity } from '@meshgate/xds-core';

export type AllowedEntry =
  | { kind: 'uri'; value: string } // `spiffe://example.org/ns/gw/sa/gw`: a verified URI SAN
  | { kind: 'dns'; value: string } // `dns:gw.example.org`: a verified DNS SAN
  | { kind: 'node'; value: string }; // anything else: the node id or node cluster the client declares

export function parseAllowedEntry(entry: string): AllowedEntry {
  if (entry.includes('://')) return { kind: 'uri', value: entry };
  if (entry.startsWith('dns:')) return { kind: 'dns', value: entry.slice(4).toLowerCase() };
  return { kind: 'node', value: entry };
}

/** Why an entry can never match as written, or undefined. */
export function allowedEntryProblem(entry: string): string | undefined {
  const e = parseAllowedEntry(entry);
  if (e.kind === 'dns' && e.value === '')
    return `${JSON.stringify(entry)}: write the DNS SAN after dns:, e.g. dns:gateway.example.org`;
  if (e.kind === 'uri' && (!URL.canParse(entry) || /\s/.test(entry)))
    return `${JSON.stringify(entry)} is not a valid URI; write the client's URI SAN, e.g. spiffe://example.org/ns/gw/sa/gateway`;
  return undefined;
}

/**
 * Whether a node may receive a Secret limited to `allowed`. Empty: every node. Entries of one
 * kind are alternatives. When the list has both certificate entries (URI, `dns:`) and node
 * entries, the node must match one of each: a list can only narrow, never widen, what its
 * certificate entries allow. Without a verified client certificate no certificate entry matches.
 */
export function nodeMayHave(
  allowed: readonly string[] | undefined,
  node: { id: string; cluster?: string },
  peer: PeerIdentity | undefined,
): boolean {
  if (!allowed || allowed.length === 0) return true;
  const entries = allowed.map(parseAllowedEntry);
  const certEntries = entries.filter((e) => e.kind !== 'node');
  const nodeEntries = entries.filter((e) => e.kind === 'node');
  const certOk =
    certEntries.length === 0 ||
    (peer !== undefined &&
      certEntries.some((e) =>
        e.kind === 'uri' ? peer.uriSans.includes(e.value) : peer.dnsSans.some((d) => d.toLowerCase() === e.value),
      ));
  const nodeOk =
    nodeEntries.length === 0 ||
    nodeEntries.some(
      (e) => e.value === node.id || (node.cluster !== undefined && node.cluster !== '' && e.value === node.cluster),
    );
  return certOk && nodeOk;
}

/**
 * Start-up (and reload) advice for one identity's allowedNodes, or undefined when there is none.
 * Names and entries only: never anything of the Secret itself.
 */
export function allowedNodesAdvice(
  identity: string,
  allowed: readonly string[] | undefined,
  xdsTls: boolean,
): string | undefined {
  if (!allowed || allowed.length === 0) return undefined;
  const entries = allowed.map(parseAllowedEntry);
  const bound = entries.some((e) => e.kind !== 'node');
  if (xdsTls && !bound) {
    return `identity ${JSON.stringify(identity)}: allowedNodes ${JSON.stringify(allowed)} are node ids or clusters the client declares itself; any client with a certificate from xds.tls.caFile can claim them. Add the client's SPIFFE ID (e.g. spiffe://<trust-domain>/ns/<ns>/sa/<sa>) or dns:<name> to bind the Secret to its certificate`;
  }
  if (!xdsTls && bound) {
    return `identity ${JSON.stringify(identity)}: allowedNodes names certificate identities (${entries
      .filter((e) => e.kind !== 'node')
      .map((e) => (e.kind === 'dns' ? `dns:${e.value}` : e.value))
      .join(
        ', ',
      )}), but the xDS port has no client certificates to check (xds.tls is not set), so no node gets this Secret. Configure xds.tls`;
  }
  return undefined;
}

/** How the xDS port authenticates clients, as far as Secrets with private keys are concerned. */
export interface SecretsPolicy {
  /** `xds.tls` is set: every xDS client presented a certificate from `xds.tls.caFile`. */
  xdsTls: boolean;
  /** `xds.insecureAllowUnauthenticatedSecrets`: serve keys to clients without a verified certificate. */
  insecureAllowUnauthenticated: boolean;
}

const OPT_IN = 'xds.insecureAllowUnauthenticatedSecrets: true (flag --insecure-allow-unauthenticated-secrets)';
const SAFE_SETUP =
  "configure xds.tls (mutual TLS on the xDS port; certificates from `meshgate certs init-ca` and `meshgate certs issue`) and list the SPIFFE ID of the gateway's client certificate in the identity's allowedNodes (allowedNodes: [spiffe://...])";

export type SecretAccess = { ok: true } | { ok: false; reason: string };

/**
 * Whether `node` may have the Secret of identity `allowed` belongs to, which holds a private key;
 * when not, the reason names what the node presented and what to change. Names and SANs only,
 * never anything of the Secret.
 */
export function secretAccess(
  allowed: readonly string[] | undefined,
  node: { id: string; cluster?: string },
  peer: PeerIdentity | undefined,
  policy: SecretsPolicy,
): SecretAccess {
  if (!peer && !policy.insecureAllowUnauthenticated) {
    return {
      ok: false,
      reason: `it holds a private key and this xDS connection has no verified client certificate${policy.xdsTls ? '' : ' (xds.tls is not set)'}; ${SAFE_SETUP} (local development only: ${OPT_IN})`,
    };
  }
  if (nodeMayHave(allowed, node, peer)) return { ok: true };
  const presented = [
    peer
      ? `client certificate URI SANs ${JSON.stringify(peer.uriSans)}, DNS SANs ${JSON.stringify(peer.dnsSans)}`
      : 'no client certificate',
    `node id ${JSON.stringify(node.id)}`,
    `cluster ${JSON.stringify(node.cluster ?? '')}`,
  ].join(', ');
  return {
    ok: false,
    reason: `allowedNodes ${JSON.stringify(allowed)} does not admit this node (${presented}); add the gateway's SPIFFE ID to the identity's allowedNodes`,
  };
}

export interface SecretsWarningInput extends SecretsPolicy {
  /** Every identity (Secret with a private key) meshgate serves, with its allowedNodes. */
  identities: ReadonlyArray<{ name: string; allowedNodes?: readonly string[] }>;
}

/**
 * What to warn about in how identities' private keys are served: at start-up and on reloads (the
 * log), on /readyz and by `meshgate validate`. Names and entries only, never a Secret's content.
 */
export function secretsWarnings(o: SecretsWarningInput): string[] {
  const out: string[] = [];
  const names = o.identities.map((i) => i.name);
  if (o.insecureAllowUnauthenticated && !o.xdsTls) {
    out.push(
      `xds.insecureAllowUnauthenticatedSecrets is on: any process that can reach the xDS port can fetch the private key of every identity not limited to a spiffe:// or dns: entry, by sending any node id (or one its allowedNodes names: without xds.tls that is only what the client declares). Use it for local development only; instead ${SAFE_SETUP}`,
    );
  } else if (o.insecureAllowUnauthenticated) {
    out.push(
      'xds.insecureAllowUnauthenticatedSecrets has no effect: xds.tls already makes every xDS client present a certificate from xds.tls.caFile; remove it',
    );
  } else if (!o.xdsTls && names.length) {
    out.push(
      `identities ${JSON.stringify(names)} hold private keys, and the xDS port does not authenticate clients (xds.tls is not set), so no node gets them over SDS: an Envoy gateway's clusters that present them stay unusable. To serve them, ${SAFE_SETUP}. Proxyless gRPC clients read certificates from files and are not affected. Local development only: ${OPT_IN}`,
    );
    return out;
  }
  for (const i of o.identities) {
    if (o.xdsTls && !i.allowedNodes?.length) {
      out.push(
        `identity ${JSON.stringify(i.name)} has no allowedNodes: every client with a certificate from xds.tls.caFile can fetch its private key. Limit it with allowedNodes: [spiffe://<the gateway's ID>], or issue certificates from xds.tls.caFile to gateways only`,
      );
    }
    const advice = allowedNodesAdvice(i.name, i.allowedNodes, o.xdsTls);
    if (advice) out.push(advice);
  }
  return out;
}
