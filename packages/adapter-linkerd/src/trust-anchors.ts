import type { X509Certificate } from 'node:crypto';
import { describeKey, keyTypeOf, labelOf, parseCertsPem } from '@meshgate/certs';
import { LinkerdError } from './errors.ts';

/** Where Linkerd publishes its trust anchors: this ConfigMap in the control-plane namespace, this key. */
export const TRUST_ROOTS_CONFIGMAP = 'linkerd-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';

export function trustRootsSource(controlNamespace = 'linkerd'): string {
  return `ConfigMap ${controlNamespace}/${TRUST_ROOTS_CONFIGMAP} key ${TRUST_ROOTS_KEY}`;
}

/**
 * The trust anchors of a PEM bundle, each checked as Linkerd requires of its anchors: a parseable X.509 CA
 * certificate with an ECDSA P-256 key, currently valid. `what` names the input in errors (default: the ConfigMap).
 * Any problem throws, so a bad bundle never replaces a good one.
 */
export function parseTrustAnchors(
  pem: unknown,
  opts: { what?: string; now?: Date } = {},
): { certs: X509Certificate[]; pem: string } {
  const what = opts.what ?? trustRootsSource();
  const fix = `put the PEM trust anchor(s) of the Linkerd control plane there (the ECDSA P-256 root that signed the identity issuer)`;
  if (typeof pem !== 'string' || pem.trim() === '') {
    throw new LinkerdError('TRUST_ANCHORS_INVALID', `${what} is empty; ${fix}`);
  }
  let certs: X509Certificate[];
  try {
    certs = parseCertsPem(pem, what, { allowEmpty: true });
  } catch (err) {
    throw new LinkerdError('TRUST_ANCHORS_INVALID', `${(err as Error).message}; ${fix}`);
  }
  if (certs.length === 0) {
    throw new LinkerdError('TRUST_ANCHORS_INVALID', `${what} holds no "-----BEGIN CERTIFICATE-----" block; ${fix}`);
  }
  const at = (opts.now ?? new Date()).getTime();
  for (const [i, c] of certs.entries()) {
    const which = `${what}: certificate #${i + 1} ("${labelOf(c)}")`;
    if (!c.ca)
      throw new LinkerdError('TRUST_ANCHORS_INVALID', `${which} is not a CA certificate (basicConstraints cA); ${fix}`);
    if (keyTypeOf(c.publicKey) !== 'ec-p256') {
      throw new LinkerdError(
        'TRUST_ANCHORS_INVALID',
        `${which} has a ${describeKey(c.publicKey)} key; Linkerd trust anchors are ECDSA P-256`,
      );
    }
    if (at > c.validToDate.getTime()) {
      throw new LinkerdError(
        'TRUST_ANCHORS_INVALID',
        `${which} expired at ${c.validToDate.toISOString()}; rotate the Linkerd trust anchor`,
      );
    }
  }
  return { certs, pem: certs.map((c) => c.toString()).join('') };
}

/** The anchors of a ConfigMap object as the Kubernetes API returns it (`data[ca-bundle.crt]`). */
export function trustAnchorsFromConfigMap(
  configMap: { metadata?: { namespace?: string; name?: string }; data?: Record<string, string> } | undefined,
  opts: { now?: Date } = {},
): { certs: X509Certificate[]; pem: string } {
  const ns = configMap?.metadata?.namespace ?? 'linkerd';
  const name = configMap?.metadata?.name ?? TRUST_ROOTS_CONFIGMAP;
  const what = `ConfigMap ${ns}/${name} key ${TRUST_ROOTS_KEY}`;
  const value = configMap?.data?.[TRUST_ROOTS_KEY];
  if (value === undefined) {
    throw new LinkerdError(
      'TRUST_ANCHORS_INVALID',
      `${what} is missing; the Linkerd control plane publishes its trust anchors there (check the Linkerd namespace setting)`,
    );
  }
  return parseTrustAnchors(value, { what, now: opts.now });
}
