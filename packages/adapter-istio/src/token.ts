// Where the gateway's ServiceAccount token for istiod comes from. istiod checks it with a TokenReview against the
// audiences it accepts (TOKEN_AUDIENCES, default istio-ca), so the token must be a bound one with that audience:
// the pod's own legacy token is refused.
import { readFile } from 'node:fs/promises';
import { tokenRequestSource as kubeTokenRequestSource } from '@meshgate/adapter-kubernetes';
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
 * Tokens from the TokenRequest API (needs `create` on serviceaccounts/token), audience istio-ca unless given; the
 * Kubernetes adapter's shared helper (reused until 80% of the token's lifetime), its errors as IstioErrors.
 */
export function tokenRequestSource(kube: KubeRequester, o: TokenRequestOptions): TokenSource {
  const next = kubeTokenRequestSource(kube, { ...o, audience: o.audience ?? ISTIO_CA_AUDIENCE });
  return async () => {
    try {
      return await next();
    } catch (err) {
      throw new IstioError('TOKEN_UNAVAILABLE', redact((err as Error).message, []));
    }
  };
}
