import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE } from './types.ts';
import { startServer, resourceSet, cluster, cla, names, eventually } from './test-helpers.ts';

test('SotW wildcard CDS: first response, nonce, ACK recorded, no resend of unchanged content', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const acks: string[] = [];
  h.server.on('ack', (e) => acks.push(e.version));
  const c = await h.client({});
  c.subscribe(TYPE.cluster, []); // legacy wildcard (empty list from Envoy)
  const r = await c.next(TYPE.cluster);
  assert.deepEqual(names(r), ['a', 'b']);
  assert.ok(r.nonce);
  assert.match(r.versionInfo, /^[A-Za-z0-9_-]{16}$/);
  await eventually(() => acks.includes(r.versionInfo), 5000, 'ACK event');
  const st = h.server.nodes()[0].types.find((x) => x.type === 'CDS')!;
  assert.equal(st.lastAckedVersion, r.versionInfo);
  assert.equal(st.wildcard, true);
  assert.equal(st.resources, 2);
  // Same content published again: nothing is pushed.
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  assert.equal(await c.quiet(TYPE.cluster, 300), true);
  // A change is pushed with a new version and nonce.
  h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  const r2 = await c.next(TYPE.cluster);
  assert.deepEqual(names(r2), ['a', 'b', 'c']);
  assert.notEqual(r2.versionInfo, r.versionInfo);
  assert.notEqual(r2.nonce, r.nonce);
});

test('SotW NACK: recorded in nodes(), the rejected version is not resent, new content is', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const nacks: Array<{ message: string; version: string }> = [];
  h.server.on('nack', (e) => nacks.push(e));
  const c = await h.client({ autoAck: false });
  c.subscribe(TYPE.cluster, ['*']);
  const r = await c.next(TYPE.cluster);
  c.nack(r, 'cluster a: bad thing');
  await eventually(() => nacks.length === 1, 5000, 'NACK event');
  assert.equal(nacks[0].version, r.versionInfo);
  const st = h.server.nodes()[0].types.find((x) => x.type === 'CDS')!;
  assert.equal(st.lastNack?.message, 'cluster a: bad thing');
  assert.equal(st.lastNack?.version, r.versionInfo);
  assert.deepEqual(st.lastNack?.names, ['a']);
  assert.equal(st.lastAckedVersion, undefined);
  // The client re-sends its request (as Envoy does after a NACK); identical content is not resent.
  h.cache.publish('envoy', resourceSet(['a']));
  assert.equal(await c.quiet(TYPE.cluster, 400), true);
  // New content is sent.
  const changed = resourceSet(['a']);
  changed.get(TYPE.cluster)!.set('a', cluster('a', 7));
  h.cache.publish('envoy', changed);
  const r2 = await c.next(TYPE.cluster);
  assert.notEqual(r2.versionInfo, r.versionInfo);
  assert.deepEqual((r2.resources[0].object as { connect_timeout: unknown }).connect_timeout, { seconds: '7' });
  c.ack(r2);
  await eventually(
    () => h.server.nodes()[0].types.find((x) => x.type === 'CDS')!.lastAckedVersion === r2.versionInfo,
    5000,
    'ACK',
  );
});

test('SotW named subscriptions, unsubscribe by a smaller list, EDS sends only changed resources', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  const c = await h.client({});
  c.subscribe(TYPE.endpoint, ['a', 'b', 'missing']);
  const r = await c.next(TYPE.endpoint);
  assert.deepEqual(names(r), ['a', 'b']);
  // Patch b: only b is sent.
  h.cache.patch('envoy', TYPE.endpoint, new Map([['b', cla('b', [9001])]]));
  const r2 = await c.next(TYPE.endpoint);
  assert.deepEqual(names(r2), ['b']);
  // Unsubscribe b (smaller list): later changes to b are not sent; a still is.
  c.unsubscribe(TYPE.endpoint, ['b']);
  const eds = () => h.server.nodes()[0].types.find((x) => x.type === 'EDS')!;
  await eventually(() => eds().subscribed === 2, 5000, 'unsubscribe processed');
  h.cache.patch('envoy', TYPE.endpoint, new Map([['b', cla('b', [9002])]]));
  assert.equal(await c.quiet(TYPE.endpoint, 300), true);
  h.cache.patch('envoy', TYPE.endpoint, new Map([['a', cla('a', [9003])]]));
  assert.deepEqual(names(await c.next(TYPE.endpoint)), ['a']);
  // The missing name appears: it is sent.
  h.cache.patch('envoy', TYPE.endpoint, new Map([['missing', cla('missing', [9004])]]));
  assert.deepEqual(names(await c.next(TYPE.endpoint)), ['missing']);
  assert.equal(eds().resources, 2);
});

