import type { HeaderMatch, HeaderValue, Route, Service } from '@meshgate/model';
import type {
  ClusterWeight,
  DirectResponseAction,
  HeaderMatcher,
  RedirectAction,
  RetryPolicy,
  Route as EnvoyRoute,
  RouteAction,
  RouteMatch,
  WeightedCluster,
} from '@meshgate/envoy-api';
import type { Profile } from './types.ts';
import { cmp, duration, headersToAdd } from './common.ts';

/**
 * Order of routes inside a virtual host: exact paths first, then longer prefixes before
 * shorter ones, then routes with more header conditions before fewer (so a header-gated
 * canary is not shadowed by its catch-all), ties by route name. Never by list position,
 * so adding or removing one route never reorders the others.
 */
export function compareRoutes(a: Route, b: Route): number {
  // Regex paths sit between exact paths and prefixes: more specific than a prefix, less than a path.
  const kind = (r: Route) => (r.match.path !== undefined ? 0 : r.match.regex !== undefined ? 1 : 2);
  const len = (r: Route) => (r.match.path ?? r.match.regex ?? r.match.prefix ?? '').length;
  return (
    kind(a) - kind(b) ||
    len(b) - len(a) ||
    (b.match.headers?.length ?? 0) - (a.match.headers?.length ?? 0) ||
    (b.match.queryParams?.length ?? 0) - (a.match.queryParams?.length ?? 0) ||
    cmp(a.name, b.name)
  );
}

function headerMatcher(h: HeaderMatch): HeaderMatcher {
  const m: HeaderMatcher = { name: h.name };
  if (h.exact !== undefined) m.string_match = { exact: h.exact };
  else if (h.prefix !== undefined) m.string_match = { prefix: h.prefix };
  else if (h.regex !== undefined) m.string_match = { safe_regex: { regex: h.regex } };
  else m.present_match = h.present ?? true;
  if (h.invert) m.invert_match = true;
  return m;
}

function routeMatch(r: Route): RouteMatch {
  const m: RouteMatch = {};
  if (r.match.path !== undefined) m.path = r.match.path;
  else if (r.match.regex !== undefined) m.safe_regex = { regex: r.match.regex };
  else m.prefix = r.match.prefix;
  if (r.match.headers?.length) {
    m.headers = [...r.match.headers]
      .sort((a, b) => cmp(a.name, b.name) || cmp(JSON.stringify(a), JSON.stringify(b)))
      .map(headerMatcher);
  }
  if (r.match.queryParams?.length) {
    m.query_parameters = [...r.match.queryParams]
      .sort((a, b) => cmp(a.name, b.name) || cmp(JSON.stringify(a), JSON.stringify(b)))
      .map((q) => ({
        name: q.name,
        string_match: q.regex !== undefined ? { safe_regex: { regex: q.regex } } : { exact: q.exact },
      }));
  }
  return m;
}

/**
 * Merges repeated backends of one service, sorts by service name and leaves out zero weights
 * (they take no traffic; a validated model has none, but a zero must never reach a client that
 * counts it against the total). All zero stays as it is for the model's validation to refuse.
 */
function backends(r: Route): { service: string; weight: number }[] {
  const w = new Map<string, number>();
  for (const b of r.backends) w.set(b.service, (w.get(b.service) ?? 0) + b.weight);
  const all = [...w.entries()].sort(([a], [b]) => cmp(a, b)).map(([service, weight]) => ({ service, weight }));
  const live = all.filter((b) => b.weight > 0);
  return live.length ? live : all;
}

const UINT32_MAX = 0xffff_ffff;

