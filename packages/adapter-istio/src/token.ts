// Where the gateway's ServiceAccount token for istiod comes from. istiod checks it with a TokenReview against the
// audiences it accepts (TOKEN_AUDIENCES, default istio-ca), so the token must be a bound one with that audience:
// the pod's own legacy token is refused.
import { readFile } from 'node:fs/promises';
import { IstioError, redact } from './errors.ts';

/** Resolves to a bearer token. Never log what it returns. */
export type TokenSource = () => Promise<string>;

/** The one call this package makes to the API server; adapter-kubernetes' KubeClient fits. */
export interface KubeRequester {
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

export const ISTIO_CA_AUDIENCE = 'istio-ca';

/** A projected token file (`serviceAccountToken: {audience: istio-ca}`): read at every use, the kubelet rewrites it. */
export function fileTokenSource(path: string): TokenSource {
  return async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new IstioError(
        'TOKEN_UNAVAILABLE',
        `cannot read the ServiceAccount token file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); mount a projected token with audience ${ISTIO_CA_AUDIENCE} there`,
      );
    }
    const token = text.trim();
    if (!token) throw new IstioError('TOKEN_UNAVAILABLE', `the ServiceAccount token file ${path} is empty`);
    return token;
  };
}

export interface TokenRequestOptions {
  namespace: string;
  serviceAccount: string;
  audience?: string;
  /** Requested lifetime; the API server may shorten it (never below 10 min). Default 1 h. */
  expirationSeconds?: number;
  now?: () => number;
}

/**
 * Tokens from the TokenRequest API (`POST .../serviceaccounts/<sa>/token`, needs `create` on
 * serviceaccounts/token). A token is reused until 80% of its lifetime has passed, then a new one is requested.
 */
export function tokenRequestSource(kube: KubeRequester, o: TokenRequestOptions): TokenSource {
  const audience = o.audience ?? ISTIO_CA_AUDIENCE;
  const expirationSeconds = o.expirationSeconds ?? 3600;
  const now = o.now ?? Date.now;
  let cached: { token: string; refreshAt: number } | undefined;
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/serviceaccounts/${encodeURIComponent(o.serviceAccount)}/token`;
  return async () => {
    if (cached && now() < cached.refreshAt) return cached.token;
    const started = now();
    let res: { status?: { token?: string; expirationTimestamp?: string } };
    try {
      res = await kube.request('POST', path, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [audience], expirationSeconds },
      });
    } catch (err) {
      throw new IstioError(
        'TOKEN_UNAVAILABLE',
        `TokenRequest for ServiceAccount ${o.namespace}/${o.serviceAccount} (audience ${audience}) failed: ${redact((err as Error).message, [cached?.token])}; the gateway needs "create" on serviceaccounts/token for it`,
      );
    }
    const token = res?.status?.token;
    if (!token)
      throw new IstioError(
        'TOKEN_UNAVAILABLE',
        `TokenRequest for ServiceAccount ${o.namespace}/${o.serviceAccount} returned no token`,
      );
    const expires = Date.parse(res.status?.expirationTimestamp ?? '') || started + expirationSeconds * 1000;
    cached = { token, refreshAt: started + (expires - started) * 0.8 };
    return token;
  };
}
