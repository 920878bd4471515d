import type { IssuedCert } from './ca.ts';

/**
 * SDS Secret resources (envoy.extensions.transport_sockets.tls.v3.Secret, protobufjs fromObject form with the
 * proto's snake_case names) for one identity. Names stay the same across rotations so that only the Secret
 * changes and Envoy does not re-warm clusters or listeners (Emissary-ingress #3680 re-warmed clusters on every rotation).
 */
export function sdsSecrets(
  cert: Pick<IssuedCert, 'chainPem' | 'keyPem' | 'bundlePem'>,
  names: { cert: string; roots: string },
): {
  cert: object;
  roots: object;
} {
  return {
    cert: {
      name: names.cert,
      tls_certificate: {
        certificate_chain: { inline_string: cert.chainPem },
        private_key: { inline_string: cert.keyPem },
      },
    },
    roots: {
      name: names.roots,
      validation_context: { trusted_ca: { inline_string: cert.bundlePem } },
    },
  };
}
