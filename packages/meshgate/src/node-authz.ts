// Who may fetch an identity's Secret (`allowedNodes`). The node id and cluster are whatever the
// client writes in its xDS Node message, so on their own they only keep honest clients apart;
// a URI SAN (SPIFFE ID) or DNS SAN is checked against the client certificate the xDS port's mTLS
// (`xds.tls`) verified, so it binds the Secret to a key the client holds.
import type { PeerIdentity } from '@meshgate/xds-core';
import { parseAllowedEntry } from '@meshgate/model';

// The entry grammar lives in the model, beside Identity.allowedNodes, so every source checks it alike.
export { allowedEntryProblem, parseAllowedEntry } from '@meshgate/model';
export type { AllowedEntry } from '@meshgate/model';

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
