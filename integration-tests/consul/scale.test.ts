// A 5,000-service catalog must not cause request storms: only what is needed is watched, the
// initial fan-out is bounded, and each watched service holds one blocking loop. Request counts
// come from the contract server (a real agent does not count requests per client).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { startSource } from '../lib/consul-harness.ts';

let consul: ConsulDriver;
before(async () => {
  consul = await startConsul({});
  const list = Array.from({ length: 5000 }, (_, i) => {
    const n = String(i).padStart(4, '0');
    return {
      id: `svc-${n}`,
      name: `svc-${n}`,
      address: `10.${Math.floor(i / 250)}.${i % 250}.1`,
      port: 8080,
      tags: i % 50 === 0 ? ['edge'] : [],
    };
  });
  await consul.seedServices(list);
});
after(() => consul?.close());

const settle = () => new Promise((r) => setTimeout(r, 2000));

describe('consul at 5,000 services [request counts from the contract server]', () => {
  test('routes need three services: a handful of requests, none for the other 4,997', async (t) => {
    if (!consul.contract) return t.skip('request counting needs the contract server');
    consul.contract.resetStats();
    const { source, sink } = await startSource(t, { address: consul.address });
    source.watchServices(['svc-0042', 'svc-1234', 'consul/dc1/svc-4999']);
    await sink.waitModel(
      (m) => m.services.length === 3 && m.services.every((s) => s.endpoints.length === 1),
      'the three services',
    );
    await settle();
    const st = consul.contract.stats;
    t.diagnostic(`requests: ${st.requests} ${JSON.stringify(st.byRoute)}`);
    const health = st.byRoute['GET /v1/health/service'] ?? 0;
    assert.ok(health <= 6, `at most an initial read and one blocking request per service, saw ${health}`);
    assert.ok(st.requests <= 12, `expected about 10 requests in all, saw ${st.requests}`);
    assert.equal(sink.lastStatus?.details?.catalogServices, 5000);
  });

  test('tag filter selecting 100 services: fan-out bounded by the concurrency limit, one loop per service, then quiet', async (t) => {
    if (!consul.contract) return t.skip('request counting needs the contract server');
    consul.contract.resetStats();
    consul.contract.plainLatencyMs = 30; // a busy agent: without a limit, all 100 reads would be in flight at once
    t.after(() => {
      if (consul.contract) consul.contract.plainLatencyMs = 0;
    });
    const { sink } = await startSource(t, { address: consul.address, tag: 'edge', concurrency: 8 });
    await sink.waitModel(
      (m) => m.services.length === 100 && m.services.every((s) => s.endpoints.length === 1),
      'the 100 tagged services',
      30_000,
    );
    await settle();
    const st = consul.contract.stats;
    t.diagnostic(`requests: ${st.requests}, max plain in flight ${st.maxPlainInFlight}`);
    assert.ok(st.maxPlainInFlight <= 8, `at most 8 non-blocking requests at once, saw ${st.maxPlainInFlight}`);
    assert.ok(st.maxPlainInFlight >= 4, `the fan-out does run in parallel, saw ${st.maxPlainInFlight}`);
    assert.ok(st.requests <= 2 * 100 + 10, `about two requests per watched service, saw ${st.requests}`);
    const quietFrom = st.requests;
    await settle();
    assert.ok(consul.contract.stats.requests - quietFrom <= 2, 'no polling once every loop is blocked');
  });
});
