// The mesh-neutral model: plain data that every source produces and the translator consumes.
// No I/O lives here. Names are stable identities chosen by the source (for example
// `consul/dc1/web` or `file/echo-v1`), never list positions, so that removing one entry
// never renames another (lessons.md scar 13).

export interface Locality {
  region?: string;
  zone?: string;
  subZone?: string;
}

export type EndpointHealth = 'healthy' | 'unhealthy' | 'draining' | 'unknown';

export interface Endpoint {
  address: string;
  port: number;
  /** Load-balancing weight, 1..128 for gRPC clients and 1..2^32-1 for Envoy. Default 1. */
  weight?: number;
  locality?: Locality;
  /** Default 'healthy'. Unhealthy endpoints are sent with that status, not dropped, so Envoy can drain them. */
  health?: EndpointHealth;
}

/** An exact subject-alternative-name expectation for an upstream's certificate. */
export interface SanMatch {
  kind: 'uri' | 'dns';
  value: string;
}

/**
 * How the gateway reaches a service over TLS / mesh mTLS. The names refer to Secrets the
 * model carries (`identities`, `trustBundles`) so a rotation changes only the Secret.
 */
export interface UpstreamTls {
  sni?: string;
  alpn?: string[];
  /** Exact SANs the upstream must present; empty means "any cert chaining to the bundle" and is refused by validation. */
  expectedSans: SanMatch[];
  /** Name of a TrustBundle in the model. */
  trustBundle: string;
  /** Name of an Identity in the model presented as the client certificate (mTLS). Absent = one-way TLS. */
  clientIdentity?: string;
}

export type ServiceProtocol = 'http' | 'http2' | 'grpc' | 'tcp';

export interface Service {
  /** Stable name; becomes the Envoy cluster name and the `xds:///<name>` target for gRPC clients. */
  name: string;
  endpoints: Endpoint[];
  protocol?: ServiceProtocol;
  tls?: UpstreamTls;
  connectTimeoutMs?: number;
  /** Headers added to every request routed to this service (for example Linkerd's l5d-dst-override). */
  requestHeadersToAdd?: HeaderValue[];
  /** Which source produced it (for status pages and merge precedence). */
  source?: string;
}

export interface HeaderValue {
  name: string;
  value: string;
  /** Add a value next to an existing one instead of replacing it. Default false (replace). */
  append?: boolean;
}

export interface HeaderMatch {
  name: string;
  exact?: string;
  prefix?: string;
  /** RE2 regular expression matching the whole value. */
  regex?: string;
  present?: boolean;
  invert?: boolean;
}

export interface QueryParamMatch {
  name: string;
  /** Exactly one of exact, regex is set. */
  exact?: string;
  regex?: string;
}

export interface RouteMatch {
  /** Exactly one of prefix, path, regex is set. */
  prefix?: string;
  path?: string;
  /** RE2 regular expression matching the whole path. */
  regex?: string;
  headers?: HeaderMatch[];
  queryParams?: QueryParamMatch[];
}

/** Answer with a redirect instead of forwarding; unset parts keep the request's own. */
export interface RouteRedirect {
  scheme?: string;
  host?: string;
  port?: number;
  /** Replace the whole path. */
  path?: string;
  /** Replace the part the route's prefix matched. */
  prefix?: string;
  /** 301 (default), 302, 303, 307 or 308. */
  statusCode?: number;
}

/** Rewrite the request before forwarding it. */
export interface RouteRewrite {
  host?: string;
  /** Replace the whole path. */
  path?: string;
  /** Replace the part the route's prefix matched. */
  prefix?: string;
}

export interface WeightedBackend {
  service: string;
  weight: number;
}

export interface RetryPolicy {
  /** Envoy retry_on string, e.g. "5xx,reset,connect-failure" or for gRPC "unavailable". */
  retryOn: string;
  numRetries: number;
  perTryTimeoutMs?: number;
}

export interface Route {
  /** Stable name; ties the route to its virtual host entry and status. */
  name: string;
  /** Hosts (authorities) this route answers. A gRPC client dialing xds:///<host> gets it. */
  hosts: string[];
  match: RouteMatch;
  /** Empty only with redirect or directResponse. */
  backends: WeightedBackend[];
  redirect?: RouteRedirect;
  rewrite?: RouteRewrite;
  /** Answer locally with this status (e.g. 500 for a route whose backends all failed to resolve). */
  directResponse?: { status: number; body?: string };
  timeoutMs?: number;
  retries?: RetryPolicy;
  requestHeadersToAdd?: HeaderValue[];
  requestHeadersToRemove?: string[];
  responseHeadersToAdd?: HeaderValue[];
  responseHeadersToRemove?: string[];
  source?: string;
}

/** A socket listener on an Envoy gateway node. gRPC clients never receive these. */
export interface GatewayListener {
  name: string;
  port: number;
  /** Default 0.0.0.0. */
  address?: string;
  /** Names of routes served on this listener. */
  routes: string[];
  /** Terminate TLS with these identities (the proxy picks one by SNI). Absent = plaintext. */
  tls?: { identities: string[] };
  source?: string;
}

/** A certificate and key the gateway presents (its identity in one mesh). Served over SDS. */
export interface Identity {
  /** Stable SDS name, e.g. `mesh/consul/ingress`. */
  name: string;
  /** Leaf first, then intermediates. */
  certChainPem: string;
  privateKeyPem: string;
  /** Node ids or node clusters allowed to receive this secret; empty = every node. */
  allowedNodes?: string[];
  source?: string;
}

/** A set of CA certificates used to verify peers. Served over SDS as a validation context. */
export interface TrustBundle {
  /** Stable SDS name, e.g. `mesh/consul/roots`. */
  name: string;
  caPems: string[];
  source?: string;
}

export interface Model {
  services: Service[];
  routes: Route[];
  listeners: GatewayListener[];
  identities: Identity[];
  trustBundles: TrustBundle[];
}

export function emptyModel(): Model {
  return { services: [], routes: [], listeners: [], identities: [], trustBundles: [] };
}
