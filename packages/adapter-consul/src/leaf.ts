// Checks a leaf certificate from the agent before it replaces the one in service: a bad leaf
// (garbled, wrong key, expired, from another CA, wrong identity) is reported and the previous one
// kept, because pushing it would break every upstream mTLS handshake at once.
import { X509Certificate, createPrivateKey } from 'node:crypto';

export function splitPems(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => `${p}\n`) ?? [];
}

export interface LeafCheck {
  ok: boolean;
  reason?: string;
  notAfter?: Date;
}

/**
 * Validates a leaf: it parses, the key matches, it is inside its validity window, it carries the
 * expected URI SAN (when given), and it chains (through any intermediates it brought along or the
 * roots' intermediates) to one of the roots.
 */
export function validateLeaf(opts: {
  certPem: string;
  privateKeyPem: string;
  rootPems: string[];
  intermediatePems?: string[];
  expectedUri?: string;
  now?: Date;
}): LeafCheck {
  const now = opts.now ?? new Date();
  const chain = splitPems(opts.certPem);
  if (chain.length === 0) return { ok: false, reason: 'CertPEM holds no PEM certificate' };
  let leaf: X509Certificate;
  let extra: X509Certificate[];
  let roots: X509Certificate[];
  try {
    leaf = new X509Certificate(chain[0]);
    extra = [...chain.slice(1), ...(opts.intermediatePems ?? [])].map((p) => new X509Certificate(p));
    roots = opts.rootPems.flatMap(splitPems).map((p) => new X509Certificate(p));
  } catch (e) {
    return { ok: false, reason: `certificate does not parse: ${(e as Error).message}` };
  }
  try {
    const key = createPrivateKey(opts.privateKeyPem);
    if (!leaf.checkPrivateKey(key)) return { ok: false, reason: 'PrivateKeyPEM does not match the certificate' };
  } catch {
    return { ok: false, reason: 'PrivateKeyPEM does not parse' };
  }
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now.getTime())
    return { ok: false, reason: `certificate expired at ${notAfter.toISOString()}`, notAfter };
  // Allow a little clock skew between the agent and us for brand-new certificates.
  if (new Date(leaf.validFrom).getTime() > now.getTime() + 60_000)
    return { ok: false, reason: `certificate not valid before ${new Date(leaf.validFrom).toISOString()}`, notAfter };
  if (opts.expectedUri) {
    const uris = (leaf.subjectAltName ?? '')
      .split(/,\s*/)
      .filter((s) => s.startsWith('URI:'))
      .map((s) => s.slice(4));
    if (!uris.includes(opts.expectedUri))
      return {
        ok: false,
        reason: `certificate URI SANs ${JSON.stringify(uris)} do not include ${opts.expectedUri}`,
        notAfter,
      };
  }
  let cur = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const root = roots.find((r) => cur.checkIssued(r) && cur.verify(r.publicKey));
    if (root) return { ok: true, notAfter };
    const next = extra.find((c) => c !== cur && cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!next) break;
    cur = next;
  }
  return { ok: false, reason: 'certificate does not chain to the Connect roots', notAfter };
}
