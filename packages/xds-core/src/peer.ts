// The TLS peer's identity (SANs) for SDS authorization, read from the client certificate grpc-js exposes when the
// server runs with mTLS credentials.
import { X509Certificate } from 'node:crypto';

export interface PeerIdentity {
  uriSans: string[];
  dnsSans: string[];
}

/** Parses node:crypto's subjectAltName string ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4"). */
export function parseSubjectAltName(san: string | undefined): PeerIdentity {
  const out: PeerIdentity = { uriSans: [], dnsSans: [] };
  if (!san) return out;
  for (const part of san.split(/,\s*/)) {
    const idx = part.indexOf(':');
    if (idx < 0) continue;
    const kind = part.slice(0, idx).trim();
    let value = part.slice(idx + 1).trim();
    // Node writes a value holding a comma or other special characters as a JSON string (commas as \u002c), so
    // splitting on ", " never cuts one value in two; decode it to compare the SAN the certificate really carries.
    if (value.startsWith('"') && value.endsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (kind === 'URI') out.uriSans.push(value);
    else if (kind === 'DNS') out.dnsSans.push(value);
  }
  return out;
}

interface CallWithAuth {
  getAuthContext?: () => { sslPeerCertificate?: { raw?: Buffer } } | undefined;
}

/** Undefined when the stream is not mutual TLS (no client certificate). */
export function peerIdentity(call: unknown): PeerIdentity | undefined {
  try {
    const ctx = (call as CallWithAuth).getAuthContext?.();
    const raw = ctx?.sslPeerCertificate?.raw;
    if (!raw || raw.length === 0) return undefined;
    return parseSubjectAltName(new X509Certificate(raw).subjectAltName);
  } catch {
    return undefined;
  }
}
