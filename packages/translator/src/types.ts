/** xDS v3 type URLs. xds-core declares identical constants; the two must not drift. */
export const TYPE = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

/** typeUrl -> (resource name -> plain object in protobufjs fromObject form, snake_case field names). */
export type ResourceSet = Map<string, Map<string, object>>;

/** `envoy`: socket listeners + SDS. `grpc`: API listeners named by dial target + certificate-provider TLS. */
export type Profile = 'envoy' | 'grpc';

export const PROFILES: readonly Profile[] = ['envoy', 'grpc'];
