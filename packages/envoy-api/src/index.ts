// @meshgate/envoy-api: the Envoy/xDS message types meshgate builds (generated from proto/ into src/generated/), the
// xDS type URLs, and where the vendored .proto files live. Types only, plus two constants: no runtime dependencies.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type { Any } from './generated/google/protobuf/Any.ts';
export type { Duration } from './generated/google/protobuf/Duration.ts';
export type { UInt32Value } from './generated/google/protobuf/UInt32Value.ts';
export type { ConfigSource } from './generated/envoy/config/core/v3/ConfigSource.ts';
export type { HeaderValueOption } from './generated/envoy/config/core/v3/HeaderValueOption.ts';
export type { Locality } from './generated/envoy/config/core/v3/Locality.ts';
export type { TransportSocket } from './generated/envoy/config/core/v3/TransportSocket.ts';
export type { Listener } from './generated/envoy/config/listener/v3/Listener.ts';
export type { HttpConnectionManager } from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
export type { HttpFilter } from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';
export type { Router } from './generated/envoy/extensions/filters/http/router/v3/Router.ts';
export type { HeaderMutation } from './generated/envoy/extensions/filters/http/header_mutation/v3/HeaderMutation.ts';
export type { RouteConfiguration } from './generated/envoy/config/route/v3/RouteConfiguration.ts';
export type { VirtualHost } from './generated/envoy/config/route/v3/VirtualHost.ts';
export type { Route } from './generated/envoy/config/route/v3/Route.ts';
export type { RouteAction } from './generated/envoy/config/route/v3/RouteAction.ts';
export type { RouteMatch } from './generated/envoy/config/route/v3/RouteMatch.ts';
export type { HeaderMatcher } from './generated/envoy/config/route/v3/HeaderMatcher.ts';
export type { QueryParameterMatcher } from './generated/envoy/config/route/v3/QueryParameterMatcher.ts';
export type { RetryPolicy } from './generated/envoy/config/route/v3/RetryPolicy.ts';
export type { RedirectAction } from './generated/envoy/config/route/v3/RedirectAction.ts';
export type { DirectResponseAction } from './generated/envoy/config/route/v3/DirectResponseAction.ts';
export type {
  WeightedCluster,
  _envoy_config_route_v3_WeightedCluster_ClusterWeight as ClusterWeight,
} from './generated/envoy/config/route/v3/WeightedCluster.ts';
export type { Cluster } from './generated/envoy/config/cluster/v3/Cluster.ts';
export type { HttpProtocolOptions } from './generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.ts';
export type { ClusterLoadAssignment } from './generated/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
export type { LocalityLbEndpoints } from './generated/envoy/config/endpoint/v3/LocalityLbEndpoints.ts';
export type { LbEndpoint } from './generated/envoy/config/endpoint/v3/LbEndpoint.ts';
export type { Secret } from './generated/envoy/extensions/transport_sockets/tls/v3/Secret.ts';
export type { CommonTlsContext } from './generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.ts';
export type { UpstreamTlsContext } from './generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.ts';
export type { DownstreamTlsContext } from './generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.ts';

import type { Listener } from './generated/envoy/config/listener/v3/Listener.ts';
import type { RouteConfiguration } from './generated/envoy/config/route/v3/RouteConfiguration.ts';
import type { Cluster } from './generated/envoy/config/cluster/v3/Cluster.ts';
import type { ClusterLoadAssignment } from './generated/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
import type { Secret } from './generated/envoy/extensions/transport_sockets/tls/v3/Secret.ts';

/** xDS v3 type URLs of the five resource types meshgate serves: the one table every package imports. */
export const TYPE = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

export type TypeUrl = (typeof TYPE)[keyof typeof TYPE];

/** The message type of each served type URL. */
export interface ResourceOf {
  [TYPE.listener]: Listener;
  [TYPE.route]: RouteConfiguration;
  [TYPE.cluster]: Cluster;
  [TYPE.endpoint]: ClusterLoadAssignment;
  [TYPE.secret]: Secret;
}

/** Any resource meshgate serves. */
export type Resource = ResourceOf[TypeUrl];

/**
 * The include folders of the vendored .proto files (see proto/README.md), in import-resolution order. They sit
 * next to src/ and dist/, so the same path works from the sources and from the build.
 */
export function protoIncludeDirs(): string[] {
  const proto = join(dirname(fileURLToPath(import.meta.url)), '..', 'proto');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(proto, d));
}
