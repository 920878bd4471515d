// Resilience of the Consul source: agent outage (keep last known, stale, recover without
// flapping) and malformed answers for one service. Real agent when available, else the contract
// server; malformed answers can only be injected into the contract server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { endpointsOf, startSource } from '../lib/consul-harness.ts';

let consul: ConsulDriver;
before(async () => {
  consul = await startConsul({});
});
after(() => consul?.close());

describe('consul resilience', () => {
  test('agent stopped: endpoints and identity kept, source stale; agent back: recovered without flapping and following changes', async (t) => {
    await consul.registerService({ id: 'cart-1', name: 'cart', address: '127.0.0.71', port: 80 });
    await consul.registerService({ id: 'cart-2', name: 'cart', address: '127.0.0.72', port: 80 });
    const { sink } = await startSource(t, {
      address: consul.address,
      services: ['cart'],
      gateway: { name: 'resilient-gw' },
    });
    const before = await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/cart')?.length === 2 && m.identities.length === 1,
      'cart and identity',
    );
    const modelsBefore = sink.models.length;

    await consul.stopAgent();
    const stale = await sink.waitStatus((s) => s.stale, 'source marked stale', 20_000);
    assert.match(stale.lastError ?? '', /cannot reach the Consul agent|no answer/);
    assert.equal(stale.synced, true, 'synced never turns back');
    assert.equal(
      sink.models.length,
      modelsBefore,
      'no model emitted while the agent is down (no empty or partial model)',
    );
    assert.deepEqual(sink.model, before);

    await consul.startAgent();
    const recovered = await sink.waitStatus((s) => !s.stale, 'source recovered', 30_000);
    assert.deepEqual((recovered.details?.failingWatches as string[]) ?? [], []);
    await consul.registerService({ id: 'cart-3', name: 'cart', address: '127.0.0.73', port: 80 });
    await sink.waitModel((m) => endpointsOf(m, 'consul/dc1/cart')?.length === 3, 'a change after recovery', 15_000);
    assert.ok(
      sink.models.every((m) => (endpointsOf(m, 'consul/dc1/cart')?.length ?? 0) >= 2 && m.identities.length === 1),
      'cart never lost its endpoints and the identity never went away',
    );
    const flips = sink.statuses.reduce((n, s, i) => n + (i > 0 && s.stale !== sink.statuses[i - 1].stale ? 1 : 0), 0);
    assert.equal(flips, 2, `stale should go true once and false once, flipped ${flips} times`);
  });

  test('a malformed, wrongly typed or huge answer for one service skips that service only [contract server: faults injected]', async (t) => {
    if (!consul.contract) return t.skip('a real agent cannot be made to send malformed answers');
    await consul.registerService({ id: 'good-1', name: 'good', address: '127.0.0.81', port: 80 });
    for (const [name, i] of [
      ['bad-json', 2],
      ['bad-types', 3],
      ['bad-huge', 4],
    ] as const) {
      await consul.registerService({ id: `${name}-1`, name, address: `127.0.0.8${i}`, port: 80 });
    }
    consul.contract.malform('bad-json', 'json');
    consul.contract.malform('bad-types', 'types');
    consul.contract.malform('bad-huge', 'huge'); // 17 MiB, over the default 16 MiB limit
    const { sink } = await startSource(t, {
      address: consul.address,
      services: ['good', 'bad-json', 'bad-types', 'bad-huge'],
      backoff: { baseMs: 100, capMs: 1000 },
    });
    const m = await sink.waitModel((m) => endpointsOf(m, 'consul/dc1/good')?.length === 1, 'the good service', 20_000);
    for (const n of ['bad-json', 'bad-types', 'bad-huge'])
      assert.deepEqual(endpointsOf(m, `consul/dc1/${n}`), [], `${n} has no endpoints`);
    const st = await sink.waitStatus(
      (s) => Object.keys((s.details?.badServices as object) ?? {}).length === 3,
      'three services reported bad',
    );
    const bad = st.details?.badServices as Record<string, string>;
    assert.match(bad['bad-json'], /not valid JSON/);
    assert.match(bad['bad-types'], /expected/);
    assert.match(bad['bad-huge'], /larger than 16777216 bytes/);
    assert.equal(st.stale, false, 'bad data for one service does not make the whole source stale');

    consul.contract.malform('bad-types', null);
    consul.contract.malform('bad-json', null);
    await sink.waitModel(
      (m) =>
        endpointsOf(m, 'consul/dc1/bad-types')?.length === 1 && endpointsOf(m, 'consul/dc1/bad-json')?.length === 1,
      'services back once their answers are good',
      15_000,
    );
    assert.deepEqual(endpointsOf(sink.model, 'consul/dc1/good'), ['127.0.0.81:80']);
    consul.contract.malform('bad-huge', null);
  });
});
