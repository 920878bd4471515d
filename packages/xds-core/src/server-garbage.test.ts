import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TYPE } from './types.ts';
import { startServer, resourceSet, names, eventually, type Harness } from './test-helpers.ts';

async function stillServes(h: Harness): Promise<void> {
  const c = await h.client({ id: `healthy-${Math.random()}` });
  c.subscribe(TYPE.cluster, ['*']);
  assert.ok(names(await c.next(TYPE.cluster)).length > 0);
  c.close();
}

test('unknown type URL: ignored on the stream (default), or rejected with INVALID_ARGUMENT naming it', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({});
  c.send({ type_url: 'type.googleapis.com/made.up.Thing', resource_names: ['x'] });
  c.subscribe(TYPE.cluster, ['*']);
  assert.deepEqual(names(await c.next(TYPE.cluster)), ['a']);
  assert.equal(await c.quiet('type.googleapis.com/made.up.Thing', 200), true);

  const strict = await startServer(t, { rejectUnknownTypes: true });
  const c2 = await strict.client({});
  c2.send({ type_url: 'type.googleapis.com/made.up.Thing', resource_names: ['x'] });
  const st = await c2.status;
  assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
  assert.match(st.details, /made\.up\.Thing/);
});

test('SotW stale nonce: the request is ignored (no NACK recorded, no subscription change)', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({ autoAck: false });
  c.subscribe(TYPE.endpoint, ['a', 'b']);
  const r1 = await c.next(TYPE.endpoint);
  c.ack(r1);
  h.cache.patch('envoy', TYPE.endpoint, new Map([['a', { cluster_name: 'a' }]]));
  const r2 = await c.next(TYPE.endpoint);
  // A late answer to r1 that both NACKs and drops 'b': stale, so neither takes effect.
  c.send({
    type_url: TYPE.endpoint,
    response_nonce: r1.nonce,
    resource_names: ['a'],
    error_detail: { code: 3, message: 'stale' },
  });
  c.ack(r2);
  const eds = () => h.server.nodes()[0].types.find((x) => x.type === 'EDS')!;
  await eventually(() => eds().lastAckedVersion === r2.versionInfo, 5000, 'ACK of r2');
  assert.equal(eds().lastNack, undefined);
  assert.equal(eds().subscribed, 2);
  h.cache.patch('envoy', TYPE.endpoint, new Map([['b', { cluster_name: 'b' }]]));
  assert.deepEqual(names(await c.next(TYPE.endpoint)), ['b']);
});

test('delta stale nonce: subscription changes are still honoured', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({ mode: 'delta' });
  c.subscribe(TYPE.endpoint, ['a']);
  await c.next(TYPE.endpoint);
  c.send({ type_url: TYPE.endpoint, response_nonce: 'not-a-nonce-we-sent', resource_names_subscribe: ['b'] });
  assert.deepEqual(names(await c.next(TYPE.endpoint)), ['b']);
});

test('200,000 names: stream closed with RESOURCE_EXHAUSTED, server keeps serving', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({});
  c.send({ type_url: TYPE.endpoint, resource_names: Array.from({ length: 200_000 }, (_, i) => `name-${i}`) });
  const st = await c.status;
  assert.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /200000 \(limit 100000\)/);
  await eventually(() => h.server.stats().index.names === 0, 5000, 'index cleanup');
  await stillServes(h);
});

test('undecodable request bytes: stream closed with INVALID_ARGUMENT, server keeps serving', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const raw = new grpc.Client(h.address, grpc.credentials.createInsecure());
  t.after(() => raw.close());
  const call = raw.makeBidiStreamRequest(
    '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.write(Buffer.from([0x0a, 0x02, 0x68, 0x69, 0x07])); // a valid field 1, then a tag with wire type 7 (invalid)
  const st = await status;
  assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
  assert.match(st.details, /could not decode the request as DiscoveryRequest/);
  await stillServes(h);
});

test('first request without node.id, and a wrong type on a per-type service, are rejected clearly', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({});
  c.send({ node: undefined, type_url: TYPE.cluster, resource_names: ['*'] });
  const st = await c.status;
  assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
  assert.match(st.details, /node\.id/);

  const cds = await h.client({ method: '/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters' });
  cds.send({ resource_names: [] }); // type_url implied by the service; legacy wildcard
  assert.deepEqual(names(await cds.next(TYPE.cluster)), ['a']);
  cds.send({ type_url: TYPE.endpoint, resource_names: ['a'] });
  const st2 = await cds.status;
  assert.equal(st2.code, grpc.status.INVALID_ARGUMENT);
  assert.match(st2.details, /StreamClusters/);
  await stillServes(h);
});
