import { X509Certificate } from 'node:crypto';
import { CertError } from './errors.ts';

export interface PemBlock {
  label: string;
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. Text between blocks (openssl's "subject=" headers, comments) is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2].replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length === 0) {
      throw new CertError('PEM_INVALID', `PEM block "${m[1]}" has a body that is not base64; re-export the file`);
    }
    out.push({ label: m[1], der: Buffer.from(body, 'base64') });
  }
  return out;
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Parse every CERTIFICATE block of a PEM text. `what` names the input (a file, a field) for the error message.
 * Throws when there is no certificate or one cannot be parsed.
 */
export function parseCertsPem(text: string, what: string, opts: { allowEmpty?: boolean } = {}): X509Certificate[] {
  let blocks: PemBlock[];
  try {
    blocks = pemBlocks(text);
  } catch (err) {
    throw new CertError('PEM_INVALID', `${what}: ${(err as Error).message}`);
  }
  const certs: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    if (b.label !== 'CERTIFICATE') continue;
    try {
      certs.push(new X509Certificate(b.der));
    } catch {
      throw new CertError(
        'PEM_INVALID',
        `${what}: certificate #${i + 1} is not a valid X.509 certificate; check the file is not truncated or edited`,
      );
    }
  }
  if (certs.length === 0 && !opts.allowEmpty) {
    throw new CertError(
      'PEM_INVALID',
      `${what}: no "-----BEGIN CERTIFICATE-----" block found; provide PEM-encoded certificates`,
    );
  }
  return certs;
}

export function certsToPem(certs: readonly X509Certificate[]): string {
  return certs.map((c) => derToPem(c.raw)).join('');
}
