// Coalescing by ACK: while a stream's latest response of a type is unanswered, changes wait and merge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { TYPE } from './types.ts';
import { startServer, resourceSet, cluster, names, eventually } from './test-helpers.ts';

test('SotW client that does not ACK: one response per type until the wait ends, then the latest state only', async (t) => {
  const h = await startServer(t, { ackWaitMs: 400 });
  const pushes: Array<{ typeUrl: string; at: number }> = [];
  h.server.on('push', (e) => pushes.push({ typeUrl: e.typeUrl, at: Date.now() }));
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({ autoAck: false });
  c.subscribe(TYPE.cluster, ['*']);
  const r1 = await c.next(TYPE.cluster);
  assert.deepEqual(names(r1), ['a']);
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
  const r2 = await c.next(TYPE.cluster, 5000);
  assert.deepEqual(names(r2), ['a', 'b', 'c'], 'the latest state, not the intermediate one');
  const cds = pushes.filter((p) => p.typeUrl === TYPE.cluster);
  assert.equal(cds.length, 2);
  assert.ok(cds[1].at - cds[0].at >= 390, `second response ${cds[1].at - cds[0].at} ms after the unanswered first`);
  assert.equal(await c.quiet(TYPE.cluster, 300), true);
  assert.equal(c.received(TYPE.cluster), 2);
});

for (const mode of ['sotw', 'delta'] as const) {
  for (const answer of ['ack', 'nack'] as const) {
    test(`${mode}: an ${answer.toUpperCase()} releases held changes at once, merged into one response`, async (t) => {
      const h = await startServer(t, { ackWaitMs: 60_000 }); // only the answer can release them in this test
      h.cache.publish('envoy', resourceSet(['a']));
      const c = await h.client({ autoAck: false, mode });
      c.subscribe(TYPE.cluster, ['*']);
      const r1 = await c.next(TYPE.cluster);
      h.cache.publish('envoy', resourceSet(['a', 'b']));
      h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
      assert.equal(await c.quiet(TYPE.cluster, 300), true, 'held while the first response is unanswered');
      if (answer === 'ack') c.ack(r1);
      else c.nack(r1, 'test rejects it');
      const r2 = await c.next(TYPE.cluster, 5000);
      if (mode === 'sotw') assert.deepEqual(names(r2), ['a', 'b', 'c']);
      else assert.deepEqual(names(r2), ['b', 'c']);
      assert.equal(await c.quiet(TYPE.cluster, 300), true);
      assert.equal(c.received(TYPE.cluster), 2);
    });
  }
}

test('held batch keeps make-before-break order across types: CDS, EDS, then the smaller CDS', async (t) => {
  const h = await startServer(t, { ackWaitMs: 60_000 });
  const order: string[] = [];
  h.server.on('push', (e) =>
    order.push(
      `${e.typeUrl === TYPE.cluster ? 'CDS' : e.typeUrl === TYPE.endpoint ? 'EDS' : e.typeUrl}:${e.resources}`,
    ),
  );
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const c = await h.client({ autoAck: false });
  c.subscribe(TYPE.cluster, ['*']);
  const cds1 = await c.next(TYPE.cluster);
  c.subscribe(TYPE.endpoint, ['a', 'b', 'c']);
  const eds1 = await c.next(TYPE.endpoint);
  c.ack(eds1);
  await eventually(
    () => h.server.nodes()[0]?.types.find((x) => x.type === 'EDS')?.lastAckedVersion === eds1.versionInfo,
    5000,
    'EDS ACK',
  );
  order.length = 0;
  // b goes, c comes: while CDS is unanswered, the EDS part waits too.
  h.cache.publish('envoy', resourceSet(['a', 'c']));
  assert.equal(await c.quiet(TYPE.endpoint, 300), true, 'EDS held with the rest of the batch');
  c.ack(cds1);
  const cds2 = await c.next(TYPE.cluster, 5000);
  assert.deepEqual(names(cds2), ['a', 'b', 'c'], 'old and new clusters first');
  const eds2 = await c.next(TYPE.endpoint, 5000);
  assert.deepEqual(names(eds2), ['c']);
  // The smaller set comes after every addition; it was written in the same batch, without waiting for an ACK.
  const cds3 = await c.next(TYPE.cluster, 5000);
  assert.deepEqual(names(cds3), ['a', 'c']);
  assert.deepEqual(order, ['CDS:3', 'EDS:1', 'CDS:2']);
});

