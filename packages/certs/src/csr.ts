import { x509 } from './x509.ts';
import { resolveSan, type SanInput, type SanType } from './ca.ts';
import { type KeyType, assertKeyType, generateKeyPair, privateKeyToPkcs8Pem } from './keys.ts';
import { derToPem } from './pem.ts';

export interface CreatedCsr {
  csrPem: string;
  /** Raw DER, as Linkerd's `Certify` expects in `certificate_signing_request`. */
  csrDer: Uint8Array;
  /** PKCS#8 PEM of the new key. Never log it. */
  keyPem: string;
  keyType: KeyType;
  san: string;
  sanType: SanType;
}

/**
 * A fresh key and a PKCS#10 request carrying exactly one SAN. A DNS identity is also the CN (Linkerd accepts an empty
 * CN or one equal to the identity); a SPIFFE request has an empty subject, as Istio's agent sends.
 */
export async function createCsr(opts: SanInput & { keyType?: KeyType }): Promise<CreatedCsr> {
  const san = resolveSan(opts);
  const keyType = assertKeyType(opts.keyType ?? 'ec-p256');
  const keys = await generateKeyPair(keyType);
  const name = san.type === 'dns' && san.value.length <= 64 ? new x509.Name([{ '2.5.4.3': [san.value] }]) : undefined;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm:
      keyType === 'ec-p256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        [{ type: san.type === 'uri' ? 'url' : 'dns', value: san.value }],
        name === undefined,
      ),
    ],
  });
  const der = new Uint8Array(req.rawData);
  return {
    csrPem: derToPem(der, 'CERTIFICATE REQUEST'),
    csrDer: der,
    keyPem: await privateKeyToPkcs8Pem(keys.privateKey),
    keyType,
    san: san.value,
    sanType: san.type,
  };
}
