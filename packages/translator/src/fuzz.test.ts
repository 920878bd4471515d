import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model, Route, Service } from '@meshgate/model';
import { translate } from './translate.ts';
import { TYPE } from './types.ts';

/** mulberry32: small seeded PRNG so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomModel(rand: () => number): Model {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)];
  const names = ['a', 'b', 'c', 'svc/d', 'e.f', 'bad name', ''];
  const services: Service[] = [];
  for (let i = 0, n = int(5); i < n; i++) {
    services.push({
      name: pick(names),
      protocol: pick([undefined, 'http', 'grpc', 'http2', 'tcp'] as const),
      endpoints: Array.from({ length: int(4) }, () => ({
        address: pick(['10.0.0.1', '10.0.0.2', '::1', 'localhost', '']),
        port: pick([80, 8080, 0, 70000, 443]),
        weight: pick([undefined, 1, 5, 0]),
        health: pick([undefined, 'healthy', 'unhealthy', 'draining', 'unknown'] as const),
        locality: pick([undefined, { zone: 'z1' }, { region: 'r', zone: 'z2' }]),
      })),
      tls:
        rand() < 0.2
          ? {
              trustBundle: pick(['tb', 'nope']),
              clientIdentity: pick([undefined, 'id', 'nope']),
              expectedSans: rand() < 0.8 ? [{ kind: 'uri', value: 'spiffe://x/y' }] : [],
            }
          : undefined,
    });
  }
  const routes: Route[] = [];
  for (let i = 0, n = int(5); i < n; i++) {
    routes.push({
      name: pick(['r1', 'r2', 'r3', 'r4']),
      hosts: Array.from({ length: int(3) }, () => pick(['*', 'x.com', 'a', 'b', '*.y.com', 'bad*host'])),
      match: pick([
        { prefix: '/' },
        { prefix: '/api' },
        { path: '/x' },
        {},
        { prefix: '/', path: '/x' },
        { prefix: '/', headers: [{ name: 'h', exact: 'v' }] },
      ]),
      backends: Array.from({ length: int(3) }, () => ({
        service: pick(names),
        weight: pick([1, 2, 0, 100, 3_000_000_000]),
      })),
      timeoutMs: pick([undefined, 100, 2500]),
      retries: pick([undefined, { retryOn: '5xx', numRetries: 2 }]),
    });
  }
  const listeners = Array.from({ length: int(3) }, () => ({
    name: pick(['l1', 'l2', 'l3']),
    port: pick([8080, 8081, 0]),
    routes: Array.from({ length: int(3) }, () => pick(['r1', 'r2', 'r3', 'r4', 'zz'])),
  }));
  const identities = rand() < 0.5 ? [{ name: 'id', certChainPem: 'c', privateKeyPem: 'k' }] : [];
  const trustBundles = rand() < 0.5 ? [{ name: 'tb', caPems: ['p'] }] : [];
  return { services, routes, listeners, identities, trustBundles };
}

test('random models give problems, or resources whose references all resolve', () => {
  let clean = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const m = randomModel(prng(seed));
    for (const profile of ['envoy', 'grpc'] as const) {
      const { resources, problems } = translate(m, profile);
      if (problems.length > 0) {
        for (const set of resources.values()) assert.equal(set.size, 0, `seed ${seed}: problems but resources`);
        continue;
      }
      clean++;
      const clusters = resources.get(TYPE.cluster)!;
      const cla = resources.get(TYPE.endpoint)!;
      for (const [name, c] of clusters) {
        const svc = (c as { eds_cluster_config: { service_name: string } }).eds_cluster_config.service_name;
        assert.ok(cla.has(svc), `seed ${seed} ${profile}: cluster ${name} has no assignment`);
      }
      const routeConfigs = resources.get(TYPE.route)!;
      for (const [ln, l] of resources.get(TYPE.listener)!) {
        const hcm = ((l as { api_listener?: { api_listener: object } }).api_listener?.api_listener ??
          (l as { filter_chains: { filters: { typed_config: object }[] }[] }).filter_chains[0].filters[0]
            .typed_config) as { rds: { route_config_name: string } };
        assert.ok(
          routeConfigs.has(hcm.rds.route_config_name),
          `seed ${seed} ${profile}: listener ${ln} names a missing route config`,
        );
      }
      for (const rc of routeConfigs.values()) {
        for (const vh of (
          rc as {
            virtual_hosts: {
              routes: { route: { cluster?: string; weighted_clusters?: { clusters: { name: string }[] } } }[];
            }[];
          }
        ).virtual_hosts) {
          for (const r of vh.routes) {
            const names = r.route.cluster ? [r.route.cluster] : r.route.weighted_clusters!.clusters.map((c) => c.name);
            for (const n of names) assert.ok(clusters.has(n), `seed ${seed} ${profile}: route to missing cluster ${n}`);
            const wc = r.route.weighted_clusters as
              | { clusters: { weight: { value: number } }[]; total_weight?: { value: number } }
              | undefined;
            if (wc) {
              // gRPC C-core 1.51 and grpc-go 1.53 need an explicit total that the weights add up to; Envoy
              // has deprecated the field. Every client wants a sum within uint32 and no zero weights.
              const ws = wc.clusters.map((c) => c.weight.value);
              const sum = ws.reduce((a, b) => a + b, 0);
              if (profile === 'grpc')
                assert.equal(wc.total_weight?.value, sum, `seed ${seed} ${profile}: total_weight is not the sum`);
              else assert.equal(wc.total_weight, undefined, `seed ${seed} ${profile}: total_weight is deprecated`);
              assert.ok(sum <= 0xffff_ffff && ws.every((w) => Number.isInteger(w) && w >= 1), `seed ${seed}: ${ws}`);
            }
          }
        }
      }
    }
  }
  // The generator must reach the interesting half too, or the property says nothing.
  assert.ok(clean > 100, `only ${clean} clean translations`);
});
