// Bootstrap documents for the two kinds of node meshgate serves: an Envoy gateway and a
// proxyless gRPC client. Both are written in proto3 JSON form (snake_case names), which Envoy
// reads from YAML or JSON and gRPC reads from GRPC_XDS_BOOTSTRAP(_CONFIG).
import { isIP } from 'node:net';
import { join } from 'node:path';

export const XDS_CLUSTER = 'meshgate-xds';

export interface EnvoyBootstrapOptions {
  xdsAddress: string;
  xdsPort: number;
  nodeId: string;
  cluster: string;
  /** State-of-the-world ADS instead of delta. */
  sotw?: boolean;
  adminPort: number;
  /** Present when the xDS port requires mTLS: files Envoy reads for its own xDS connection. */
  xdsTls?: { certFile: string; keyFile: string; caFile: string; sni?: string };
}

export function envoyBootstrap(o: EnvoyBootstrapOptions): Record<string, unknown> {
  // Delta ADS and initial_fetch_timeout 0s: Envoy waits for the control plane instead of
  // starting with an empty config (Envoy Gateway's bootstrap does the same).
  const configSource = () => ({ ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '0s' });
  const cluster: Record<string, unknown> = {
    name: XDS_CLUSTER,
    type: isIP(o.xdsAddress) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '5s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: o.xdsAddress, port_value: o.xdsPort } } } },
          ],
        },
      ],
    },
  };
  if (o.xdsTls) {
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        ...(o.xdsTls.sni ? { sni: o.xdsTls.sni } : {}),
        common_tls_context: {
          tls_certificates: [
            { certificate_chain: { filename: o.xdsTls.certFile }, private_key: { filename: o.xdsTls.keyFile } },
          ],
          validation_context: { trusted_ca: { filename: o.xdsTls.caFile } },
        },
      },
    };
  }
  return {
    node: { id: o.nodeId, cluster: o.cluster, metadata: { meshgate_profile: 'envoy' } },
    dynamic_resources: {
      ads_config: {
        api_type: o.sotw ? 'GRPC' : 'DELTA_GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
        set_node_on_first_message_only: true,
      },
      cds_config: configSource(),
      lds_config: configSource(),
    },
    static_resources: { clusters: [cluster] },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort } } },
  };
}

export interface CertProviderDir {
  /** Instance name the translator puts in the Cluster's certificate-provider references. */
  name: string;
  /** Directory holding cert.pem, key.pem and ca.pem. */
  dir: string;
}

export interface GrpcBootstrapOptions {
  xdsAddress: string;
  xdsPort: number;
  nodeId: string;
  cluster: string;
  certProviders?: CertProviderDir[];
  /** mTLS to the xDS server (gRFC A65 `tls` channel creds; grpc-go and C-core; grpc-js-xds knows only insecure). */
  xdsTlsDir?: string;
}

export function grpcBootstrap(o: GrpcBootstrapOptions): Record<string, unknown> {
  const host = isIP(o.xdsAddress) === 6 ? `[${o.xdsAddress}]` : o.xdsAddress;
  const creds = o.xdsTlsDir
    ? [
        {
          type: 'tls',
          config: {
            ca_certificate_file: join(o.xdsTlsDir, 'ca.pem'),
            certificate_file: join(o.xdsTlsDir, 'cert.pem'),
            private_key_file: join(o.xdsTlsDir, 'key.pem'),
          },
        },
      ]
    : [{ type: 'insecure' }];
  const out: Record<string, unknown> = {
    xds_servers: [{ server_uri: `${host}:${o.xdsPort}`, channel_creds: creds, server_features: ['xds_v3'] }],
    node: { id: o.nodeId, cluster: o.cluster, metadata: { meshgate_profile: 'grpc' }, locality: {} },
  };
  if (o.certProviders?.length) {
    const providers: Record<string, unknown> = {};
    for (const p of o.certProviders) {
      providers[p.name] = {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: join(p.dir, 'cert.pem'),
          private_key_file: join(p.dir, 'key.pem'),
          ca_certificate_file: join(p.dir, 'ca.pem'),
          refresh_interval: '60s',
        },
      };
    }
    out.certificate_providers = providers;
  }
  return out;
}
