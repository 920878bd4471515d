// Bound ServiceAccount tokens from the TokenRequest API, for the mesh CAs that review them (istiod: audience istio-ca;
// Linkerd's identity controller: identity.l5d.io). One implementation, so the caching and the rule that a token never
// appears in an error live in one place.

/** The one call this helper makes to the API server; KubeClient fits. */
export interface KubeRequester {
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

export interface TokenRequestOptions {
  namespace: string;
  serviceAccount: string;
  audience: string;
  /** Requested lifetime; the API server may shorten it (never below 10 min). Default 1 h. */
  expirationSeconds?: number;
  now?: () => number;
}

/** A failed TokenRequest; the message names the ServiceAccount, the audience and the RBAC fix, never a token. */
export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';
}

/** Removes the given secrets and anything JWT-shaped from a message. */
export function redactTokens(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 8) out = out.split(s).join('<redacted>');
  return out.replace(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '<redacted>');
}

/**
 * Tokens from `POST /api/v1/namespaces/<ns>/serviceaccounts/<sa>/token` (needs `create` on serviceaccounts/token).
 * A token is reused until 80 % of its lifetime has passed, then a new one is requested, so a renewal storm does not
 * become a TokenRequest storm and a token is never used close to its expiry.
 */
export function tokenRequestSource(kube: KubeRequester, o: TokenRequestOptions): () => Promise<string> {
  const expirationSeconds = o.expirationSeconds ?? 3600;
  const now = o.now ?? Date.now;
  const who = `ServiceAccount ${o.namespace}/${o.serviceAccount} (audience ${o.audience})`;
  let cached: { token: string; refreshAt: number } | undefined;
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/serviceaccounts/${encodeURIComponent(o.serviceAccount)}/token`;
  return async () => {
    if (cached && now() < cached.refreshAt) return cached.token;
    const started = now();
    let res: { status?: { token?: string; expirationTimestamp?: string } } | undefined;
    try {
      res = await kube.request('POST', path, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [o.audience], expirationSeconds },
      });
    } catch (err) {
      throw new TokenRequestError(
        `TokenRequest for ${who} failed: ${redactTokens((err as Error).message, [cached?.token])}; the gateway needs "create" on serviceaccounts/token for it`,
      );
    }
    const token = res?.status?.token;
    if (!token) throw new TokenRequestError(`TokenRequest for ${who} returned no token`);
    const expires = Date.parse(res?.status?.expirationTimestamp ?? '') || started + expirationSeconds * 1000;
    cached = { token, refreshAt: started + (expires - started) * 0.8 };
    return token;
  };
}