test('SotW named LDS for a gRPC client: exactly the named listeners, an empty first list is not a wildcard', async (t) => {
  const h = await startServer(t);
  h.cache.publish('grpc', resourceSet(['a', 'b']));
  const c = await h.client({ node: { id: 'g1', user_agent_name: 'gRPC Node Pure JS' } });
  c.subscribe(TYPE.listener, ['l-a', 'l-nope']);
  const r = await c.next(TYPE.listener);
  assert.deepEqual(names(r), ['l-a']);
  const c2 = await h.client({ node: { id: 'g2', user_agent_name: 'gRPC Node Pure JS' } });
  c2.subscribe(TYPE.cluster, []);
  const r2 = await c2.next(TYPE.cluster);
  assert.deepEqual(names(r2), [], 'a gRPC client with no names subscribes to nothing');
});

test('ADS ordering: CDS, EDS, LDS, RDS in one batch, removals after additions', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['x']));
  const c = await h.client({});
  for (const ty of [TYPE.listener, TYPE.cluster]) c.subscribe(ty, ['*']);
  c.subscribe(TYPE.route, ['r-x', 'r-y']);
  c.subscribe(TYPE.endpoint, ['x', 'y']);
  for (const ty of [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]) await c.next(ty);
  const order: string[] = [];
  h.server.on('push', (e) => order.push(`${e.typeUrl.split('.').pop()}:${e.resources}`));
  // Move everything from x to y at once.
  h.cache.publish('envoy', resourceSet(['y']));
  const cds1 = await c.next(TYPE.cluster);
  assert.deepEqual(names(cds1), ['x', 'y'], 'make-before-break: x kept while y is added');
  assert.deepEqual(names(await c.next(TYPE.endpoint)), ['y']);
  assert.deepEqual(names(await c.next(TYPE.listener)), ['l-x', 'l-y']);
  assert.deepEqual(names(await c.next(TYPE.route)), ['r-y']);
  assert.deepEqual(names(await c.next(TYPE.listener)), ['l-y']);
  assert.deepEqual(names(await c.next(TYPE.cluster)), ['y']);
  assert.deepEqual(order, [
    'Cluster:2',
    'ClusterLoadAssignment:1',
    'Listener:2',
    'RouteConfiguration:1',
    'Listener:1',
    'Cluster:1',
  ]);
});

test('no response before markReady; held requests are answered once ready', async (t) => {
  const h = await startServer(t, { ready: false });
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({});
  c.subscribe(TYPE.cluster, ['*']);
  assert.equal(await c.quiet(TYPE.cluster, 400), true);
  h.cache.markReady();
  assert.deepEqual(names(await c.next(TYPE.cluster)), ['a']);
});

test('an endpoint patch wakes only the streams subscribed to that resource', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const ca = await h.client({ id: 'na' });
  const cb = await h.client({ id: 'nb' });
  ca.subscribe(TYPE.endpoint, ['a']);
  cb.subscribe(TYPE.endpoint, ['b']);
  await ca.next(TYPE.endpoint);
  await cb.next(TYPE.endpoint);
  let pushesToB = 0;
  h.server.on('push', (e) => {
    if (e.node === 'nb') pushesToB++;
  });
  for (let i = 0; i < 5; i++) {
    h.cache.patch('envoy', TYPE.endpoint, new Map([['a', cla('a', [10000 + i])]]));
    const r = await ca.next(TYPE.endpoint);
    assert.deepEqual(names(r), ['a']);
  }
  assert.equal(pushesToB, 0);
  assert.equal(cb.received(TYPE.endpoint), 1);
});

