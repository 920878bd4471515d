import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdsCache } from './cache.ts';
import { XdsServer } from './server.ts';
import { TYPE } from './types.ts';
import { cluster, eventually, resourceSet, startServer } from './test-helpers.ts';

test('a node that leaves with a NACK stays on departedNodes() with the NACK; a node without one leaves nothing', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const bad = await h.client({
    id: 'leaver',
    autoAck: false,
    node: { id: 'leaver', cluster: 'edge', user_agent_name: 'envoy' },
  });
  bad.subscribe(TYPE.cluster, ['*']);
  const r = await bad.next(TYPE.cluster);
  bad.nack(r, 'cluster a: incorrect total weight');
  await eventually(() => h.server.nodes()[0]?.types.some((x) => x.lastNack) === true, 5000, 'NACK recorded');
  const good = await h.client({ id: 'fine' });
  good.subscribe(TYPE.cluster, ['*']);
  await good.next(TYPE.cluster);
  await eventually(() => h.server.nodes().find((n) => n.id === 'fine')?.types[0]?.lastAckedVersion !== undefined);
  const before = Date.now();
  bad.close();
  good.close();
  await eventually(() => h.server.nodes().length === 0, 5000, 'both nodes gone');

  const departed = h.server.departedNodes();
  assert.deepEqual(
    departed.map((d) => d.id),
    ['leaver'],
  );
  const [d] = departed;
  assert.equal(d.cluster, 'edge');
  assert.ok(Date.parse(d.disconnectedAt) >= before - 5, d.disconnectedAt);
  assert.deepEqual(
    d.nacks.map(({ at, ...n }) => n),
    [
      {
        typeUrl: TYPE.cluster,
        type: 'CDS',
        version: r.versionInfo,
        nonce: r.nonce,
        message: 'cluster a: incorrect total weight',
        names: ['a'],
      },
    ],
  );
  assert.ok(Date.parse(d.nacks[0].at) <= Date.parse(d.disconnectedAt));
  assert.equal(h.server.stats().departed, 1);
});

test('departedNodes() is bounded: past departedMax the oldest departure goes first', async (t) => {
  const h = await startServer(t, { departedMax: 3 });
  h.cache.publish('envoy', resourceSet(['a']));
  for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) {
    const c = await h.client({ id, autoAck: false });
    c.subscribe(TYPE.cluster, ['*']);
    c.nack(await c.next(TYPE.cluster), `no ${id}`);
    await eventually(() => h.server.nodes().find((n) => n.id === id)?.types[0]?.lastNack !== undefined);
    c.close();
    await eventually(() => h.server.nodes().length === 0, 5000, `${id} gone`);
  }
  assert.deepEqual(
    h.server.departedNodes().map((d) => `${d.id}: ${d.nacks[0].message}`),
    ['n5: no n5', 'n4: no n4', 'n3: no n3'],
  );
  assert.equal(h.server.stats().departed, 3);
});

test('departed nodes expire after departedRetentionMs; a NACK later ACKed says so', async (t) => {
  const h = await startServer(t, { departedRetentionMs: 300 });
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({ id: 'flaky', autoAck: false });
  c.subscribe(TYPE.cluster, ['*']);
  c.nack(await c.next(TYPE.cluster), 'bad a');
  await eventually(() => h.server.nodes()[0]?.types[0]?.lastNack !== undefined);
  const changed = resourceSet(['a']);
  changed.get(TYPE.cluster)!.set('a', cluster('a', 7));
  h.cache.publish('envoy', changed);
  c.ack(await c.next(TYPE.cluster));
  await eventually(() => h.server.nodes()[0]?.types[0]?.lastAckedAt !== undefined, 5000, 'ACK recorded');
  c.close();
  await eventually(() => h.server.departedNodes().length === 1, 5000, 'departure recorded');
  const n = h.server.departedNodes()[0].nacks[0];
  assert.equal(n.message, 'bad a');
  assert.ok(n.ackedAfter && n.ackedAfter >= n.at, JSON.stringify(n));
  await eventually(() => h.server.departedNodes().length === 0, 5000, 'departure expired');
  assert.equal(h.server.stats().departed, 0);
});

test('retention options are checked; 0 keeps nothing', async (t) => {
  const cache = new XdsCache();
  assert.throws(() => new XdsServer({ cache, departedRetentionMs: -1 }), /departedRetentionMs must be an integer >= 0/);
  assert.throws(() => new XdsServer({ cache, departedMax: 1.5 }), /departedMax must be an integer >= 0/);
  const h = await startServer(t, { departedRetentionMs: 0 });
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({ autoAck: false });
  c.subscribe(TYPE.cluster, ['*']);
  c.nack(await c.next(TYPE.cluster), 'no');
  await eventually(() => h.server.nodes()[0]?.types[0]?.lastNack !== undefined);
  c.close();
  await eventually(() => h.server.nodes().length === 0);
  assert.deepEqual(h.server.departedNodes(), []);
});