/**
 * Weights as served in weighted_clusters, and their sum (what gRPC clients get as `total_weight`).
 *
 * Why total_weight for gRPC: today's gRPC libraries use the sum of the weights, but gRPC C-core
 * 1.51 (Debian 12's python3-grpcio, libgrpc++, ruby-grpc) and grpc-go up to 1.53 read an unset
 * total_weight as 100 and NACK every route whose weights add up to anything else. An explicit
 * total equal to the sum satisfies both readings, so a 1:3 split reaches every gRPC generation
 * as written. Envoy gets no total_weight: Envoy 1.24 deprecated it and uses the sum (and logs a
 * deprecation warning for every route that sets it); only releases out of support since 2023
 * read it as 100.
 *
 * Why not rescale to 100 instead: rounding would change the split the user wrote (1:2 would become
 * 33:67, 1:1:1 would need a remainder somewhere). The one limit every client shares is that the
 * sum must fit a uint32 (Envoy, grpc-go and C-core refuse more), so only then are weights scaled
 * down, each kept at 1 or more.
 */
export function servedWeights(bs: { service: string; weight: number }[]): { weights: number[]; total: number } {
  const sum = bs.reduce((s, b) => s + b.weight, 0);
  if (sum <= UINT32_MAX) return { weights: bs.map((b) => b.weight), total: sum };
  // Room for the floor of 1 each and for float rounding: the scaled sum stays within UINT32_MAX.
  const budget = UINT32_MAX - 2 * bs.length;
  const weights = bs.map((b) => Math.max(1, Math.floor((b.weight / sum) * budget)));
  return { weights, total: weights.reduce((s, w) => s + w, 0) };
}

/**
 * Header names some service sets on its requests (e.g. Linkerd's l5d-dst-override). A client must
 * not be able to send them to a service that does not set them itself (docs/architecture.md, rule 16), so
 * the Envoy profile strips them wherever they are not overwritten.
 */
export function guardedHeaders(services: Iterable<Service>): Set<string> {
  const out = new Set<string>();
  for (const s of services) for (const h of s.requestHeadersToAdd ?? []) out.add(h.name.toLowerCase());
  return out;
}

function toStrip(guarded: Set<string>, ...setters: (readonly HeaderValue[] | undefined)[]): string[] {
  const set = new Set(setters.flatMap((hs) => (hs ?? []).map((h) => h.name.toLowerCase())));
  return [...guarded].filter((n) => !set.has(n)).sort(cmp);
}

/**
 * The xDS Route entry for one model route. `services` supplies per-service request headers;
 * `guarded` (Envoy only) the header names to strip where no backend sets them.
 */
