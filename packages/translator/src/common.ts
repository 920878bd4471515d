import type { HeaderValue } from '@meshgate/model';
import type {
  Any,
  ConfigSource,
  DownstreamTlsContext,
  Duration,
  HeaderValueOption,
  HttpConnectionManager,
  HttpFilter,
  HeaderMutation,
  HttpProtocolOptions,
  Router,
  UpstreamTlsContext,
} from '@meshgate/envoy-api';

/** Config source meaning "over the same ADS stream". Every dynamic reference uses it. */
export function ads(): ConfigSource {
  return { ads: {}, resource_api_version: 'V3' };
}

export function duration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function byName<T extends { name: string }>(a: T, b: T): number {
  return cmp(a.name, b.name);
}

/** Code-unit comparison, independent of the process locale. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function headersToAdd(headers: readonly HeaderValue[]): HeaderValueOption[] {
  // OVERWRITE so a client cannot smuggle its own value for a header the gateway sets
  // (e.g. l5d-dst-override, docs/architecture.md, rule 16).
  return [...headers]
    .sort((a, b) => cmp(a.name, b.name) || cmp(a.value, b.value))
    .map((h) => ({
      header: { key: h.name, value: h.value },
      append_action: h.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
    }));
}

export function routerFilter(): HttpFilter {
  return { name: 'envoy.filters.http.router', typed_config: typed(ROUTER_TYPE, {}) };
}

/**
 * Removes client-sent request headers by name prefix before routing. It runs ahead of the router, and the router adds
 * route and cluster headers (l5d-dst-override) when it forwards, so the gateway's own values survive.
 */
export function removeHeaderPrefixesFilter(prefixes: readonly string[]): HttpFilter {
  return {
    name: 'envoy.filters.http.header_mutation',
    typed_config: typed(HEADER_MUTATION_TYPE, {
      mutations: {
        request_mutations: [...prefixes]
          .sort(cmp)
          .map((prefix) => ({ remove_on_match: { key_matcher: { prefix, ignore_case: true } } })),
      },
    }),
  };
}

export const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const HEADER_MUTATION_TYPE =
  'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation';
export const DOWNSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const UPSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const HTTP_PROTOCOL_OPTIONS_TYPE = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}` as const;

/** The message type behind each extension type URL the translator packs into an Any. */
interface Extensions {
  [HCM_TYPE]: HttpConnectionManager;
  [ROUTER_TYPE]: Router;
  [HEADER_MUTATION_TYPE]: HeaderMutation;
  [DOWNSTREAM_TLS_TYPE]: DownstreamTlsContext;
  [UPSTREAM_TLS_TYPE]: UpstreamTlsContext;
  [HTTP_PROTOCOL_OPTIONS_TYPE]: HttpProtocolOptions;
}

/** An Any in protobufjs's JSON-like form: the type URL first, then the message's own fields. */
export function typed<U extends keyof Extensions>(typeUrl: U, message: Extensions[U]): Any {
  return { '@type': typeUrl, ...message };
}
