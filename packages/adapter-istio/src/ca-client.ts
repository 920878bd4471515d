// A client of istiod's CA: the part of the Istio agent that meshgate is, so the gateway needs no sidecar.
// istiod serves CreateCertificate on its TLS port (15012) with a certificate from its own CA; that certificate is
// checked against the mesh root and istiod's service name, never accepted blindly, because the bearer token sent
// to it is the gateway's identity.
import * as grpc from '@grpc/grpc-js';
import { createCsr, istioSpiffeId, parseIstioSpiffeId } from '@meshgate/certs';
import { type CheckedChain, checkIstioChain, parseRoots } from './chain.ts';
import { IstioError, redact } from './errors.ts';
import type { KubeRequester, TokenSource } from './token.ts';
import { decodeCertificateResponse, encodeCertificateRequest } from './wire.ts';

export const CREATE_CERTIFICATE = '/istio.v1.auth.IstioCertificateService/CreateCertificate';
export const DEFAULT_CA_ADDRESS = 'istiod.istio-system.svc:15012';
export const DEFAULT_CA_SERVER_NAME = 'istiod.istio-system.svc';
export const ROOT_CONFIGMAP = 'istio-ca-root-cert';
export const ROOT_CONFIGMAP_KEY = 'root-cert.pem';

export interface IstioCaClientOptions {
  /** host:port of istiod's TLS port. Default istiod.istio-system.svc:15012. */
  address?: string;
  /** Name istiod's serving certificate must carry (a DNS SAN). Default istiod.istio-system.svc. */
  serverName?: string;
  /** The mesh roots (PEM); a function is read at every call so a watched ConfigMap can feed it. */
  roots: string | (() => string);
  token: TokenSource;
  trustDomain?: string;
  namespace: string;
  serviceAccount: string;
  /** istiod picks the cluster whose API server reviews the token by this (default Kubernetes, istiod's own). */
  clusterId?: string;
  /** Requested lifetime in seconds; istiod caps it at MAX_WORKLOAD_CERT_TTL. Default: istiod's default (24 h). */
  validitySeconds?: number;
  timeoutMs?: number;
}

export interface IstioCertificate extends CheckedChain {
  /** PKCS#8 PEM of the key. Never log it. */
  keyPem: string;
  /** The roots the chain was checked against: what peers' certificates are checked against too. */
  bundlePem: string;
  spiffeId: string;
}

/** Reads root-cert.pem from the istio-ca-root-cert ConfigMap istiod writes into every namespace. */
export async function readIstioRoot(kube: KubeRequester, namespace: string): Promise<string> {
  let cm: { data?: Record<string, string> };
  try {
    cm = await kube.request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${ROOT_CONFIGMAP}`);
  } catch (err) {
    throw new IstioError(
      'ROOT_INVALID',
      `cannot read ConfigMap ${namespace}/${ROOT_CONFIGMAP}: ${(err as Error).message}; istiod writes it into every namespace it manages (is istiod running, and may the gateway read ConfigMaps there?)`,
    );
  }
  const pem = cm?.data?.[ROOT_CONFIGMAP_KEY];
  if (!pem)
    throw new IstioError('ROOT_INVALID', `ConfigMap ${namespace}/${ROOT_CONFIGMAP} has no ${ROOT_CONFIGMAP_KEY}`);
  parseRoots(pem, `${namespace}/${ROOT_CONFIGMAP} ${ROOT_CONFIGMAP_KEY}`);
  return pem;
}

const UNTRUSTED =
  /certificate|self[- ]signed|unable to verify|unable to get|Hostname\/IP does not match|altnames|handshake/i;

export class IstioCaClient {
  readonly spiffeId: string;
  readonly address: string;
  readonly serverName: string;
  readonly #o: IstioCaClientOptions;
  #client: grpc.Client | undefined;
  #clientRoots: string | undefined;

  constructor(o: IstioCaClientOptions) {
    this.#o = o;
    this.spiffeId = istioSpiffeId({
      trustDomain: o.trustDomain,
      namespace: o.namespace,
      serviceAccount: o.serviceAccount,
    });
    parseIstioSpiffeId(this.spiffeId);
    this.address = o.address ?? DEFAULT_CA_ADDRESS;
    this.serverName = o.serverName ?? DEFAULT_CA_SERVER_NAME;
  }

  #roots(): string {
    return typeof this.#o.roots === 'function' ? this.#o.roots() : this.#o.roots;
  }

  /** One channel per set of roots: a root change re-verifies istiod on a fresh connection. */
  #channel(roots: string): grpc.Client {
    if (this.#client && this.#clientRoots === roots) return this.#client;
    this.#client?.close();
    const creds = grpc.credentials.createSsl(Buffer.from(roots));
    this.#client = new grpc.Client(this.address, creds, {
      'grpc.ssl_target_name_override': this.serverName,
      'grpc.default_authority': this.serverName,
    });
    this.#clientRoots = roots;
    return this.#client;
  }

  /** One CreateCertificate: a new ECDSA P-256 key and CSR, the token, the checked chain. Throws IstioError. */
  async obtain(): Promise<IstioCertificate> {
    const roots = this.#roots();
    parseRoots(roots);
    const csr = await createCsr({ spiffe: this.spiffeId, keyType: 'ec-p256' });
    const token = await this.#o.token();
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const clusterId = this.#o.clusterId ?? 'Kubernetes';
    md.set('clusterid', clusterId);
    const body = encodeCertificateRequest({
      csrPem: csr.csrPem,
      validitySeconds: this.#o.validitySeconds,
      metadata: { ClusterID: clusterId },
    });
    const client = this.#channel(roots);
    const chain = await new Promise<string[]>((resolve, reject) => {
      client.makeUnaryRequest(
        CREATE_CERTIFICATE,
        (b: Buffer) => b,
        (b: Buffer) => decodeCertificateResponse(b),
        body,
        md,
        { deadline: Date.now() + (this.#o.timeoutMs ?? 15_000) },
        (err, value) => (err ? reject(this.#describe(err, token)) : resolve(value ?? [])),
      );
    });
    const checked = checkIstioChain(chain, { spiffeId: this.spiffeId, rootsPem: roots, keyPem: csr.keyPem });
    return { ...checked, keyPem: csr.keyPem, bundlePem: roots, spiffeId: this.spiffeId };
  }

  #describe(err: grpc.ServiceError, token: string): IstioError {
    const details = redact(err.details || err.message, [token]);
    const where = `istiod at ${this.address}`;
    if (err.code === grpc.status.UNAUTHENTICATED) {
      return new IstioError(
        'CA_AUTH_REFUSED',
        `${where} refused the ServiceAccount token for ${this.#o.namespace}/${this.#o.serviceAccount} (UNAUTHENTICATED: ${details}); the token must be a bound token with audience istio-ca (or one of istiod's TOKEN_AUDIENCES) for that ServiceAccount, and not expired`,
      );
    }
    if (err.code === grpc.status.UNAVAILABLE && UNTRUSTED.test(details)) {
      return new IstioError(
        'CA_SERVER_UNTRUSTED',
        `${where} presented a certificate that does not verify as "${this.serverName}" against the mesh root (${details}); the root (istio-ca-root-cert) and istiod's CA differ, or the address is not istiod. No token was sent`,
      );
    }
    if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
      return new IstioError(
        'CA_UNREACHABLE',
        `${where} is not reachable (${grpc.status[err.code]}: ${details}); check the address and that istiod runs`,
      );
    }
    return new IstioError(
      'CA_CALL_FAILED',
      `${where}: CreateCertificate failed (${grpc.status[err.code]}: ${details})`,
    );
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}