for (const mode of ['sotw', 'delta'] as const) {
  test(`${mode}: a reply to newly asked-for names is not held by another type's unanswered push (Envoy holds CDS ACKs while clusters warm)`, async (t) => {
    const h = await startServer(t, { ackWaitMs: 60_000 });
    h.cache.publish('envoy', resourceSet(['a']));
    const c = await h.client({ autoAck: false, mode });
    c.subscribe(TYPE.cluster, ['*']);
    c.ack(await c.next(TYPE.cluster));
    c.subscribe(TYPE.endpoint, ['a']);
    c.ack(await c.next(TYPE.endpoint));
    // A new cluster b arrives; like Envoy, the client does not ACK it until b's assignment is there.
    h.cache.publish('envoy', resourceSet(['a', 'b']));
    const cds2 = await c.next(TYPE.cluster, 5000).catch((e) => {
      throw new Error(`cds2: ${e.message}`);
    });
    assert.ok(names(cds2).includes('b'));
    // Meanwhile another cluster change is waiting behind that unanswered CDS response.
    h.cache.publish('envoy', resourceSet(['a', 'b', 'c']));
    c.subscribe(TYPE.endpoint, mode === 'sotw' ? ['a', 'b'] : ['b']);
    const eds = await c.next(TYPE.endpoint, 5000);
    assert.ok(names(eds).includes('b'), 'the assignment of b comes without waiting for the CDS ACK');
    assert.equal(await c.quiet(TYPE.cluster, 300), true, 'the held CDS change still waits');
    c.ack(cds2);
    assert.ok(
      names(
        await c.next(TYPE.cluster, 5000).catch((e) => {
          throw new Error(`cds3: ${e.message}`);
        }),
      ).includes('c'),
    );
  });
}

test('a NACKed version is not resent when the gate opens', async (t) => {
  const h = await startServer(t, { ackWaitMs: 200 });
  h.cache.publish('envoy', resourceSet(['a']));
  const c = await h.client({ autoAck: false });
  c.subscribe(TYPE.cluster, ['*']);
  const r1 = await c.next(TYPE.cluster);
  c.nack(r1, 'bad');
  // Republishing the same content (and the gate timer having had time to fire) sends nothing.
  h.cache.publish('envoy', resourceSet(['a']));
  assert.equal(await c.quiet(TYPE.cluster, 600), true);
  const changed = resourceSet(['a']);
  changed.get(TYPE.cluster)!.set('a', cluster('a', 9));
  h.cache.publish('envoy', changed);
  const r2 = await c.next(TYPE.cluster, 5000);
  assert.notEqual(r2.versionInfo, r1.versionInfo);
});

test('closing a stream whose changes wait for an ACK leaves no timer behind (the process exits)', async () => {
  // A child process: held changes behind a 60 s ACK wait, the client goes away, then the server closes. If the
  // stream kept its gate timer, the child would live for another minute.
  const src = new URL('.', import.meta.url).href;
  const script = `
    import { TYPE } from '${src}types.ts';
    import { XdsCache } from '${src}cache.ts';
    import { XdsServer } from '${src}server.ts';
    import { AdsClient } from '${src}testing/ads-client.ts';
    import { resourceSet } from '${src}test-helpers.ts';
    const cache = new XdsCache();
    cache.markReady();
    cache.publish('envoy', resourceSet(['a']));
    const server = new XdsServer({ cache, ackWaitMs: 60000 });
    const port = await server.listen(0, '127.0.0.1');
    const c = await AdsClient.connect({ address: '127.0.0.1:' + port, node: { id: 'n', user_agent_name: 'envoy' }, autoAck: false });
    c.subscribe(TYPE.cluster, ['*']);
    await c.next(TYPE.cluster);
    cache.publish('envoy', resourceSet(['a', 'b']));
    await new Promise((r) => setTimeout(r, 200));
    c.close();
    while (server.stats().streams > 0) await new Promise((r) => setTimeout(r, 10));
    await server.close();
    console.log('closed');
  `;
  const child = spawn(process.execPath, ['--conditions=source', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null | 'timeout'>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('timeout');
    }, 20_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `child did not exit by itself (stdout: ${out})`);
  assert.match(out, /closed/);
});
