import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyModel, type Model } from '@meshgate/model';
import { translate, checkResources } from './translate.ts';
import { translateEndpoints } from './endpoints.ts';
import { TYPE } from './types.ts';
import { loadModelYaml } from './test-support.ts';

const inDir = new URL('../testdata/in/', import.meta.url).pathname;

function model(partial: Partial<Model>): Model {
  return { ...emptyModel(), ...partial };
}

const twoServices = model({
  services: [
    { name: 'echo-v1', endpoints: [{ address: '127.0.0.1', port: 50051 }] },
    { name: 'echo-v2', endpoints: [{ address: '127.0.0.1', port: 50052 }] },
  ],
  routes: [
    { name: 'r', hosts: ['echo-v2', 'echo'], match: { prefix: '/' }, backends: [{ service: 'echo-v1', weight: 1 }] },
  ],
  listeners: [{ name: 'http', port: 8080, routes: ['r'] }],
});

test('removing a route leaves the other routes, names and resources untouched', () => {
  for (const profile of ['envoy', 'grpc'] as const) {
    const before = translate(loadModelYaml(`${inDir}route-removal-before.yaml`), profile).resources;
    const after = translate(loadModelYaml(`${inDir}route-removal-after.yaml`), profile).resources;
    for (const type of [TYPE.listener, TYPE.cluster, TYPE.endpoint])
      assert.deepEqual(after.get(type), before.get(type), `${profile} ${type}`);
    const entries = (set: typeof before) =>
      [...set.get(TYPE.route)!.values()].flatMap((rc) =>
        (rc as { virtual_hosts: { routes: { name: string }[] }[] }).virtual_hosts.flatMap((vh) => vh.routes),
      );
    const keptBefore = entries(before).filter((r) => r.name !== 'b');
    assert.deepEqual(entries(after), keptBefore, profile);
    assert.deepEqual(
      entries(after)
        .map((r) => r.name)
        .filter((n) => n !== 'default'),
      ['a', 'c'],
    );
  }
});

test('output does not depend on input order', () => {
  const m = loadModelYaml(`${inDir}matches-retries-timeouts.yaml`);
  const shuffled: Model = {
    ...m,
    services: [...m.services].reverse(),
    routes: [...m.routes].reverse(),
    listeners: m.listeners.map((l) => ({ ...l, routes: [...l.routes].reverse() })).reverse(),
  };
  for (const profile of ['envoy', 'grpc'] as const) {
    assert.deepEqual(translate(shuffled, profile).resources, translate(m, profile).resources);
  }
});

test('model problems come back with an empty resource set', () => {
  const bad = model({
    ...twoServices,
    routes: [{ name: 'r', hosts: ['echo'], match: { prefix: '/' }, backends: [{ service: 'echo-v3', weight: 1 }] }],
  });
  const { resources, problems } = translate(bad, 'envoy');
  assert.ok(
    problems.some((p) => p.path === 'routes[r].backends[echo-v3]' && /does not exist/.test(p.message)),
    JSON.stringify(problems),
  );
  for (const m of resources.values()) assert.equal(m.size, 0);
});

test('hostname endpoints, duplicate names and bad wildcard hosts are refused with a fix', () => {
  const { problems } = translate(
    model({
      services: [
        { name: 's', endpoints: [{ address: 'localhost', port: 80 }] },
        { name: 's', endpoints: [] },
      ],
      routes: [{ name: 'r', hosts: ['a.*.com'], match: { prefix: '/' }, backends: [{ service: 's', weight: 1 }] }],
    }),
    'grpc',
  );
  const text = problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  assert.match(text, /services\[s\]\.endpoints\[localhost:80\]: .*not an IP address.*127\.0\.0\.1/);
  assert.match(text, /services\[s\]: duplicate name/);
  assert.match(text, /routes\[r\]\.hosts\[a\.\*\.com\]: invalid host/);
});

test('envoy nodes get socket listeners and secrets; gRPC clients get API listeners and no secrets', () => {
  const env = translate(loadModelYaml(`${inDir}upstream-mtls.yaml`), 'envoy').resources;
  const grpc = translate(loadModelYaml(`${inDir}upstream-mtls.yaml`), 'grpc').resources;
  for (const l of env.get(TYPE.listener)!.values()) assert.ok('address' in l && !('api_listener' in l));
  for (const l of grpc.get(TYPE.listener)!.values()) assert.ok('api_listener' in l && !('address' in l));
  assert.deepEqual([...env.get(TYPE.secret)!.keys()], ['mesh/consul/ingress', 'mesh/consul/roots']);
  assert.equal(grpc.get(TYPE.secret)!.size, 0);
});

test('gRPC targets: every route host and every service; a route host named like a service wins', () => {
  const rs = translate(twoServices, 'grpc').resources;
  assert.deepEqual([...rs.get(TYPE.listener)!.keys()], ['echo', 'echo-v1', 'echo-v2']);
  const v2 = rs.get(TYPE.route)!.get('echo-v2') as {
    virtual_hosts: { domains: string[]; routes: { route: { cluster: string } }[] }[];
  };
  assert.deepEqual(v2.virtual_hosts[0].domains, ['echo-v2']);
  // The route "r" claims host echo-v2 and sends it to echo-v1: the explicit route beats the implicit target.
  assert.equal(v2.virtual_hosts[0].routes[0].route.cluster, 'echo-v1');
  const v1 = rs.get(TYPE.route)!.get('echo-v1') as { virtual_hosts: { routes: { route: { cluster: string } }[] }[] };
  assert.equal(v1.virtual_hosts[0].routes[0].route.cluster, 'echo-v1');
});