export function translateRoute(
  r: Route,
  services: Map<string, Service>,
  profile: Profile,
  guarded: Set<string> = new Set(),
): EnvoyRoute {
  if (r.redirect || r.directResponse) return nonForwarding(r);
  const action: RouteAction = {};
  const bs = backends(r);
  const routeHeaders = [...(r.requestHeadersToAdd ?? [])];
  const routeRemovals = [...(r.requestHeadersToRemove ?? [])];
  if (bs.length === 1) {
    action.cluster = bs[0].service;
    const svcHeaders = services.get(bs[0].service)?.requestHeadersToAdd;
    routeHeaders.push(...(svcHeaders ?? []));
    routeRemovals.push(...toStrip(guarded, svcHeaders, r.requestHeadersToAdd));
  } else {
    const { weights, total } = servedWeights(bs);
    const weighted: WeightedCluster = {
      clusters: bs.map((b, i) => {
        const c: ClusterWeight = { name: b.service, weight: { value: weights[i] } };
        const extra = services.get(b.service)?.requestHeadersToAdd ?? [];
        if (extra.length) c.request_headers_to_add = headersToAdd(extra);
        // Removal sits at the same level as the addition, so the order in which Envoy applies
        // weighted-cluster and route mutations cannot undo the other backends' headers.
        const strip = toStrip(guarded, extra, r.requestHeadersToAdd);
        if (strip.length) c.request_headers_to_remove = strip;
        return c;
      }),
    };
    if (profile === 'grpc') weighted.total_weight = { value: total };
    action.weighted_clusters = weighted;
  }
  if (r.rewrite?.prefix !== undefined) {
    // "/" replacing a prefix "/api" must not turn "/api/x" into "//x" (Gateway API ReplacePrefixMatch).
    if (r.rewrite.prefix === '/' && r.match.prefix !== undefined && r.match.prefix !== '/')
      action.regex_rewrite = {
        pattern: { regex: `^${escapeRe(r.match.prefix.replace(/\/$/, ''))}/*` },
        substitution: '/',
      };
    else action.prefix_rewrite = r.rewrite.prefix;
  } else if (r.rewrite?.path !== undefined)
    action.regex_rewrite = { pattern: { regex: '^/.*$' }, substitution: r.rewrite.path };
  if (r.rewrite?.host !== undefined) action.host_rewrite_literal = r.rewrite.host;
  if (r.timeoutMs !== undefined) {
    action.timeout = duration(r.timeoutMs);
    // gRPC clients (gRFC A31) take the deadline from max_stream_duration, not from timeout.
    if (profile === 'grpc') action.max_stream_duration = { max_stream_duration: duration(r.timeoutMs) };
  }
  if (r.retries) {
    const p: RetryPolicy = { retry_on: r.retries.retryOn, num_retries: { value: r.retries.numRetries } };
    if (r.retries.perTryTimeoutMs !== undefined) p.per_try_timeout = duration(r.retries.perTryTimeoutMs);
    action.retry_policy = p;
  }
  const out: EnvoyRoute = { name: r.name, match: routeMatch(r), route: action };
  if (routeHeaders.length) out.request_headers_to_add = headersToAdd(routeHeaders);
  if (routeRemovals.length) out.request_headers_to_remove = [...new Set(routeRemovals)].sort(cmp);
  responseHeaders(r, out);
  return out;
}

function responseHeaders(r: Route, out: EnvoyRoute): void {
  if (r.responseHeadersToAdd?.length) out.response_headers_to_add = headersToAdd(r.responseHeadersToAdd);
  if (r.responseHeadersToRemove?.length) out.response_headers_to_remove = [...r.responseHeadersToRemove].sort(cmp);
}

const REDIRECT_CODE: Record<number, NonNullable<RedirectAction['response_code']>> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A route answered by the proxy itself: a redirect or a local response. gRPC clients accept such
 * routes and fail the calls that match them (gRFC A28), which is the intended outcome.
 */
function nonForwarding(r: Route): EnvoyRoute {
  const out: EnvoyRoute = { name: r.name, match: routeMatch(r) };
  if (r.redirect) {
    const d = r.redirect;
    const red: RedirectAction = {};
    if (d.scheme !== undefined) red.scheme_redirect = d.scheme;
    if (d.host !== undefined) red.host_redirect = d.host;
    if (d.port !== undefined) red.port_redirect = d.port;
    if (d.path !== undefined) red.path_redirect = d.path;
    else if (d.prefix !== undefined) red.prefix_rewrite = d.prefix;
    if (d.statusCode !== undefined && d.statusCode !== 301) red.response_code = REDIRECT_CODE[d.statusCode];
    out.redirect = red;
  } else {
    const dr: DirectResponseAction = { status: r.directResponse!.status };
    if (r.directResponse!.body !== undefined) dr.body = { inline_string: r.directResponse!.body };
    out.direct_response = dr;
  }
  if (r.requestHeadersToAdd?.length) out.request_headers_to_add = headersToAdd(r.requestHeadersToAdd);
  if (r.requestHeadersToRemove?.length) out.request_headers_to_remove = [...r.requestHeadersToRemove].sort(cmp);
  responseHeaders(r, out);
  return out;
}

/**
 * Domains for an Envoy virtual host: the host itself and, without an explicit port, `host:*`.
 * Envoy allows one wildcard per domain, so wildcard hosts get no port variant.
 */
export function domainsFor(host: string): string[] {
  if (host.includes('*') || host.includes(':')) return [host];
  return [host, `${host}:*`];
}
