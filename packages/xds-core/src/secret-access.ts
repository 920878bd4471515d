// Which Secrets carry key material, and who may have them when the embedder does not say. A trust bundle
// (validation context) is public; anything else a Secret can hold (a certificate with its private key, session
// ticket keys, a generic secret) is not, and goes out by default only to a client whose certificate the xDS port
// verified. Refusing means answering as if the Secret did not exist: xDS has no per-resource error a server can send
// back, and failing the stream would take every other resource away from the node too.
import type { PeerIdentity } from './peer.ts';
import type { XdsNode } from './status.ts';
import type { CachedResource } from './types.ts';

/** authorizeSecret's answer: true serves the Secret; false or `{ refuse }` withholds it, `refuse` saying why. */
export type SecretDecision = boolean | { refuse: string };

export interface SecretInfo {
  /** The Secret holds more than a validation context (trust bundle): a private key or other secret material. */
  holdsKey: boolean;
}

/** Fields of a Secret that are safe for anyone: its name and a trust bundle. Anything else counts as key material. */
const PUBLIC_FIELDS = new Set(['name', 'validation_context', '@type']);
const holdsKeyCache = new WeakMap<object, boolean>();

/** Whether a Secret (decoded, snake_case) carries key material. Unknown fields count as key material. */
export function secretHoldsKey(secret: object): boolean {
  for (const [k, v] of Object.entries(secret)) if (!PUBLIC_FIELDS.has(k) && v !== undefined && v !== null) return true;
  return false;
}

/** secretHoldsKey of a cached resource, computed once per resource. */
export function cachedSecretHoldsKey(r: CachedResource): boolean {
  let v = holdsKeyCache.get(r);
  if (v === undefined) holdsKeyCache.set(r, (v = secretHoldsKey(r.object)));
  return v;
}

export const UNAUTHENTICATED_REFUSAL =
  'the Secret holds a private key and this xDS connection has no verified client certificate; serve xDS over mutual TLS';

/** XdsServer's rule without an authorizeSecret option: trust bundles for every node, key material over mTLS only. */
export function defaultAuthorizeSecret(
  _node: XdsNode,
  _name: string,
  peer: PeerIdentity | undefined,
  info: SecretInfo,
): SecretDecision {
  if (!info.holdsKey || peer) return true;
  return { refuse: UNAUTHENTICATED_REFUSAL };
}
