import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdsCache } from './cache.ts';
import { ResourceEncodeError, decodeAny } from './codec.ts';
import { TYPE } from './types.ts';
import { envoyRoot } from './protos.ts';
import { cluster, cla, resourceSet } from './test-helpers.ts';

test('versions are content hashes: identical content gives identical versions in separate caches', () => {
  const a = new XdsCache();
  const b = new XdsCache();
  a.publish('envoy', resourceSet(['x', 'y']));
  b.publish('envoy', resourceSet(['y', 'x']));
  for (const t of Object.values(TYPE)) {
    for (const r of a.list('envoy', t)) assert.equal(b.get('envoy', t, r.name)?.version, r.version);
  }
  const v1 = a.get('envoy', TYPE.cluster, 'x')!.version;
  a.patch('envoy', TYPE.cluster, new Map([['x', cluster('x', 6)]]));
  assert.notEqual(a.get('envoy', TYPE.cluster, 'x')!.version, v1);
  a.patch('envoy', TYPE.cluster, new Map([['x', cluster('x')]]));
  assert.equal(a.get('envoy', TYPE.cluster, 'x')!.version, v1, 'back to the old content, back to the old version');
});

test('publish reports only changed and removed names; unchanged content keeps its bytes', () => {
  const c = new XdsCache();
  const first = c.publish('g', resourceSet(['a', 'b']));
  assert.deepEqual(
    first.changes.map((x) => x.typeUrl),
    [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route],
  );
  const bytes = c.get('g', TYPE.cluster, 'a')!.bytes;
  assert.deepEqual(c.publish('g', resourceSet(['a', 'b'])).changes, []);
  assert.equal(c.get('g', TYPE.cluster, 'a')!.bytes, bytes, 'same shared buffer');
  const r = c.publish('g', resourceSet(['a', 'c']));
  const cds = r.changes.find((x) => x.typeUrl === TYPE.cluster)!;
  assert.deepEqual(cds, { typeUrl: TYPE.cluster, changed: ['c'], removed: ['b'] });
  const p = c.patch('g', TYPE.endpoint, new Map([['a', cla('a', [1, 2])]]), ['c']);
  assert.deepEqual(p.changes, [{ typeUrl: TYPE.endpoint, changed: ['a'], removed: ['c'] }]);
  assert.deepEqual(c.stats().resources, 7);
});

test('encoded resources decode back to the same object (snake_case, Any with @type)', () => {
  const c = new XdsCache();
  c.publish('g', resourceSet(['a']));
  const { typeUrl, object } = decodeAny(c.get('g', TYPE.listener, 'l-a')!.bytes);
  assert.equal(typeUrl, TYPE.listener);
  const hcm = (object as { api_listener: { api_listener: Record<string, unknown> } }).api_listener.api_listener;
  assert.equal(
    hcm['@type'],
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  );
  assert.equal((hcm.rds as { route_config_name: string }).route_config_name, 'r-a');
});

test('bad resources are rejected with the path of the problem, and the group keeps its previous content', () => {
  const c = new XdsCache();
  c.publish('g', resourceSet(['a']));
  const before = c.get('g', TYPE.cluster, 'a')!.version;
  const bad = resourceSet(['a']);
  bad.get(TYPE.cluster)!.set('a', { ...(cluster('a') as object), connectTimeout: { seconds: 1 } });
  assert.throws(
    () => c.publish('g', bad),
    (e: Error) =>
      e instanceof ResourceEncodeError && /Cluster\(a\)\.connectTimeout: .*no field "connectTimeout"/.test(e.message),
  );
  assert.equal(c.get('g', TYPE.cluster, 'a')!.version, before);
  bad.get(TYPE.cluster)!.set('a', { ...(cluster('a') as object), lb_policy: 'FASTEST' });
  assert.throws(() => c.publish('g', bad), /lb_policy: "FASTEST" is not a value of enum LbPolicy/);
  const anyBad = resourceSet(['a']);
  anyBad
    .get(TYPE.listener)!
    .set('l-a', { name: 'l-a', api_listener: { api_listener: { '@type': 'type.googleapis.com/no.such.Message' } } });
  assert.throws(() => c.publish('g', anyBad), /no\.such\.Message is not known/);
  assert.throws(() => c.publish('g', new Map([['type.googleapis.com/x.Y', new Map()]])), /unsupported resource type/);
});

test('envoyRoot has the bootstrap and the extension types the translator uses', () => {
  const root = envoyRoot();
  for (const n of [
    'envoy.config.bootstrap.v3.Bootstrap',
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    'envoy.extensions.filters.http.router.v3.Router',
    'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    'google.rpc.Status',
    'google.protobuf.Struct',
  ]) {
    assert.ok(root.lookupType(n), n);
  }
});
