import { X509Certificate, createPrivateKey } from 'node:crypto';
import { checkServerIdentity as tlsCheckServerIdentity, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import {
  type CertMaterial,
  createCsr,
  derToPem,
  describeKey,
  keyTypeOf,
  linkerdIdentity,
  sansOf,
  verifyChain,
} from '@meshgate/certs';
import { LinkerdError, redact } from './errors.ts';
import { decodeCertifyResponse, encodeCertifyRequest } from './identity-proto.ts';
import { parseTrustAnchors } from './trust-anchors.ts';

/** The audience the identity controller asks the TokenReview for; the gateway's token must carry it. */
export const IDENTITY_TOKEN_AUDIENCE = 'identity.l5d.io';
const CERTIFY_PATH = '/io.linkerd.proxy.identity.Identity/Certify';

export interface LinkerdIdentityConfig {
  /** The gateway's ServiceAccount and namespace. */
  serviceAccount: string;
  namespace: string;
  /** Linkerd's control-plane namespace. Default "linkerd". */
  controlNamespace?: string;
  /** Default "cluster.local". */
  trustDomain?: string;
}

/** `<sa>.<ns>.serviceaccount.identity.<linkerd-ns>.<trust-domain>`, checked. */
export function gatewayIdentityName(c: LinkerdIdentityConfig): string {
  try {
    return linkerdIdentity(c);
  } catch (err) {
    throw new LinkerdError('CONFIG_INVALID', (err as Error).message);
  }
}

/** The name the identity controller's (proxy-fronted) TLS endpoint presents. */
export function identityServerName(controlNamespace = 'linkerd', trustDomain = 'cluster.local'): string {
  return `linkerd-identity.${controlNamespace}.serviceaccount.identity.${controlNamespace}.${trustDomain}`;
}

export interface CheckedCertificate {
  leaf: X509Certificate;
  notAfter: Date;
  /** Leaf then intermediates, without any certificate that is itself a trust anchor. */
  chainPem: string;
}

/**
 * Checks a certificate the identity controller issued before it is used: the leaf carries exactly one SAN, the DNS
 * name `identity`; its key is ECDSA P-256 and matches `keyPem`; it is not a CA; and it chains through the
 * intermediates to one of `anchors` at `now`. Throws LinkerdError CERT_REJECTED naming the first problem.
 */
export function checkIssuedCertificate(input: {
  leafPem: string;
  intermediatesPem: readonly string[];
  keyPem: string;
  identity: string;
  anchors: readonly X509Certificate[];
  now?: Date;
  /** Names the source in messages, e.g. the identity controller's address. */
  from?: string;
}): CheckedCertificate {
  const from = input.from ? ` from ${input.from}` : '';
  const reject = (why: string) =>
    new LinkerdError('CERT_REJECTED', `the Linkerd certificate for "${input.identity}"${from} was rejected: ${why}`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(input.leafPem);
  } catch {
    throw reject('the leaf certificate is not a valid X.509 certificate');
  }
  const s = sansOf(leaf);
  const all = [...s.dns.map((d) => `DNS:${d}`), ...s.uris.map((u) => `URI:${u}`), ...s.other];
  if (all.length !== 1 || s.dns[0] !== input.identity) {
    throw reject(`its SANs are [${all.join(', ') || 'none'}], expected exactly DNS:${input.identity}`);
  }
  if (keyTypeOf(leaf.publicKey) !== 'ec-p256') {
    throw reject(`its key is ${describeKey(leaf.publicKey)}, Linkerd identities are ECDSA P-256`);
  }
  if (leaf.ca) throw reject('it is a CA certificate, not a workload leaf');
  let keyMatches = false;
  try {
    keyMatches = leaf.checkPrivateKey(createPrivateKey(input.keyPem));
  } catch {
    keyMatches = false;
  }
  if (!keyMatches) throw reject('it was not issued for the key of our request');
  const intermediates: X509Certificate[] = [];
  for (const [i, p] of input.intermediatesPem.entries()) {
    try {
      intermediates.push(new X509Certificate(p));
    } catch {
      throw reject(`intermediate certificate #${i + 1} is not a valid X.509 certificate`);
    }
  }
  const v = verifyChain(leaf, intermediates, input.anchors, { at: input.now });
  if (!v.ok) {
    throw reject(
      `it does not chain to the Linkerd trust anchors (${v.message}); the trust anchors and the identity issuer do not belong together`,
    );
  }
  const anchorDer = input.anchors.map((a) => a.raw);
  const chain = [leaf, ...intermediates.filter((c) => !anchorDer.some((a) => a.equals(c.raw)))];
  return { leaf, notAfter: leaf.validToDate, chainPem: chain.map((c) => c.toString()).join('') };
}

export interface CertifyOptions extends LinkerdIdentityConfig {
  /** host:port of the identity controller (in a cluster: linkerd-identity-headless.<linkerd-ns>.svc.<domain>:8080). */
  address: string;
  /** The ServiceAccount token with audience identity.l5d.io; a function is called for every request (rotation). */
  token: string | (() => string | Promise<string>);
  /** PEM of the trust anchors (ConfigMap linkerd-identity-trust-roots, key ca-bundle.crt). */
  trustAnchorsPem: string | (() => string | Promise<string>);
  /**
   * "tls" (default): TLS to the identity endpoint, whose certificate must carry exactly `serverName` and chain to the
   * trust anchors, as a Linkerd proxy checks it. "plaintext": only for a controller without a proxy in front of it.
   */
  transport?: 'tls' | 'plaintext';
  /** Default linkerd-identity.<linkerd-ns>.serviceaccount.identity.<linkerd-ns>.<trust-domain>. */
  serverName?: string;
  /** Deadline of one Certify call. Default 10 s. */
  timeoutMs?: number;
}

/** A checked Linkerd certificate: usable as RotationManager material (chainPem, keyPem, bundlePem). */
export interface LinkerdCertificate extends CertMaterial {
  chainPem: string;
  /** PKCS#8 PEM. Never log it. */
  keyPem: string;
  bundlePem: string;
  identity: string;
  notAfter: Date;
  /** valid_until as the controller reported it. */
  validUntil: Date | undefined;
}

/** Requests certificates for the gateway from Linkerd's identity controller, over one reused channel. */
export class LinkerdIdentityClient {
  readonly identity: string;
  readonly #opts: CertifyOptions;
  #client: grpc.Client | undefined;
  #clientAnchors: string | undefined;

  constructor(opts: CertifyOptions) {
    if (typeof opts.address !== 'string' || !/^[^\s/]+:\d+$/.test(opts.address)) {
      throw new LinkerdError(
        'CONFIG_INVALID',
        `Linkerd identity address "${String(opts.address)}" is not host:port, e.g. linkerd-identity-headless.linkerd.svc.cluster.local:8080`,
      );
    }
    this.identity = gatewayIdentityName(opts);
    this.#opts = opts;
  }

  /** One Certify round: a fresh P-256 key and CSR, the call, and the checks. */
  async certify(now?: Date): Promise<LinkerdCertificate> {
    const o = this.#opts;
    const token = (typeof o.token === 'function' ? await o.token() : o.token)?.trim?.() ?? '';
    if (!token) {
      throw new LinkerdError(
        'TOKEN_MISSING',
        `no ServiceAccount token for ${o.namespace}/${o.serviceAccount}; mount a projected token with audience ${IDENTITY_TOKEN_AUDIENCE}`,
      );
    }
    const anchors = parseTrustAnchors(
      typeof o.trustAnchorsPem === 'function' ? await o.trustAnchorsPem() : o.trustAnchorsPem,
      {
        what: 'the Linkerd trust anchors (ConfigMap linkerd-identity-trust-roots key ca-bundle.crt)',
        now,
      },
    );
    const csr = await createCsr({ dns: this.identity, keyType: 'ec-p256' });
    const request = encodeCertifyRequest({
      identity: this.identity,
      token: Buffer.from(token),
      certificateSigningRequest: csr.csrDer,
    });
    const res = await this.#call(request, token, anchors.pem);
    if (res.leafCertificate.length === 0) {
      throw new LinkerdError(
        'CERTIFY_FAILED',
        `the Linkerd identity controller at ${o.address} answered Certify for "${this.identity}" without a leaf certificate`,
      );
    }
    const checked = checkIssuedCertificate({
      leafPem: derToPem(res.leafCertificate),
      intermediatesPem: res.intermediateCertificates.map((d) => derToPem(d)),
      keyPem: csr.keyPem,
      identity: this.identity,
      anchors: anchors.certs,
      now,
      from: `the identity controller at ${o.address}`,
    });
    return {
      chainPem: checked.chainPem,
      keyPem: csr.keyPem,
      bundlePem: anchors.pem,
      identity: this.identity,
      notAfter: checked.notAfter,
      validUntil: res.validUntil,
    };
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }

  #channel(anchorsPem: string): grpc.Client {
    // A changed anchor set needs a new TLS context, so the channel follows the anchors.
    if (this.#client && this.#clientAnchors === anchorsPem) return this.#client;
    this.#client?.close();
    const o = this.#opts;
    if ((o.transport ?? 'tls') === 'plaintext') {
      this.#client = new grpc.Client(o.address, grpc.credentials.createInsecure());
    } else {
      const serverName = o.serverName ?? identityServerName(o.controlNamespace, o.trustDomain);
      const creds = grpc.credentials.createSsl(Buffer.from(anchorsPem), null, null, {
        // Exactly the controller's Linkerd name, as a Linkerd proxy checks it; no wildcard or other SAN passes.
        checkServerIdentity: (_host: string, cert: PeerCertificate) => {
          const dns = (cert.subjectaltname ?? '')
            .split(', ')
            .filter((n) => n.startsWith('DNS:'))
            .map((n) => n.slice(4));
          if (!dns.includes(serverName)) {
            return new Error(
              `the identity endpoint presented [${dns.join(', ') || 'no DNS names'}], expected ${serverName}`,
            );
          }
          return tlsCheckServerIdentity(serverName, cert);
        },
      });
      this.#client = new grpc.Client(o.address, creds, {
        'grpc.ssl_target_name_override': serverName,
        'grpc.default_authority': serverName,
      });
    }
    this.#clientAnchors = anchorsPem;
    return this.#client;
  }

  #call(request: Buffer, token: string, anchorsPem: string) {
    const o = this.#opts;
    const client = this.#channel(anchorsPem);
    const deadline = new Date(Date.now() + (o.timeoutMs ?? 10_000));
    return new Promise<ReturnType<typeof decodeCertifyResponse>>((resolve, reject) => {
      client.makeUnaryRequest(
        CERTIFY_PATH,
        (b: Buffer) => b,
        (b: Buffer) => decodeCertifyResponse(b),
        request,
        new grpc.Metadata(),
        { deadline },
        (err, value) => {
          if (err || !value) reject(this.#describe(err, token));
          else resolve(value);
        },
      );
    });
  }

  #describe(err: grpc.ServiceError | null, token: string): LinkerdError {
    const o = this.#opts;
    const code = err?.code ?? grpc.status.UNKNOWN;
    const status = grpc.status[code] ?? String(code);
    // grpc-js appends an empty "Resolution note:" to connection failures; it says nothing.
    const details = redact(err?.details || err?.message || 'no details', token).replace(
      /\.?\s*Resolution note:\s*$/,
      '',
    );
    const at = `the Linkerd identity controller at ${o.address}`;
    switch (code) {
      case grpc.status.UNAUTHENTICATED:
      case grpc.status.PERMISSION_DENIED:
      case grpc.status.FAILED_PRECONDITION:
      case grpc.status.INVALID_ARGUMENT:
        return new LinkerdError(
          'CERTIFY_REFUSED',
          `${at} refused to certify "${this.identity}" (${status}: ${details}); the token must be a ServiceAccount token of ${o.namespace}/${o.serviceAccount} with audience ${IDENTITY_TOKEN_AUDIENCE}, and the Linkerd namespace and trust domain must match the control plane's`,
        );
      case grpc.status.UNAVAILABLE:
      case grpc.status.DEADLINE_EXCEEDED:
        return new LinkerdError(
          'CERTIFY_UNAVAILABLE',
          `cannot reach ${at} (${status}: ${details}); check the address and, with TLS, that its certificate is for ${identityServerName(o.controlNamespace, o.trustDomain)} under the trust anchors`,
        );
      default:
        return new LinkerdError('CERTIFY_FAILED', `Certify at ${at} failed (${status}: ${details})`);
    }
  }
}
