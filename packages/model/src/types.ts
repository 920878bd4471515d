// The mesh-neutral model: plain read-only data that every source produces and the translator
// consumes. No I/O lives here. Names are stable identities chosen by the source (for example
// `consul/dc1/web` or `file/echo-v1`), never list positions, so that removing one entry
// never renames another (docs/architecture.md, rule 13).

export interface Locality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

export type EndpointHealth = 'healthy' | 'unhealthy' | 'draining' | 'unknown';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /** Load-balancing weight, 1..128 for gRPC clients and 1..2^32-1 for Envoy. Default 1. */
  readonly weight?: number;
  readonly locality?: Locality;
  /** Default 'healthy'. Unhealthy endpoints are sent with that status, not dropped, so Envoy can drain them. */
  readonly health?: EndpointHealth;
  /**
   * Key into the service's `endpointTls`: this endpoint is reached with those TLS settings
   * instead of the service's own `tls` (a meshed pod behind a Service that also has unmeshed
   * ones, or a Linkerd endpoint with its own server identity). Absent = the service's `tls`.
   */
  readonly tlsProfile?: string;
}

/** An exact subject-alternative-name expectation for an upstream's certificate. */
export interface SanMatch {
  readonly kind: 'uri' | 'dns';
  readonly value: string;
}

/**
 * How the gateway reaches a service over TLS / mesh mTLS. The names refer to Secrets the
 * model carries (`identities`, `trustBundles`) so a rotation changes only the Secret.
 */
export interface UpstreamTls {
  readonly sni?: string;
  readonly alpn?: readonly string[];
  /** Exact SANs the upstream must present; empty means "any cert chaining to the bundle" and is refused by validation. */
  readonly expectedSans: readonly SanMatch[];
  /** Name of a TrustBundle in the model. */
  readonly trustBundle: string;
  /** Name of an Identity in the model presented as the client certificate (mTLS). Absent = one-way TLS. */
  readonly clientIdentity?: string;
}

export type ServiceProtocol = 'http' | 'http2' | 'grpc' | 'tcp';

export interface Service {
  /** Stable name; becomes the Envoy cluster name and the `xds:///<name>` target for gRPC clients. */
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
  readonly protocol?: ServiceProtocol;
  /** TLS for endpoints without a `tlsProfile`. Absent = plaintext. */
  readonly tls?: UpstreamTls;
  /**
   * Per-endpoint TLS settings, by the key endpoints name in `tlsProfile` (Envoy: one
   * transport_socket_matches entry each). Keys are stable names chosen by the source.
   */
  readonly endpointTls?: Readonly<Record<string, UpstreamTls>>;
  readonly connectTimeoutMs?: number;
  /** Headers added to every request routed to this service (for example Linkerd's l5d-dst-override). */
  readonly requestHeadersToAdd?: readonly HeaderValue[];
  /** Which source produced it (for status pages and merge precedence). */
  readonly source?: string;
}

export interface HeaderValue {
  readonly name: string;
  readonly value: string;
  /** Add a value next to an existing one instead of replacing it. Default false (replace). */
  readonly append?: boolean;
}

export interface HeaderMatch {
  readonly name: string;
  readonly exact?: string;
  readonly prefix?: string;
  /** RE2 regular expression matching the whole value. */
  readonly regex?: string;
  readonly present?: boolean;
  readonly invert?: boolean;
}

export interface QueryParamMatch {
  readonly name: string;
  /** Exactly one of exact, regex is set. */
  readonly exact?: string;
  readonly regex?: string;
}

export interface RouteMatch {
  /** Exactly one of prefix, path, regex is set. */
  readonly prefix?: string;
  readonly path?: string;
  /** RE2 regular expression matching the whole path. */
  readonly regex?: string;
  readonly headers?: readonly HeaderMatch[];
  readonly queryParams?: readonly QueryParamMatch[];
}

/** Answer with a redirect instead of forwarding; unset parts keep the request's own. */
export interface RouteRedirect {
  readonly scheme?: string;
  readonly host?: string;
  readonly port?: number;
  /** Replace the whole path. */
  readonly path?: string;
  /** Replace the part the route's prefix matched. */
  readonly prefix?: string;
  /** 301 (default), 302, 303, 307 or 308. */
  readonly statusCode?: number;
}

