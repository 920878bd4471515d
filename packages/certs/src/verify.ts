import { X509Certificate as NodeCert } from 'node:crypto';
import { canSignCerts, labelOf, safeVerify, sansOf } from './certinfo.ts';
import { parseCertsPem } from './pem.ts';

export type VerifyReason =
  | 'expired'
  | 'not-yet-valid'
  | 'unknown-issuer'
  | 'signature-invalid'
  | 'san-mismatch'
  | 'not-a-ca'
  | 'malformed';

export type VerifyResult =
  | {
      ok: true;
      /** Labels (subject, or SAN when the subject is empty) from the leaf to the trust anchor. */
      path: string[];
      /** The certificates from the leaf to the trust anchor (inclusive). */
      certs: NodeCert[];
      anchor: NodeCert;
    }
  | { ok: false; reason: VerifyReason; message: string };

type PemInput = string | NodeCert;

function toCerts(input: PemInput | readonly PemInput[], what: string): NodeCert[] {
  const list = Array.isArray(input) ? input : [input];
  const out: NodeCert[] = [];
  for (const item of list as PemInput[]) {
    if (item instanceof NodeCert) out.push(item);
    else if (item.trim() !== '') out.push(...parseCertsPem(item, what));
  }
  return out;
}

function validityProblem(cert: NodeCert, at: Date, role: string): VerifyResult | undefined {
  if (at.getTime() > cert.validToDate.getTime()) {
    return {
      ok: false,
      reason: 'expired',
      message: `${role} "${labelOf(cert)}" expired at ${cert.validToDate.toISOString()} (checked at ${at.toISOString()})`,
    };
  }
  if (at.getTime() < cert.validFromDate.getTime()) {
    return {
      ok: false,
      reason: 'not-yet-valid',
      message: `${role} "${labelOf(cert)}" is not valid before ${cert.validFromDate.toISOString()} (checked at ${at.toISOString()}); check the clocks`,
    };
  }
  return undefined;
}

/**
 * Verify that `leaf` chains through `chain` (intermediates in any order; the root may be included) to one of
 * `bundle`. Checks names, signatures, validity at `at`, that every issuer is a CA allowed to sign certificates,
 * and optionally that the leaf carries `expectedSan` (URI or DNS). Returns the first problem found, never throws
 * for certificate problems (malformed PEM becomes reason "malformed").
 */
export function verifyChain(
  leafPem: PemInput,
  chainPems: PemInput | readonly PemInput[],
  bundlePems: PemInput | readonly PemInput[],
  opts: { at?: Date; expectedSan?: string } = {},
): VerifyResult {
  let leaf: NodeCert;
  let chain: NodeCert[];
  let bundle: NodeCert[];
  try {
    const leaves = toCerts(leafPem, 'leaf certificate');
    if (leaves.length === 0) return { ok: false, reason: 'malformed', message: 'no leaf certificate given' };
    leaf = leaves[0];
    // A full chain PEM passed as the leaf is common; treat the extra certs as intermediates.
    chain = [...leaves.slice(1), ...toCerts(chainPems, 'certificate chain')];
    bundle = toCerts(bundlePems, 'trust bundle');
  } catch (err) {
    return { ok: false, reason: 'malformed', message: (err as Error).message };
  }
  if (bundle.length === 0)
    return { ok: false, reason: 'unknown-issuer', message: 'the trust bundle is empty; nothing can be trusted' };
  const at = opts.at ?? new Date();

  if (opts.expectedSan !== undefined) {
    const s = sansOf(leaf);
    const found = [...s.uris, ...s.dns];
    if (!found.includes(opts.expectedSan)) {
      return {
        ok: false,
        reason: 'san-mismatch',
        message: `leaf certificate SANs [${found.join(', ') || 'none'}] do not include the expected "${opts.expectedSan}"`,
      };
    }
  }

  const certs: NodeCert[] = [leaf];
  const used = new Set<NodeCert>();
  let current = leaf;
  let role = 'leaf certificate';
  for (let depth = 0; depth < 10; depth++) {
    const bad = validityProblem(current, at, role);
    if (bad) return bad;

    // Prefer a trust anchor: a chain that carries the root too must still end at the bundle's copy.
    const anchors = bundle.filter((b) => b.subject === current.issuer);
    const intermediates = chain.filter((c) => !used.has(c) && c !== current && c.subject === current.issuer);
    const anchor = anchors.find((a) => safeVerify(current, a));
    if (anchor) {
      if (!canSignCerts(anchor)) {
        return {
          ok: false,
          reason: 'not-a-ca',
          message: `trust anchor "${labelOf(anchor)}" is not a CA (basicConstraints cA and keyCertSign are required)`,
        };
      }
      const badAnchor = validityProblem(anchor, at, 'trust anchor');
      if (badAnchor) return badAnchor;
      if (!anchor.raw.equals(current.raw)) certs.push(anchor);
      return { ok: true, path: certs.map(labelOf), certs, anchor };
    }
    const next = intermediates.find((c) => safeVerify(current, c));
    if (!next) {
      if (anchors.length + intermediates.length > 0) {
        return {
          ok: false,
          reason: 'signature-invalid',
          message: `the signature of ${role} "${labelOf(current)}" does not verify with the key of any certificate named "${current.issuer.replace(/\n/g, ', ')}"; the chain or bundle holds a different key of the same name`,
        };
      }
      return {
        ok: false,
        reason: 'unknown-issuer',
        message: `issuer "${current.issuer.replace(/\n/g, ', ')}" of ${role} "${labelOf(current)}" is neither in the chain nor in the trust bundle; add the issuing CA to the bundle or send the intermediates`,
      };
    }
    if (!canSignCerts(next)) {
      return {
        ok: false,
        reason: 'not-a-ca',
        message: `"${labelOf(next)}" signed "${labelOf(current)}" but is not a CA (basicConstraints cA and keyCertSign are required)`,
      };
    }
    used.add(next);
    certs.push(next);
    current = next;
    role = 'intermediate';
  }
  return {
    ok: false,
    reason: 'unknown-issuer',
    message: 'the chain is longer than 10 certificates or loops; check the intermediates',
  };
}
