// What istiod returns is checked before it replaces anything: CreateCertificate answers with whatever its CA
// signed, and a gateway that served a chain for the wrong identity, out of order, or not leading to the mesh's
// root would fail every upstream handshake (or, worse, present someone else's name).
import { type X509Certificate, createPrivateKey } from 'node:crypto';
import { parseCertsPem, sansOf, verifyChain } from '@meshgate/certs';
import { IstioError } from './errors.ts';

export interface CheckedChain {
  /** Leaf first, then the intermediates; the root is left out (peers have it). */
  chainPem: string;
  /** The anchor the chain ends at, as given by istiod (it is one of the configured roots). */
  rootPem: string;
  leaf: X509Certificate;
  notBefore: Date;
  notAfter: Date;
}

export interface ChainExpectations {
  /** spiffe://<td>/ns/<ns>/sa/<sa>: the leaf must carry exactly this URI SAN and no other. */
  spiffeId: string;
  /** PEM of the roots (root-cert.pem of the istio-ca-root-cert ConfigMap; may hold several during a root change). */
  rootsPem: string;
  /** PKCS#8 PEM of the key the CSR was made with: the leaf must be for this key. */
  keyPem?: string;
  at?: Date;
}

function fail(message: string): never {
  throw new IstioError('CHAIN_INVALID', `istiod's certificate chain was rejected: ${message}`);
}

export function parseRoots(rootsPem: string, what = 'root-cert.pem'): X509Certificate[] {
  let roots: X509Certificate[];
  try {
    roots = parseCertsPem(rootsPem, what);
  } catch (err) {
    throw new IstioError('ROOT_INVALID', `${what} is not PEM certificates: ${(err as Error).message}`);
  }
  if (roots.length === 0) throw new IstioError('ROOT_INVALID', `${what} holds no certificate`);
  for (const r of roots) {
    if (!r.ca)
      throw new IstioError(
        'ROOT_INVALID',
        `${what}: "${r.subject}" is not a CA certificate; it cannot be an Istio root`,
      );
  }
  return roots;
}

/**
 * Checks cert_chain as CreateCertificate returned it: each entry is one PEM certificate, leaf first and root last
 * (istio's own agent refuses a chain of one), each signed by the next, the last one among the configured roots, the
 * leaf an end-entity certificate for our key carrying exactly the expected SPIFFE ID, all valid now.
 */
export function checkIstioChain(certChain: readonly string[], exp: ChainExpectations): CheckedChain {
  const roots = parseRoots(exp.rootsPem);
  if (certChain.length < 2)
    fail(`it has ${certChain.length} certificate(s); istiod sends the leaf and at least the root`);
  const certs = certChain.map((pem, i) => {
    let parsed: X509Certificate[];
    try {
      parsed = parseCertsPem(pem, `cert_chain[${i}]`);
    } catch (err) {
      fail((err as Error).message);
    }
    if (parsed.length !== 1) fail(`cert_chain[${i}] holds ${parsed.length} certificates; expected exactly one`);
    return parsed[0];
  });
  const leaf = certs[0];
  if (leaf.ca)
    fail(`the first certificate ("${leaf.subject || leaf.subjectAltName}") is a CA; the leaf must come first`);

  const sans = sansOf(leaf);
  const all = [...sans.uris, ...sans.dns, ...sans.other];
  if (all.length !== 1 || sans.uris[0] !== exp.spiffeId) {
    fail(`the leaf's SANs are [${all.join(', ') || 'none'}]; expected exactly "${exp.spiffeId}"`);
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    const c = certs[i];
    const issuer = certs[i + 1];
    if (c.issuer !== issuer.subject || !c.checkIssued(issuer) || !c.verify(issuer.publicKey)) {
      fail(`cert_chain[${i}] is not signed by cert_chain[${i + 1}]; the chain must run from the leaf to the root`);
    }
  }
  const last = certs[certs.length - 1];
  if (!roots.some((r) => r.raw.equals(last.raw))) {
    fail(
      `the last certificate ("${last.subject}") is not a root of istio-ca-root-cert; istiod's CA and the root the gateway trusts differ (root being changed, or the wrong istiod)`,
    );
  }
  if (exp.keyPem !== undefined) {
    let ok = false;
    try {
      ok = leaf.checkPrivateKey(createPrivateKey(exp.keyPem));
    } catch {
      ok = false;
    }
    if (!ok) fail("the leaf's public key is not the one of the CSR sent");
  }
  const v = verifyChain(leaf, certs.slice(1, -1), roots, { at: exp.at, expectedSan: exp.spiffeId });
  if (!v.ok) fail(v.message);
  return {
    chainPem: certs
      .slice(0, -1)
      .map((c) => c.toString())
      .join(''),
    rootPem: last.toString(),
    leaf,
    notBefore: leaf.validFromDate,
    notAfter: leaf.validToDate,
  };
}