/** Rewrite the request before forwarding it. */
export interface RouteRewrite {
  readonly host?: string;
  /** Replace the whole path. */
  readonly path?: string;
  /** Replace the part the route's prefix matched. */
  readonly prefix?: string;
}

export interface WeightedBackend {
  readonly service: string;
  readonly weight: number;
}

export interface RetryPolicy {
  /** Envoy retry_on string, e.g. "5xx,reset,connect-failure" or for gRPC "unavailable". */
  readonly retryOn: string;
  readonly numRetries: number;
  readonly perTryTimeoutMs?: number;
}

export interface Route {
  /** Stable name; ties the route to its virtual host entry and status. */
  readonly name: string;
  /** Hosts (authorities) this route answers. A gRPC client dialing xds:///<host> gets it. */
  readonly hosts: readonly string[];
  readonly match: RouteMatch;
  /** Empty only with redirect or directResponse. */
  readonly backends: readonly WeightedBackend[];
  readonly redirect?: RouteRedirect;
  readonly rewrite?: RouteRewrite;
  /** Answer locally with this status (e.g. 500 for a route whose backends all failed to resolve). */
  readonly directResponse?: { readonly status: number; readonly body?: string };
  readonly timeoutMs?: number;
  readonly retries?: RetryPolicy;
  readonly requestHeadersToAdd?: readonly HeaderValue[];
  readonly requestHeadersToRemove?: readonly string[];
  readonly responseHeadersToAdd?: readonly HeaderValue[];
  readonly responseHeadersToRemove?: readonly string[];
  readonly source?: string;
}

/** A socket listener on an Envoy gateway node. gRPC clients never receive these. */
export interface GatewayListener {
  readonly name: string;
  readonly port: number;
  /** Default 0.0.0.0. */
  readonly address?: string;
  /** Names of routes served on this listener. */
  readonly routes: readonly string[];
  /** Terminate TLS with these identities (the proxy picks one by SNI). Absent = plaintext. */
  readonly tls?: { readonly identities: readonly string[] };
  /**
   * Client-sent request headers whose names start with one of these (case-insensitive) are removed before routing.
   * Behind Linkerd's injected proxy this is `l5d-`: a client must not steer the gateway's proxy with its own
   * l5d-dst-override. Headers the routes and services add are added after it.
   */
  readonly removeRequestHeaderPrefixes?: readonly string[];
  readonly source?: string;
}

/** A certificate and key the gateway presents (its identity in one mesh). Served over SDS. */
export interface Identity {
  /** Stable SDS name, e.g. `mesh/consul/ingress`. */
  readonly name: string;
  /** Leaf first, then intermediates. */
  readonly certChainPem: string;
  readonly privateKeyPem: string;
  /** Node ids or node clusters allowed to receive this secret; empty = every node. */
  readonly allowedNodes?: readonly string[];
  readonly source?: string;
}

/** A set of CA certificates used to verify peers. Served over SDS as a validation context. */
export interface TrustBundle {
  /** Stable SDS name, e.g. `mesh/consul/roots`. */
  readonly name: string;
  readonly caPems: readonly string[];
  readonly source?: string;
}

export interface Model {
  readonly services: readonly Service[];
  readonly routes: readonly Route[];
  readonly listeners: readonly GatewayListener[];
  readonly identities: readonly Identity[];
  readonly trustBundles: readonly TrustBundle[];
}

/**
 * A model part while its source builds it: the same shape, writable. Sources build drafts and
 * hand them on as the read-only types above; nothing downstream changes a model.
 */
export type Draft<T> = T extends readonly (infer U)[]
  ? Draft<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Draft<T[K]> }
    : T;

/** A model whose lists the source is still filling; the items in them are already read-only. */
export type ModelDraft = { -readonly [K in keyof Model]: Model[K] extends readonly (infer U)[] ? U[] : never };

/** A new empty model, for the source that fills it. */
export function emptyModel(): ModelDraft {
  return { services: [], routes: [], listeners: [], identities: [], trustBundles: [] };
}
