// Mutual TLS to the destination controller as a meshed proxy reaches it: the gateway's Linkerd certificate as client
// certificate (the proxy in front of the controller requires one), the controller's certificate checked for exactly
// its Linkerd name under the trust anchors. The certificate changes with every rotation; grpc-js takes it from a
// certificate provider, so new connections use the current one without recreating the watches.
import { checkServerIdentity as tlsCheckServerIdentity, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

type Provider = grpc.experimental.CertificateProvider;
type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdListener = grpc.experimental.IdentityCertificateUpdateListener;

/** `linkerd-destination.<linkerd-ns>.serviceaccount.identity.<linkerd-ns>.<trust-domain>` */
export function destinationServerName(controlNamespace = 'linkerd', trustDomain = 'cluster.local'): string {
  return `linkerd-destination.${controlNamespace}.serviceaccount.identity.${controlNamespace}.${trustDomain}`;
}

/** A certificate provider fed by the caller (the rotation manager), for grpc-js's provider credentials. */
export class LinkerdCertificateProvider implements Provider {
  #ca: grpc.experimental.CaCertificateUpdate | undefined;
  #id: grpc.experimental.IdentityCertificateUpdate | undefined;
  readonly #caListeners = new Set<CaListener>();
  readonly #idListeners = new Set<IdListener>();

  /** The gateway's current Linkerd certificate: chain (leaf first), PKCS#8 key and the trust anchors, all PEM. */
  update(m: { chainPem: string; keyPem: string; bundlePem: string }): void {
    this.#ca = { caCertificate: Buffer.from(m.bundlePem) };
    this.#id = { certificate: Buffer.from(m.chainPem), privateKey: Buffer.from(m.keyPem) };
    for (const l of this.#caListeners) l(this.#ca);
    for (const l of this.#idListeners) l(this.#id);
  }
  addCaCertificateListener(l: CaListener): void {
    this.#caListeners.add(l);
    if (this.#ca) l(this.#ca);
  }
  removeCaCertificateListener(l: CaListener): void {
    this.#caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdListener): void {
    this.#idListeners.add(l);
    if (this.#id) l(this.#id);
  }
  removeIdentityCertificateListener(l: IdListener): void {
    this.#idListeners.delete(l);
  }
}

/** Rejects any certificate whose DNS SANs are not exactly `serverName` (no wildcard, no second name). */
export function exactLinkerdName(serverName: string, what: string) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    const names = (cert.subjectaltname ?? '').split(', ').filter(Boolean);
    if (names.length !== 1 || names[0] !== `DNS:${serverName}`) {
      return new Error(`${what} presented [${names.join(', ') || 'no names'}], expected exactly DNS:${serverName}`);
    }
    return tlsCheckServerIdentity(serverName, cert);
  };
}

/** Credentials and channel options for a DestinationWatch over mutual TLS. Connections wait for the first update. */
export function destinationTls(
  provider: LinkerdCertificateProvider,
  serverName: string,
): { credentials: grpc.ChannelCredentials; channelOptions: grpc.ChannelOptions } {
  return {
    credentials: grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
      checkServerIdentity: exactLinkerdName(serverName, 'the destination endpoint'),
    }),
    channelOptions: { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName },
  };
}
