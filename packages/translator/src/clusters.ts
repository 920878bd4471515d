import type { SanMatch, Service, UpstreamTls } from '@meshgate/model';
import type { Any, Cluster, CommonTlsContext, UpstreamTlsContext } from '@meshgate/envoy-api';
import type { Profile } from './types.ts';
import { grpcTlsPlan, TLS_PROFILE_FIELD } from './endpoint-tls.ts';
import {
  ads,
  cmp,
  duration,
  HTTP_PROTOCOL_OPTIONS,
  HTTP_PROTOCOL_OPTIONS_TYPE,
  typed,
  UPSTREAM_TLS_TYPE,
} from './common.ts';

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** An EDS cluster named after the service; its assignment carries the same name. */
export function translateCluster(service: Service, profile: Profile): Cluster {
  const cluster: Cluster = {
    name: service.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ads(), service_name: service.name },
    connect_timeout: duration(service.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
    lb_policy: 'ROUND_ROBIN',
  };
  if (service.protocol === 'grpc' || service.protocol === 'http2') {
    cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS]: typed(HTTP_PROTOCOL_OPTIONS_TYPE, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    };
  }
  if (profile === 'grpc') {
    const tls = grpcTlsPlan(service).tls;
    if (tls) cluster.transport_socket = { name: 'envoy.transport_sockets.tls', typed_config: grpcTls(tls) };
    return cluster;
  }
  if (service.tls)
    cluster.transport_socket = { name: 'envoy.transport_sockets.tls', typed_config: envoyTls(service.tls) };
  // One entry per profile, used or not, so the cluster does not change when endpoints do; an
  // endpoint without a profile matches none and gets transport_socket (plaintext when absent).
  const keys = Object.keys(service.endpointTls ?? {}).sort(cmp);
  if (keys.length > 0)
    cluster.transport_socket_matches = keys.map((key) => ({
      name: key,
      match: { fields: { [TLS_PROFILE_FIELD]: { stringValue: key } } },
      transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: envoyTls(service.endpointTls![key]) },
    }));
  return cluster;
}

function sortedSans(sans: readonly SanMatch[]): SanMatch[] {
  return [...sans].sort((a, b) =>
    a.kind + a.value < b.kind + b.value ? -1 : a.kind + a.value > b.kind + b.value ? 1 : 0,
  );
}

/** Envoy: certificates arrive over SDS under the model's stable names, so a rotation touches only the Secret. */
function envoyTls(tls: UpstreamTls): Any {
  const common: CommonTlsContext = {};
  if (tls.alpn?.length) common.alpn_protocols = [...tls.alpn];
  if (tls.clientIdentity) common.tls_certificate_sds_secret_configs = [{ name: tls.clientIdentity, sds_config: ads() }];
  common.combined_validation_context = {
    default_validation_context: {
      match_typed_subject_alt_names: sortedSans(tls.expectedSans).map((s) => ({
        san_type: s.kind === 'uri' ? 'URI' : 'DNS',
        matcher: { exact: s.value },
      })),
    },
    validation_context_sds_secret_config: { name: tls.trustBundle, sds_config: ads() },
  };
  const ctx: UpstreamTlsContext = {};
  if (tls.sni) ctx.sni = tls.sni;
  ctx.common_tls_context = common;
  return typed(UPSTREAM_TLS_TYPE, ctx);
}

/**
 * gRPC (gRFC A29): the client's bootstrap names certificate-provider instances; we refer to
 * them by the model's identity and trust-bundle names. grpc-js-xds 1.14 reads
 * `match_subject_alt_names` (plain StringMatchers, not the typed variant) and refuses
 * `validation_context_sds_secret_config`, so this uses a plain `validation_context`.
 */
function grpcTls(tls: UpstreamTls): Any {
  const common: CommonTlsContext = {};
  if (tls.alpn?.length) common.alpn_protocols = [...tls.alpn];
  if (tls.clientIdentity)
    common.tls_certificate_provider_instance = { instance_name: tls.clientIdentity, certificate_name: 'default' };
  common.validation_context = {
    match_subject_alt_names: sortedSans(tls.expectedSans).map((s) => ({ exact: s.value })),
    ca_certificate_provider_instance: { instance_name: tls.trustBundle, certificate_name: 'default' },
  };
  const ctx: UpstreamTlsContext = {};
  if (tls.sni) ctx.sni = tls.sni;
  ctx.common_tls_context = common;
  return typed(UPSTREAM_TLS_TYPE, ctx);
}