test('disconnect frees per-node state and the watch index', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({ id: 'gone' });
  c.subscribe(TYPE.cluster, ['*']);
  c.subscribe(TYPE.endpoint, ['a', 'b']);
  await c.next(TYPE.cluster);
  await c.next(TYPE.endpoint);
  assert.equal(h.server.nodes().length, 1);
  assert.equal(h.server.stats().index.watches, 2);
  c.close();
  await eventually(
    () => h.server.nodes().length === 0 && h.server.stats().connections === 0,
    5000,
    'node and connection removal',
  );
  assert.deepEqual(h.server.stats(), {
    connections: 0,
    refusedConnections: 0,
    quietCollections: 0,
    streams: 0,
    nodes: 0,
    departed: 0,
    index: { groups: 0, names: 0, watches: 0, wildcard: 0 },
  });
});

test('SotW repeated name lists: reordered, duplicated or shrunk lists are applied, not mistaken for the current one', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  const c = await h.client({});
  c.subscribe(TYPE.endpoint, ['a', 'b']);
  const r = await c.next(TYPE.endpoint);
  await eventually(
    () => h.server.nodes()[0]?.types.find((x) => x.type === 'EDS')?.lastAckedVersion === r.versionInfo,
    5000,
    'ACK',
  );
  const eds = () => h.server.nodes()[0].types.find((x) => x.type === 'EDS')!;
  const send = (list: string[]) =>
    c.send({ type_url: TYPE.endpoint, version_info: r.versionInfo, resource_names: list, response_nonce: r.nonce });
  // Same names in another order: still subscribed to both, nothing resent.
  send(['b', 'a']);
  assert.equal(await c.quiet(TYPE.endpoint, 300), true);
  assert.equal(eds().subscribed, 2);
  // As many entries as before, but b is gone (a duplicate takes its place): b is unsubscribed.
  send(['a', 'a']);
  await eventually(() => eds().subscribed === 1, 5000, 'b unsubscribed');
  h.cache.patch('envoy', TYPE.endpoint, new Map([['b', cla('b', [9101])]]));
  assert.equal(await c.quiet(TYPE.endpoint, 300), true);
  // Back to both: b's new content is sent.
  send(['a', 'b']);
  const r2 = await c.next(TYPE.endpoint);
  assert.deepEqual(names(r2), ['b']);
});

test('SotW first EDS response holding every assignment (shared pre-encoded set), then only changes', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  const all = await h.client({ id: 'all' });
  const some = await h.client({ id: 'some' });
  all.subscribe(TYPE.endpoint, ['a', 'b', 'c']);
  some.subscribe(TYPE.endpoint, ['a', 'b']);
  const r = await all.next(TYPE.endpoint);
  assert.deepEqual(names(r), ['a', 'b', 'c']);
  assert.deepEqual((r.resources.find((x) => x.name === 'c')!.object as { cluster_name: string }).cluster_name, 'c');
  assert.deepEqual(names(await some.next(TYPE.endpoint)), ['a', 'b']);
  h.cache.patch('envoy', TYPE.endpoint, new Map([['c', cla('c', [9201])]]));
  assert.deepEqual(names(await all.next(TYPE.endpoint)), ['c']);
  assert.equal(await some.quiet(TYPE.endpoint, 300), true);
  // A later subscriber to everything gets the new content of c.
  const late = await h.client({ id: 'late' });
  late.subscribe(TYPE.endpoint, ['c', 'b', 'a']);
  const rl = await late.next(TYPE.endpoint);
  assert.deepEqual(names(rl), ['a', 'b', 'c']);
  assert.match(JSON.stringify(rl.resources.find((x) => x.name === 'c')!.object), /"port_value":9201/);
  assert.equal(
    h.server
      .nodes()
      .find((n) => n.id === 'late')!
      .types.find((x) => x.type === 'EDS')!.resources,
    3,
  );
});

