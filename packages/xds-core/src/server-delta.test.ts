import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE } from './types.ts';
import { XdsCache } from './cache.ts';
import { startServer, resourceSet, cla, names, eventually } from './test-helpers.ts';

test('delta: wildcard CDS, nonce-paired ACK and NACK, NACKed version not resent, new content sent', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({ mode: 'delta', autoAck: false });
  c.subscribe(TYPE.cluster, ['*']);
  const r = await c.next(TYPE.cluster);
  assert.deepEqual(names(r), ['a', 'b']);
  assert.deepEqual(r.removed, []);
  assert.ok(r.resources.every((x) => /^[A-Za-z0-9_-]{16}$/.test(x.version)));
  c.ack(r);
  const cds = () => h.server.nodes()[0].types.find((x) => x.type === 'CDS')!;
  await eventually(() => cds().lastAckedVersion === r.versionInfo, 5000, 'ACK');
  assert.equal(cds().mode, 'delta');

  const next = resourceSet(['a', 'b']);
  next
    .get(TYPE.cluster)!
    .set('a', { ...(next.get(TYPE.cluster)!.get('a') as object), connect_timeout: { seconds: 9 } });
  h.cache.publish('envoy', next);
  const r2 = await c.next(TYPE.cluster);
  assert.deepEqual(names(r2), ['a'], 'only the changed cluster');
  c.nack(r2, 'no thanks');
  await eventually(() => cds().lastNack?.message === 'no thanks', 5000, 'NACK');
  assert.deepEqual(cds().lastNack?.names, ['a']);
  h.cache.publish('envoy', next); // same content again
  c.subscribe(TYPE.cluster, []); // a spontaneous request
  assert.equal(await c.quiet(TYPE.cluster, 400), true);
  next
    .get(TYPE.cluster)!
    .set('a', { ...(next.get(TYPE.cluster)!.get('a') as object), connect_timeout: { seconds: 10 } });
  h.cache.publish('envoy', next);
  assert.deepEqual(names(await c.next(TYPE.cluster)), ['a']);
});

test('delta: removed_resources only for names the client had or asked for; removals after additions', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({ mode: 'delta' });
  c.subscribe(TYPE.cluster, ['*']);
  c.subscribe(TYPE.endpoint, ['a', 'ghost']);
  c.subscribe(TYPE.listener, ['*']);
  await c.next(TYPE.listener);
  const cds = await c.next(TYPE.cluster);
  assert.deepEqual(names(cds), ['a', 'b']);
  const eds = await c.next(TYPE.endpoint);
  assert.deepEqual(names(eds), ['a']);
  assert.deepEqual(eds.removed, ['ghost'], 'a subscribed name that does not exist is answered as removed');

  // 'b' goes away, 'c' arrives; 'b' was never sent on EDS (not subscribed), so EDS removes nothing.
  const order: string[] = [];
  h.server.on('push', (e) => order.push(`${e.typeUrl.split('.').pop()}+${e.resources}-${e.removed}`));
  h.cache.publish('envoy', resourceSet(['a', 'c']));
  const add = await c.next(TYPE.cluster);
  assert.deepEqual(names(add), ['c']);
  assert.deepEqual(add.removed, []);
  const rem = await c.next(TYPE.cluster);
  assert.deepEqual(rem.resources, []);
  assert.deepEqual(rem.removed, ['b']);
  // Additions of every type go before any removal.
  await eventually(() => order.length >= 4, 5000, 'pushes');
  assert.deepEqual(order, ['Cluster+1-0', 'Listener+1-0', 'Listener+0-1', 'Cluster+0-1']);
  assert.equal(await c.quiet(TYPE.endpoint, 200), true, 'no EDS removal for a name never sent');
  // Removing a sent EDS resource the client subscribed to does produce a removal.
  h.cache.patch('envoy', TYPE.endpoint, new Map(), ['a']);
  assert.deepEqual((await c.next(TYPE.endpoint)).removed, ['a']);
});

test('delta: unsubscribe stops updates; resubscribe sends the resource again', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({ mode: 'delta' });
  c.subscribe(TYPE.endpoint, ['a', 'b']);
  assert.deepEqual(names(await c.next(TYPE.endpoint)), ['a', 'b']);
  c.unsubscribe(TYPE.endpoint, ['a']);
  await eventually(() => h.server.nodes()[0].types[0].subscribed === 1, 5000, 'unsubscribe processed');
  h.cache.patch('envoy', TYPE.endpoint, new Map([['a', cla('a', [1])]]));
  assert.equal(await c.quiet(TYPE.endpoint, 300), true);
  h.cache.patch('envoy', TYPE.endpoint, new Map([['a', cla('a', [2])]]), ['b']);
  const r = await c.next(TYPE.endpoint);
  assert.deepEqual(r.removed, ['b']);
  assert.deepEqual(r.resources, []);
  c.subscribe(TYPE.endpoint, ['a']);
  assert.deepEqual(names(await c.next(TYPE.endpoint)), ['a']);
});

