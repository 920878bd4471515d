import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulDataError, parseCatalogServices, parseHealthEntries, parseIngressGateway, parseRoots } from './parse.ts';

const base = { includeWarning: false, regionKey: 'region', zoneKey: 'zone', weightTagPrefix: 'meshgate-weight=' };
const entry = (o: {
  addr?: string;
  port?: unknown;
  tags?: string[];
  status?: string;
  weights?: unknown;
  meta?: Record<string, string>;
  kind?: string;
  dest?: string;
  id?: string;
}) => ({
  Node: { Node: 'n1', Address: '10.0.0.1', Meta: o.meta ?? {} },
  Service: {
    ID: o.id ?? 'web-1',
    Service: 'web',
    Address: o.addr ?? '',
    Port: o.port ?? 8080,
    Tags: o.tags ?? [],
    Weights: o.weights,
    Kind: o.kind ?? '',
    Proxy: o.dest ? { DestinationServiceName: o.dest } : undefined,
  },
  Checks: [
    { CheckID: 'serfHealth', Status: 'passing' },
    { CheckID: 'c', Status: o.status ?? 'passing' },
  ],
});

test('health entries: address falls back to the node, weight from tag wins over Weights, locality from node meta', () => {
  const out = parseHealthEntries(
    [
      entry({ tags: ['meshgate-weight=7'], weights: { Passing: 3 }, meta: { region: 'eu', zone: 'eu-1a' } }),
      entry({ addr: '10.0.0.2', weights: { Passing: 3, Warning: 1 }, id: 'web-2' }),
    ],
    'h',
    base,
  );
  assert.deepEqual(
    out.map((i) => i.endpoint),
    [
      { address: '10.0.0.1', port: 8080, weight: 7, locality: { region: 'eu', zone: 'eu-1a' } },
      { address: '10.0.0.2', port: 8080, weight: 3 },
    ],
  );
});

test('health entries: critical is dropped; warning only with includeWarning', () => {
  const list = [entry({ status: 'critical' }), entry({ addr: '10.0.0.3', status: 'warning' })];
  assert.equal(parseHealthEntries(list, 'h', base).length, 0);
  assert.deepEqual(
    parseHealthEntries(list, 'h', { ...base, includeWarning: true }).map((i) => i.endpoint.address),
    ['10.0.0.3'],
  );
});

test('health entries: output order does not depend on Consul order', () => {
  const a = [entry({ addr: '10.0.0.9', id: 'a' }), entry({ addr: '10.0.0.2', id: 'b' })];
  assert.deepEqual(parseHealthEntries(a, 'h', base), parseHealthEntries([...a].reverse(), 'h', base));
});

test('connect entries: only connect-proxy instances for the destination, at the proxy public port', () => {
  const list = [
    entry({ kind: 'connect-proxy', dest: 'web', port: 21000 }),
    entry({ kind: 'connect-proxy', dest: 'api', port: 21001, addr: '10.0.0.5' }),
    entry({ kind: 'ingress-gateway', port: 8443, addr: '10.0.0.6' }),
  ];
  assert.deepEqual(
    parseHealthEntries(list, 'h', { ...base, connectDestination: 'web' }).map((i) => i.endpoint),
    [{ address: '10.0.0.1', port: 21000 }],
  );
});

test('wrong types raise ConsulDataError naming the field', () => {
  assert.throws(
    () => parseHealthEntries([entry({ port: '8080' })], 'health/service/web', base),
    (e: Error) =>
      e instanceof ConsulDataError && /health\/service\/web\[0\]\.Service\.Port: expected an integer/.test(e.message),
  );
  assert.throws(() => parseHealthEntries({ oops: 1 }, 'health/service/web', base), /expected an array/);
  assert.throws(() => parseHealthEntries([entry({ tags: ['meshgate-weight=abc'] })], 'h', base), /not a weight/);
  assert.throws(() => parseCatalogServices([]), /expected an object/);
});

test('unknown fields are ignored', () => {
  const e = { ...entry({}), Surprise: { x: 1 } };
  assert.equal(parseHealthEntries([e], 'h', base).length, 1);
  assert.deepEqual(
    [...parseCatalogServices({ web: ['a'], consul: [], x: null })],
    [
      ['web', ['a']],
      ['consul', []],
      ['x', []],
    ],
  );
});

test('roots: needs at least one PEM root; trust domain lower-cased', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
  const r = parseRoots({
    ActiveRootID: 'a',
    TrustDomain: 'ABC.consul',
    Roots: [
      { ID: 'a', RootCert: pem, Active: true, IntermediateCerts: null },
      { ID: 'b', RootCert: pem, Active: false },
    ],
  });
  assert.equal(r.trustDomain, 'abc.consul');
  assert.equal(r.rootPems.length, 2);
  assert.throws(() => parseRoots({ Roots: [] }), /empty/);
});

test('ingress-gateway entry: listeners, services, hosts and header operations', () => {
  const l = parseIngressGateway({
    Kind: 'ingress-gateway',
    Name: 'gw',
    Listeners: [
      {
        Port: 8080,
        Protocol: 'http',
        Services: [
          { Name: 'web', Hosts: ['web.example.com'], RequestHeaders: { Add: { 'x-a': '1' }, Remove: ['x-b'] } },
          { Name: 'api' },
        ],
      },
      { Port: 9000, Protocol: 'tcp', Services: [{ Name: 'db' }] },
    ],
  });
  assert.equal(l.length, 2);
  assert.deepEqual(l[0].services[0].hosts, ['web.example.com']);
  assert.deepEqual(l[0].services[0].requestHeadersToAdd, [{ name: 'x-a', value: '1' }]);
  assert.deepEqual(l[0].services[0].requestHeadersToRemove, ['x-b']);
  assert.deepEqual(l[0].services[1].hosts, []);
  assert.throws(() => parseIngressGateway({ Listeners: [{ Port: 8080, Protocol: 'udp' }] }), /Protocol/);
});