test('SotW wildcard streams share the full set; one narrowing its subscription leaves the others intact', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const ca = await h.client({ id: 'A' });
  const cb = await h.client({ id: 'B' });
  ca.subscribe(TYPE.cluster, ['*']);
  cb.subscribe(TYPE.cluster, ['*']);
  const ra = await ca.next(TYPE.cluster);
  assert.deepEqual(names(await cb.next(TYPE.cluster)), ['a', 'b']);
  await eventually(
    () =>
      h.server
        .nodes()
        .find((n) => n.id === 'A')
        ?.types.find((x) => x.type === 'CDS')?.lastAckedVersion === ra.versionInfo,
    5000,
    'ACK',
  );
  const cds = (id: string) =>
    h.server
      .nodes()
      .find((n) => n.id === id)!
      .types.find((x) => x.type === 'CDS')!;
  // A leaves the wildcard for the name a only: it forgets b, B still holds both.
  ca.unsubscribe(TYPE.cluster, ['*']);
  ca.subscribe(TYPE.cluster, ['a']);
  await eventually(() => cds('A').resources === 1, 5000, 'A holds a only');
  assert.equal(cds('B').resources, 2);
  // A third wildcard stream still gets the whole set, and a change reaches B as a full set.
  const cc = await h.client({ id: 'C' });
  cc.subscribe(TYPE.cluster, ['*']);
  assert.deepEqual(names(await cc.next(TYPE.cluster)), ['a', 'b']);
  h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  assert.deepEqual(names(await cb.next(TYPE.cluster)), ['a', 'b', 'c']);
  assert.equal(cds('B').resources, 3);
});

test('SotW: a proxy naming every assignment is indexed once per type, still gets each change once, and a subset proxy only its own', async (t) => {
  const all = Array.from({ length: 100 }, (_, i) => `s${i}`);
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(all));
  const gw = await h.client({ id: 'gateway' });
  gw.subscribe(TYPE.endpoint, all);
  const first = await gw.next(TYPE.endpoint);
  assert.equal(first.resources.length, 100);
  const side = await h.client({ id: 'sidecar' });
  side.subscribe(TYPE.endpoint, ['s1', 's2']);
  assert.deepEqual(names(await side.next(TYPE.endpoint)), ['s1', 's2']);
  await eventually(() => h.server.stats().index.watches === 2, 2000, 'index settled');
  // The gateway is one whole-type entry; only the sidecar's two names are indexed by name.
  assert.deepEqual(h.server.stats().index, { groups: 1, names: 2, watches: 2, wildcard: 1 });

  // Endpoint churn on every name, more than the held-set re-base threshold: each change arrives once, unchanged
  // assignments are never resent.
  for (let round = 0; round < 2; round++) {
    for (const n of all) {
      h.cache.patch('envoy', TYPE.endpoint, new Map([[n, cla(n, [10_000 + round])]]));
      const r = await gw.next(TYPE.endpoint);
      assert.deepEqual(names(r), [n]);
    }
  }
  assert.equal(await gw.quiet(TYPE.endpoint, 200), true);
  // The sidecar saw its two names change twice each, nothing else.
  const sideNames: string[] = [];
  while (side.pending(TYPE.endpoint)) sideNames.push(...names(await side.next(TYPE.endpoint)));
  assert.deepEqual(sideNames.sort(), ['s1', 's1', 's2', 's2']);

  // Dropping to a subset moves the gateway back to per-name entries, and nothing leaks when both leave.
  gw.unsubscribe(
    TYPE.endpoint,
    all.filter((n) => n !== 's5'),
  );
  await eventually(() => h.server.stats().index.wildcard === 0, 2000, 'gateway re-indexed by name');
  assert.equal(h.server.stats().index.watches, 3);
  gw.close();
  side.close();
  await eventually(() => h.server.stats().streams === 0, 2000, 'streams closed');
  assert.deepEqual(h.server.stats().index, { groups: 0, names: 0, watches: 0, wildcard: 0 });
});