test('versions are content-derived: identical across server instances; initial_resource_versions honoured on reconnect', async (t) => {
  const first = await startServer(t);
  first.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  const c1 = await first.client({ mode: 'delta' });
  c1.subscribe(TYPE.cluster, ['*']);
  const r1 = await c1.next(TYPE.cluster);
  const held = Object.fromEntries(r1.resources.map((x) => [x.name, x.version]));
  const s1 = await first.client({ id: 'sotw' });
  s1.subscribe(TYPE.cluster, ['*']);
  const sotwVersion = (await s1.next(TYPE.cluster)).versionInfo;

  // "Restart": a new cache and server, same content, one cluster changed and one removed.
  const second = await startServer(t, { cache: new XdsCache() });
  const set = resourceSet(['a', 'b', 'd']);
  second.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  const s2 = await second.client({ id: 'sotw' });
  s2.subscribe(TYPE.cluster, ['*']);
  assert.equal((await s2.next(TYPE.cluster)).versionInfo, sotwVersion, 'same content, same SotW version');
  for (const [n, r] of [
    ['a', 'a'],
    ['b', 'b'],
  ])
    assert.equal(second.cache.get('envoy', TYPE.cluster, n)!.version, held[r]);
  set.get(TYPE.cluster)!.set('b', { ...(set.get(TYPE.cluster)!.get('b') as object), connect_timeout: { seconds: 42 } });
  second.cache.publish('envoy', set);

  const c2 = await second.client({ mode: 'delta' });
  c2.subscribe(TYPE.cluster, ['*'], { initialVersions: held });
  const r2 = await c2.next(TYPE.cluster);
  assert.deepEqual(names(r2), ['b', 'd'], 'a (unchanged) is not resent');
  assert.notEqual(r2.resources.find((x) => x.name === 'b')!.version, held.b);
  const r3 = await c2.next(TYPE.cluster);
  assert.deepEqual(r3.removed, ['c'], 'the client held c, which no longer exists');
});

test('per-type delta service (DeltaEndpoints) with the type implied by the method', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({
    mode: 'delta',
    method: '/envoy.service.endpoint.v3.EndpointDiscoveryService/DeltaEndpoints',
  });
  c.send({ resource_names_subscribe: ['b'] });
  const r = await c.next(TYPE.endpoint);
  assert.deepEqual(names(r), ['b']);
  assert.equal(h.server.nodes()[0].types[0].type, 'EDS');
});

test('delta: gateways subscribing to every assignment are indexed once per type, get each change once, removals still reach them', async (t) => {
  const all = Array.from({ length: 100 }, (_, i) => `s${i}`);
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(all));
  const gws = [await h.client({ id: 'gw-1', mode: 'delta' }), await h.client({ id: 'gw-2', mode: 'delta' })];
  for (const gw of gws) {
    gw.subscribe(TYPE.endpoint, all);
    assert.equal((await gw.next(TYPE.endpoint)).resources.length, 100);
  }
  const side = await h.client({ id: 'sidecar', mode: 'delta' });
  side.subscribe(TYPE.endpoint, ['s1']);
  assert.deepEqual(names(await side.next(TYPE.endpoint)), ['s1']);
  await eventually(() => h.server.stats().index.watches === 1, 2000, 'index settled');
  assert.deepEqual(h.server.stats().index, { groups: 1, names: 1, watches: 1, wildcard: 2 });

  for (let round = 0; round < 2; round++) {
    for (const n of all) {
      h.cache.patch('envoy', TYPE.endpoint, new Map([[n, cla(n, [10_000 + round])]]));
      for (const gw of gws) assert.deepEqual(names(await gw.next(TYPE.endpoint)), [n]);
    }
  }
  for (const gw of gws) assert.equal(await gw.quiet(TYPE.endpoint, 200), true, 'unchanged assignments are not resent');

  // A removed assignment is removed from the gateways; the sidecar, which does not follow it, hears nothing.
  h.cache.patch('envoy', TYPE.endpoint, new Map(), ['s7']);
  for (const gw of gws) {
    const r = await gw.next(TYPE.endpoint);
    assert.deepEqual(r.removed, ['s7']);
    assert.equal(gw.held(TYPE.endpoint).size, 99);
  }
  // Unsubscribing most names moves a gateway back to per-name entries; nothing leaks when all leave.
  gws[0].unsubscribe(
    TYPE.endpoint,
    all.filter((n) => n !== 's3'),
  );
  await eventually(() => h.server.stats().index.wildcard === 1, 2000, 'gw-1 re-indexed by name');
  h.cache.patch(
    'envoy',
    TYPE.endpoint,
    new Map([
      ['s3', cla('s3', [10_500])],
      ['s4', cla('s4', [10_500])],
    ]),
  );
  assert.deepEqual(names(await gws[0].next(TYPE.endpoint)), ['s3']);
  assert.deepEqual(names(await gws[1].next(TYPE.endpoint)), ['s3', 's4']);
  for (const c of [...gws, side]) c.close();
  await eventually(() => h.server.stats().streams === 0, 2000, 'streams closed');
  assert.deepEqual(h.server.stats().index, { groups: 0, names: 0, watches: 0, wildcard: 0 });
});
