import type { X509Certificate as NodeCert } from 'node:crypto';
import { x509 } from './x509.ts';

export interface Sans {
  uris: string[];
  dns: string[];
  /** Every other general name, as "type:value" (email, ip, ...). */
  other: string[];
}

// Parsing with @peculiar/x509 gives exact SAN values; Node's subjectAltName string needs unquoting and is lossy.
const parsed = new WeakMap<NodeCert, x509.X509Certificate>();

function peculiar(cert: NodeCert): x509.X509Certificate {
  let p = parsed.get(cert);
  if (!p) {
    p = new x509.X509Certificate(cert.raw);
    parsed.set(cert, p);
  }
  return p;
}

export function sansOf(cert: NodeCert): Sans {
  const ext = peculiar(cert).getExtension(x509.SubjectAlternativeNameExtension);
  const out: Sans = { uris: [], dns: [], other: [] };
  for (const n of ext?.names.items ?? []) {
    if (n.type === 'url') out.uris.push(n.value);
    else if (n.type === 'dns') out.dns.push(n.value);
    else out.other.push(`${n.type}:${n.value}`);
  }
  return out;
}

export function allSans(cert: NodeCert): string[] {
  const s = sansOf(cert);
  return [...s.uris, ...s.dns, ...s.other];
}

/** Key usage flags, or undefined when the extension is absent (which RFC 5280 reads as "any"). */
export function keyUsageOf(cert: NodeCert): number | undefined {
  return peculiar(cert).getExtension(x509.KeyUsagesExtension)?.usages;
}

export function canSignCerts(cert: NodeCert): boolean {
  const ku = keyUsageOf(cert);
  return cert.ca && (ku === undefined || (ku & x509.KeyUsageFlags.keyCertSign) !== 0);
}

export function isSelfSigned(cert: NodeCert): boolean {
  return cert.subject === cert.issuer && safeVerify(cert, cert);
}

/** Whether `issuer`'s key made `cert`'s signature (no name or CA checks). */
export function safeVerify(cert: NodeCert, issuer: NodeCert): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export function fingerprintOf(cert: NodeCert): string {
  return cert.fingerprint256;
}

export function subjectKeyIdOf(cert: NodeCert): string | undefined {
  return peculiar(cert).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
}

/** A short label for messages: the subject, or the first SAN when the subject is empty. */
export function labelOf(cert: NodeCert): string {
  if (cert.subject) return cert.subject.replace(/\n/g, ', ');
  const s = allSans(cert);
  return s.length ? `(empty subject) SAN ${s[0]}` : '(empty subject)';
}

/** The SAN extension of a CSR (its extensionRequest attribute), if any. */
export function csrSanExtension(req: x509.Pkcs10CertificateRequest): x509.SubjectAlternativeNameExtension | undefined {
  const ext = req.extensions.find((e) => e.type === '2.5.29.17');
  if (!ext) return undefined;
  return ext instanceof x509.SubjectAlternativeNameExtension
    ? ext
    : new x509.SubjectAlternativeNameExtension(ext.rawData);
}
