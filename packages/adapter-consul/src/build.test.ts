import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model } from '@meshgate/model';
import { buildModel, buildStatus } from './build.ts';
import type { ConsulSourceOptions } from './options.ts';
import type { IngressListener } from './parse.ts';
import { resolveSettings } from './settings.ts';
import { type ConsulState, type ServiceWatch, newState } from './state.ts';

const TD = 'abcd.consul';
const roots = {
  trustDomain: TD,
  trustDomainResolved: TD,
  activeRootId: 'r1',
  rootPems: ['ROOT-PEM\n'],
  activeIntermediates: [],
};
const leaf = { chainPem: 'LEAF-CHAIN', keyPem: 'LEAF-KEY', serial: '01' };

function state(services: ServiceWatch[], o: Partial<ConsulState> = {}): ConsulState {
  const st = Object.assign(newState(), { dc: 'dc1' }, o);
  for (const s of services) st.services.set(s.name, s);
  return st;
}

const ingressSvc = (name: string, hosts: string[] = []) => ({
  name,
  hosts,
  requestHeadersToAdd: name === 'web' ? [{ name: 'x-from', value: 'gw' }] : [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: name === 'web' ? ['server'] : [],
});

const modelCases: { name: string; options: ConsulSourceOptions; state: ConsulState; want: Model }[] = [
  {
    name: 'a plain service: its endpoints under consul/<dc>/<svc>, no TLS; sorted by name',
    options: { connect: 'never' },
    state: state([
      { name: 'web', connect: false, endpoints: [{ address: '10.0.0.2', port: 80, weight: 3 }] },
      { name: 'api', connect: false },
    ]),
    want: {
      services: [
        { name: 'consul/dc1/api', endpoints: [], source: 'consul' },
        { name: 'consul/dc1/web', endpoints: [{ address: '10.0.0.2', port: 80, weight: 3 }], source: 'consul' },
      ],
      routes: [],
      listeners: [],
      identities: [],
      trustBundles: [],
    },
  },
  {
    name: 'a Connect service before the roots are known has no endpoints at all (never plaintext to a sidecar)',
    options: {},
    state: state([{ name: 'pay', connect: true, endpoints: [{ address: '10.0.0.9', port: 21000 }] }]),
    want: {
      services: [{ name: 'consul/dc1/pay', endpoints: [], source: 'consul' }],
      routes: [],
      listeners: [],
      identities: [],
      trustBundles: [],
    },
  },
  {
    name: 'a Connect service with roots and the gateway leaf: SNI, SPIFFE SAN, bundle and client identity',
    options: { gateway: { name: 'gw' } },
    state: state([{ name: 'pay', connect: true, endpoints: [{ address: '10.0.0.9', port: 21000 }] }], { roots, leaf }),
    want: {
      services: [
        {
          name: 'consul/dc1/pay',
          endpoints: [{ address: '10.0.0.9', port: 21000 }],
          source: 'consul',
          tls: {
            sni: `pay.default.dc1.internal.${TD}`,
            expectedSans: [{ kind: 'uri', value: `spiffe://${TD}/ns/default/dc/dc1/svc/pay` }],
            trustBundle: 'mesh/consul/roots',
            clientIdentity: 'mesh/consul/gw',
          },
        },
      ],
      routes: [],
      listeners: [],
      identities: [{ name: 'mesh/consul/gw', certChainPem: 'LEAF-CHAIN', privateKeyPem: 'LEAF-KEY', source: 'consul' }],
      trustBundles: [{ name: 'mesh/consul/roots', caPems: ['ROOT-PEM\n'], source: 'consul' }],
    },
  },
  {
    name: 'namespace and partition go into SNI and SAN; without a gateway there is no client identity',
    options: { namespace: 'team', partition: 'ap1', name: 'consul-east' },
    state: state([{ name: 'pay', connect: true, endpoints: [] }], { roots }),
    want: {
      services: [
        {
          name: 'consul/dc1/pay',
          endpoints: [],
          source: 'consul-east',
          tls: {
            sni: `pay.team.ap1.dc1.internal-v1.${TD}`,
            expectedSans: [{ kind: 'uri', value: `spiffe://${TD}/ap/ap1/ns/team/dc/dc1/svc/pay` }],
            trustBundle: 'mesh/consul/roots',
          },
        },
      ],
      routes: [],
      listeners: [],
      identities: [],
      trustBundles: [{ name: 'mesh/consul/roots', caPems: ['ROOT-PEM\n'], source: 'consul-east' }],
    },
  },
  {
    name: 'ingress: http listeners become listeners and routes (sorted by port); tcp, "*" and unwatched services are left out',
    options: { connect: 'never', gateway: { name: 'gw' } },
    state: state(
      [
        { name: 'web', connect: false, endpoints: [] },
        { name: 'api', connect: false, endpoints: [] },
      ],
      {
        ingress: [
          { port: 9090, protocol: 'grpc', services: [ingressSvc('api', ['api.example.com'])] },
          { port: 7000, protocol: 'tcp', services: [ingressSvc('api')] },
          { port: 8080, protocol: 'http', services: [ingressSvc('web'), ingressSvc('*'), ingressSvc('gone')] },
        ] satisfies IngressListener[],
      },
    ),
    want: {
      services: [
        { name: 'consul/dc1/api', protocol: 'grpc', endpoints: [], source: 'consul' },
        { name: 'consul/dc1/web', protocol: 'http', endpoints: [], source: 'consul' },
      ],
      routes: [
        {
          name: 'consul/ingress/8080/web',
          hosts: ['web.ingress.*'],
          match: { prefix: '/' },
          backends: [{ service: 'consul/dc1/web', weight: 1 }],
          requestHeadersToAdd: [{ name: 'x-from', value: 'gw' }],
          responseHeadersToRemove: ['server'],
          source: 'consul',
        },
        {
          name: 'consul/ingress/9090/api',
          hosts: ['api.example.com'],
          match: { prefix: '/' },
          backends: [{ service: 'consul/dc1/api', weight: 1 }],
          source: 'consul',
        },
      ],
      listeners: [
        { name: 'consul/ingress/8080', port: 8080, routes: ['consul/ingress/8080/web'], source: 'consul' },
        { name: 'consul/ingress/9090', port: 9090, routes: ['consul/ingress/9090/api'], source: 'consul' },
      ],
      identities: [],
      trustBundles: [],
    },
  },
];

for (const c of modelCases)
  test(`buildModel: ${c.name}`, () => {
    assert.deepEqual(buildModel(c.state, resolveSettings(c.options)), c.want);
  });

test('buildModel is pure: the same state gives the same model, and the model shares no endpoint with the state', () => {
  const st = state([{ name: 'web', connect: false, endpoints: [{ address: '10.0.0.2', port: 80 }] }]);
  const s = resolveSettings({ connect: 'never' });
  const a = buildModel(st, s);
  assert.deepEqual(buildModel(st, s), a);
  assert.notEqual(a.services[0].endpoints[0], st.services.get('web')!.endpoints![0]);
});

test('buildStatus: synced latch, watch summary, typed intention facts, per-thing errors and warnings', () => {
  const st = state(
    [
      { name: 'pay', connect: true, bad: 'health/connect/pay[0].Service.Port: expected an integer, got string' },
      { name: 'web', connect: false },
    ],
    {
      synced: true,
      catalog: new Map([['web', []]]),
      roots,
      leafError: 'consul: leaf certificate for gw rejected: expired',
      ingress: [
        { port: 7000, protocol: 'tcp', services: [] },
        { port: 8080, protocol: 'http', services: [ingressSvc('*')] },
      ],
      lastError: 'an older rejected answer',
      lastErrorAt: 1000,
      lastUpdateAt: 2000,
    },
  );
  st.watches.set('catalog', { synced: true });
  st.watches.set('svc:pay', { synced: true, failure: 'GET /v1/health/connect/pay: HTTP 500' });
  st.watches.set('svc:web', { synced: false });
  st.intentions.allowed.set('web', false).set('pay', false).set('api', true);
  st.intentions.denialsTotal = 3;
  const s = buildStatus(st, resolveSettings({ address: 'http://127.0.0.1:8500/ignored/path' }));
  assert.deepEqual(
    { ...s, details: undefined },
    {
      name: 'consul',
      synced: true,
      stale: true,
      lastError: 'GET /v1/health/connect/pay: HTTP 500',
      lastErrorAt: 1000,
      lastUpdateAt: 2000,
      watches: { total: 3, pending: 1, failing: ['svc:pay'] },
      consul: { intentionDenied: ['pay', 'web'] },
      details: undefined,
    },
  );
  assert.deepEqual(s.details, {
    address: 'http://127.0.0.1:8500',
    datacenter: 'dc1',
    watchedServices: 2,
    connectServices: ['pay'],
    deniedServices: ['pay', 'web'],
    intentionDenialsTotal: 3,
    badServices: { pay: 'health/connect/pay[0].Service.Port: expected an integer, got string' },
    failingWatches: ['svc:pay'],
    catalogServices: 1,
    trustDomain: TD,
    leafError: 'consul: leaf certificate for gw rejected: expired',
    unsupported: [
      'listener 7000: tcp listeners are not routed by meshgate',
      'listener 8080: wildcard service "*" is not supported; name the services',
    ],
    warningConnect:
      'Connect services are watched but consul.gateway is not set: no client certificate is presented, so sidecars will refuse the gateway',
  });
});

test('buildStatus: a healthy source is not stale and reports its last rejected answer; many services warn', () => {
  const services = Array.from({ length: 201 }, (_, i) => ({ name: `s${i}`, connect: false }));
  const st = state(services, { failingTasks: new Map(), lastError: 'old', lastErrorAt: 5 });
  const s = buildStatus(st, resolveSettings({ connect: 'never' }));
  assert.equal(s.stale, false);
  assert.equal(s.synced, false);
  assert.equal(s.lastError, 'old');
  assert.match(String(s.details?.warning), /watching 201 services .* http_max_conns_per_client defaults to 200/);
  st.failingTasks.set('agent/self', 'cannot reach the Consul agent');
  const t = buildStatus(st, resolveSettings({ connect: 'never' }));
  assert.equal(t.stale, true, 'a failing one-shot task makes the source stale');
  assert.equal(t.lastError, 'cannot reach the Consul agent');
  assert.deepEqual(t.watches?.failing, ['agent/self']);
});
