import type { Identity, Model, Route, Service, TrustBundle } from '@meshgate/model';
import type { Listener, RouteConfiguration, Secret, VirtualHost } from '@meshgate/envoy-api';
import { ads, cmp, DOWNSTREAM_TLS_TYPE, HCM_TYPE, removeHeaderPrefixesFilter, routerFilter, typed } from './common.ts';
import { compareRoutes, domainsFor, guardedHeaders, translateRoute } from './routes.ts';

/** A socket listener whose HttpConnectionManager fetches the RouteConfiguration of the same name. */
export function envoyListener(l: Model['listeners'][number]): Listener {
  // TLS termination: the certificates come over SDS by identity name, so a rotation changes only the Secret.
  const tls = l.tls
    ? {
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: typed(DOWNSTREAM_TLS_TYPE, {
            common_tls_context: {
              tls_certificate_sds_secret_configs: [...l.tls.identities]
                .sort(cmp)
                .map((name) => ({ name, sds_config: ads() })),
            },
          }),
        },
      }
    : {};
  return {
    name: l.name,
    address: { socket_address: { address: l.address ?? '0.0.0.0', port_value: l.port } },
    filter_chains: [
      {
        ...tls,
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: typed(HCM_TYPE, {
              stat_prefix: l.name,
              codec_type: 'AUTO',
              rds: { config_source: ads(), route_config_name: l.name },
              http_filters: [
                ...(l.removeRequestHeaderPrefixes?.length
                  ? [removeHeaderPrefixesFilter(l.removeRequestHeaderPrefixes)]
                  : []),
                routerFilter(),
              ],
            }),
          },
        ],
      },
    ],
  };
}

/** One RouteConfiguration per listener; one virtual host per distinct host, named after it. */
export function envoyRouteConfig(
  l: Model['listeners'][number],
  routes: Map<string, Route>,
  services: Map<string, Service>,
): RouteConfiguration {
  const guarded = guardedHeaders(services.values());
  const byHost = new Map<string, Route[]>();
  for (const rn of new Set(l.routes)) {
    const r = routes.get(rn);
    if (!r) continue;
    // Authorities are case-insensitive and Envoy refuses a domain listed twice in one RouteConfiguration.
    for (const h of new Set(r.hosts.map((x) => x.toLowerCase()))) {
      let list = byHost.get(h);
      if (!list) byHost.set(h, (list = []));
      list.push(r);
    }
  }
  const virtual_hosts = [...byHost.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(
      ([host, rs]): VirtualHost => ({
        name: host,
        domains: domainsFor(host),
        routes: [...rs].sort(compareRoutes).map((r) => translateRoute(r, services, 'envoy', guarded)),
      }),
    );
  return { name: l.name, virtual_hosts };
}

export function identitySecret(i: Identity): Secret {
  return {
    name: i.name,
    tls_certificate: {
      certificate_chain: { inline_string: i.certChainPem },
      private_key: { inline_string: i.privateKeyPem },
    },
  };
}

export function trustBundleSecret(b: TrustBundle): Secret {
  const pems = b.caPems.map((p) => (p.endsWith('\n') ? p : `${p}\n`));
  return { name: b.name, validation_context: { trusted_ca: { inline_string: pems.join('') } } };
}