test('endpoint assignment: locality weight is the sum of its endpoints, duplicates dropped', () => {
  const cla = translateEndpoints(
    {
      name: 's',
      endpoints: [
        { address: '10.0.0.2', port: 80, weight: 3, locality: { zone: 'b' } },
        { address: '10.0.0.1', port: 80, weight: 2, locality: { zone: 'a' } },
        { address: '10.0.0.1', port: 80, weight: 7, locality: { zone: 'c' } },
        { address: '10.0.0.3', port: 80, locality: { zone: 'b' }, health: 'draining' },
      ],
    },
    'grpc',
  ) as {
    endpoints: {
      locality: { zone: string };
      load_balancing_weight: { value: number };
      lb_endpoints: { health_status: string }[];
    }[];
  };
  assert.deepEqual(
    cla.endpoints.map((e) => [
      e.locality.zone,
      e.load_balancing_weight.value,
      e.lb_endpoints.map((x) => x.health_status),
    ]),
    [
      ['a', 2, ['HEALTHY']],
      ['b', 4, ['HEALTHY', 'DRAINING']],
    ],
  );
});

test('endpoint weights that do not fit the uint32 xDS carries are refused, not wrapped', () => {
  const svc = (weights: number[]) =>
    model({
      services: [
        { name: 's', endpoints: weights.map((weight, i) => ({ address: `10.0.0.${i + 1}`, port: 80, weight })) },
      ],
    });
  const text = (weights: number[]) =>
    translate(svc(weights), 'envoy')
      .problems.map((p) => `${p.path}: ${p.message}`)
      .join('\n');
  // Two endpoints of 2^32-1 in one locality used to become a locality weight of 2^33-2, sent as 4294967294;
  // with 2^32-1 and 1 it wrapped to 0, which Envoy refuses.
  assert.match(text([0xffffffff, 1]), /services\[s\]: endpoint weights add up to 4294967296, more than 4294967295/);
  assert.match(
    text([2 ** 32]),
    /services\[s\]\.endpoints\[10\.0\.0\.1:80\]: weight 4294967296 is more than 4294967295/,
  );
  assert.equal(text([0xffffffff]), '');
  assert.equal(text([0xfffffffe, 1]), '');
});

test('checkResources finds a route to a missing cluster and a cluster without assignment', () => {
  const { resources } = translate(twoServices, 'envoy');
  resources.get(TYPE.cluster)!.delete('echo-v1');
  resources.get(TYPE.endpoint)!.delete('echo-v2');
  const msgs = checkResources(resources).map((p) => p.message);
  assert.ok(
    msgs.some((m) => m.includes('cluster "echo-v1" does not exist')),
    msgs.join('\n'),
  );
  assert.ok(
    msgs.some((m) => m.includes('no ClusterLoadAssignment "echo-v2"')),
    msgs.join('\n'),
  );
});

test('envoy strips mesh headers a client could smuggle to backends that do not set them', () => {
  const m = model({
    services: [
      {
        name: 'mesh',
        endpoints: [],
        requestHeadersToAdd: [{ name: 'l5d-dst-override', value: 'mesh.ns.svc.cluster.local:80' }],
      },
      { name: 'plain', endpoints: [] },
    ],
    routes: [
      {
        name: 'mixed',
        hosts: ['a'],
        match: { prefix: '/' },
        backends: [
          { service: 'mesh', weight: 1 },
          { service: 'plain', weight: 1 },
        ],
      },
      { name: 'auth', hosts: ['a'], match: { prefix: '/auth' }, backends: [{ service: 'plain', weight: 1 }] },
    ],
    listeners: [{ name: 'l', port: 80, routes: ['mixed', 'auth'] }],
  });
  type R = {
    name: string;
    request_headers_to_remove?: string[];
    route: {
      weighted_clusters?: {
        clusters: { name: string; request_headers_to_add?: unknown[]; request_headers_to_remove?: string[] }[];
      };
    };
  };
  const rc = translate(m, 'envoy').resources.get(TYPE.route)!.get('l') as { virtual_hosts: { routes: R[] }[] };
  const [auth, mixed] = rc.virtual_hosts[0].routes;
  assert.deepEqual(auth.request_headers_to_remove, ['l5d-dst-override']);
  const [meshC, plainC] = mixed.route.weighted_clusters!.clusters;
  assert.equal(meshC.request_headers_to_remove, undefined);
  assert.equal(meshC.request_headers_to_add?.length, 1);
  assert.deepEqual(plainC.request_headers_to_remove, ['l5d-dst-override']);
  assert.equal(mixed.request_headers_to_remove, undefined, 'a route-level removal could undo the mesh backend header');
});
