import { KeyObject, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import type { X509Certificate as NodeCert } from 'node:crypto';
import type { WebCryptoKey, WebCryptoKeyPair } from './x509.ts';
import { CertError } from './errors.ts';

export type KeyType = 'ec-p256' | 'rsa-2048';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'rsa-2048'];

export function assertKeyType(value: unknown, what = 'key type'): KeyType {
  if (value === 'ec-p256' || value === 'rsa-2048') return value;
  throw new CertError('KEY_TYPE_INVALID', `unknown ${what} "${String(value)}"; use "ec-p256" (default) or "rsa-2048"`);
}

const subtle = webcrypto.subtle;

export async function generateKeyPair(type: KeyType): Promise<WebCryptoKeyPair> {
  const alg =
    type === 'ec-p256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  return (await subtle.generateKey(alg, true, ['sign', 'verify'])) as WebCryptoKeyPair;
}

export async function privateKeyToPkcs8Pem(key: WebCryptoKey): Promise<string> {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A human description of a key: "EC P-256", "RSA 2048". */
export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      return `EC ${curveName(d.namedCurve)}`;
    case 'rsa':
      return `RSA ${d.modulusLength ?? '?'}`;
    default:
      return String(key.asymmetricKeyType ?? 'unknown').toUpperCase();
  }
}

function curveName(c: string | undefined): string {
  if (c === 'prime256v1' || c === 'P-256') return 'P-256';
  if (c === 'secp384r1' || c === 'P-384') return 'P-384';
  if (c === 'secp521r1' || c === 'P-521') return 'P-521';
  return c ?? '?';
}

/** The KeyType of a key, or undefined when it is neither EC P-256 nor RSA 2048. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && curveName(d.namedCurve) === 'P-256') return 'ec-p256';
  if (key.asymmetricKeyType === 'rsa' && d.modulusLength === 2048) return 'rsa-2048';
  return undefined;
}

/** Keys a CA may sign with: EC P-256/P-384 or RSA >= 2048. */
export function signingParamsFor(key: KeyObject):
  | {
      importAlg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
      signAlg: { name: string; hash: string };
    }
  | undefined {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = curveName(d.namedCurve);
    if (curve === 'P-256')
      return { importAlg: { name: 'ECDSA', namedCurve: 'P-256' }, signAlg: { name: 'ECDSA', hash: 'SHA-256' } };
    if (curve === 'P-384')
      return { importAlg: { name: 'ECDSA', namedCurve: 'P-384' }, signAlg: { name: 'ECDSA', hash: 'SHA-384' } };
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa' && (d.modulusLength ?? 0) >= 2048) {
    return {
      importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      signAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    };
  }
  return undefined;
}

/** Parse a private key PEM (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1). `what` names its source for errors. */
export function parsePrivateKey(pem: string, what: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new CertError(
      'CA_KEY_INVALID',
      `${what}: no "-----BEGIN PRIVATE KEY-----" block found; provide an unencrypted PEM private key`,
    );
  }
  if (/ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new CertError(
      'CA_KEY_INVALID',
      `${what}: the private key is encrypted; decrypt it first (openssl pkey -in KEY -out KEY.plain)`,
    );
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The underlying OpenSSL message can quote key bytes in edge cases; keep it out of the error.
    throw new CertError(
      'CA_KEY_INVALID',
      `${what}: the private key cannot be parsed; check the file is a complete, unencrypted PEM key`,
    );
  }
}

export async function toSigningKey(
  key: KeyObject,
  what: string,
): Promise<{ cryptoKey: WebCryptoKey; signAlg: { name: string; hash: string } }> {
  const p = signingParamsFor(key);
  if (!p) {
    throw new CertError(
      'CA_KEY_UNSUPPORTED',
      `${what}: a ${describeKey(key)} key cannot sign here; use an EC P-256/P-384 or RSA >= 2048 CA key`,
    );
  }
  const cryptoKey = key.toCryptoKey(p.importAlg, false, ['sign']) as unknown as WebCryptoKey;
  return { cryptoKey, signAlg: p.signAlg };
}

/** A random positive 128-bit serial: 16 bytes, top bit clear so DER needs no sign byte, never zero-led. */
export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01;
  return b.toString('hex');
}

export function certKeyType(cert: NodeCert): KeyType | undefined {
  return keyTypeOf(cert.publicKey);
}
