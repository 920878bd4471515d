import type { Model, Route, Service } from '@meshgate/model';
import type { Listener, Route as EnvoyRoute, RouteConfiguration } from '@meshgate/envoy-api';
import { ads, cmp, HCM_TYPE, headersToAdd, routerFilter, typed } from './common.ts';
import { compareRoutes, translateRoute } from './routes.ts';

/**
 * Dial targets for proxyless gRPC clients: every route host except wildcards, plus every service
 * name so that `xds:///<service>` works without a route. A route host equal to a service
 * name replaces that service's implicit target.
 */
export function grpcTargets(model: Model): Map<string, Route[]> {
  const targets = new Map<string, Route[]>();
  for (const r of model.routes) {
    for (const h of new Set(r.hosts)) {
      if (h.startsWith('*')) continue; // nobody dials a wildcard
      let list = targets.get(h);
      if (!list) targets.set(h, (list = []));
      list.push(r);
    }
  }
  for (const s of model.services) if (!targets.has(s.name)) targets.set(s.name, []);
  return new Map([...targets.entries()].sort(([a], [b]) => cmp(a, b)));
}

export function grpcListener(target: string): Listener {
  return {
    name: target,
    api_listener: {
      api_listener: typed(HCM_TYPE, {
        stat_prefix: target,
        rds: { config_source: ads(), route_config_name: target },
        http_filters: [routerFilter()],
      }),
    },
  };
}

export function grpcRouteConfig(target: string, routes: Route[], services: Map<string, Service>): RouteConfiguration {
  let entries: EnvoyRoute[];
  if (routes.length > 0) {
    // Redirects and local responses are HTTP-proxy features: grpc-js-xds rejects the whole
    // RouteConfiguration that holds one, so gRPC clients do not get those routes.
    entries = [...routes]
      .filter((r) => !r.redirect && !r.directResponse)
      .sort(compareRoutes)
      .map((r) => translateRoute(r, services, 'grpc'));
  } else {
    // Implicit target of a service: everything goes to that service's cluster.
    const s = services.get(target);
    const entry: EnvoyRoute = { name: 'default', match: { prefix: '/' }, route: { cluster: target } };
    if (s?.requestHeadersToAdd?.length) entry.request_headers_to_add = headersToAdd(s.requestHeadersToAdd);
    entries = [entry];
  }
  // grpc-go matches virtual hosts against the channel authority, which percent-encodes the `/` of a
  // target such as `k8s/shop/cart/8080` (grpc-js uses it as written): both spellings must match.
  const encoded = target.replaceAll('/', '%2F');
  const domains = encoded === target ? [target] : [target, encoded];
  return { name: target, virtual_hosts: [{ name: target, domains, routes: entries }] };
}
