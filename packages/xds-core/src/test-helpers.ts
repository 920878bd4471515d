// Shared fixtures for this package's tests: a real server on 127.0.0.1:0 and small hand-written resources.
import type { TestContext } from 'node:test';
import { XdsCache } from './cache.ts';
import { XdsServer, type XdsServerOptions } from './server.ts';
import { AdsClient, type AdsClientOptions } from './testing/ads-client.ts';
import { TYPE, type ResourceSet } from './types.ts';

export const ADS = { ads: {}, resource_api_version: 'V3' };

export function cluster(name: string, timeoutS = 5): object {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, service_name: name },
    connect_timeout: { seconds: timeoutS },
    lb_policy: 'ROUND_ROBIN',
  };
}

export function cla(name: string, ports: number[], host = '127.0.0.1'): object {
  return {
    cluster_name: name,
    endpoints: [
      {
        locality: { region: 'local' },
        load_balancing_weight: { value: 1 },
        lb_endpoints: ports.map((p) => ({
          endpoint: { address: { socket_address: { address: host, port_value: p } } },
          health_status: 'HEALTHY',
        })),
      },
    ],
  };
}

export function apiListener(name: string, routeName: string): object {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type':
          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        rds: { config_source: ADS, route_config_name: routeName },
        http_filters: [
          {
            name: 'router',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
          },
        ],
      },
    },
  };
}

export function route(name: string, clusterName: string): object {
  return {
    name,
    virtual_hosts: [
      { name: 'all', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: clusterName } }] },
    ],
  };
}

export function secret(name: string, pem = 'not-a-real-cert'): object {
  return { name, validation_context: { trusted_ca: { inline_string: pem } } };
}

/** A consistent set: listener l-<x> -> route r-<x> -> cluster <x> with one endpoint, for each name. */
export function resourceSet(names: string[], port = 9000): ResourceSet {
  const set: ResourceSet = new Map(Object.values(TYPE).map((t) => [t, new Map<string, object>()]));
  for (const n of names) {
    set.get(TYPE.cluster)!.set(n, cluster(n));
    set.get(TYPE.endpoint)!.set(n, cla(n, [port]));
    set.get(TYPE.listener)!.set(`l-${n}`, apiListener(`l-${n}`, `r-${n}`));
    set.get(TYPE.route)!.set(`r-${n}`, route(`r-${n}`, n));
  }
  return set;
}

export interface Harness {
  cache: XdsCache;
  server: XdsServer;
  address: string;
  client(opts: Partial<AdsClientOptions> & { id?: string }): Promise<AdsClient>;
}

/** A started server (closed, with its clients, after the test). */
export async function startServer(
  t: TestContext,
  opts: Partial<XdsServerOptions> & { ready?: boolean } = {},
): Promise<Harness> {
  const cache = opts.cache ?? new XdsCache();
  if (opts.ready !== false) cache.markReady();
  const server = new XdsServer({ ...opts, cache });
  const port = await server.listen(0, '127.0.0.1');
  const address = `127.0.0.1:${port}`;
  const clients: AdsClient[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  return {
    cache,
    server,
    address,
    async client(o) {
      const c = await AdsClient.connect({ address, node: { id: o.id ?? 'node-1', user_agent_name: 'envoy' }, ...o });
      clients.push(c);
      return c;
    },
  };
}

/** Polls `fn` until it returns true (or throws after timeoutMs). */
export async function eventually(fn: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const names = (r: { resources: Array<{ name: string }> }): string[] => r.resources.map((x) => x.name).sort();
