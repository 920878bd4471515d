// Self-checks of the Consul contract server's blocking-query contract, so the adapter tests
// above rest on a stand-in that behaves as Consul documents blocking queries.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulContractServer } from '../lib/consul-contract-server.ts';
import { waitFor } from '../lib/wait.ts';

let c: ConsulContractServer;
before(async () => {
  c = await ConsulContractServer.start({ aclToken: 'tok-123456' });
});
after(() => c?.close());

const get = async (path: string, token = 'tok-123456') => {
  const r = await fetch(c.address + path, {
    headers: { 'x-consul-token': token },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, index: r.headers.get('x-consul-index'), text: await r.text() };
};

describe('consul contract server [stand-in for a real agent]', () => {
  test('every answer carries X-Consul-Index, errors included; a wrong token gets 403 "ACL not found"', async () => {
    for (const p of [
      '/v1/catalog/services',
      '/v1/health/service/none',
      '/v1/config/ingress-gateway/none',
      '/v1/nope',
    ]) {
      const r = await get(p);
      assert.match(r.index ?? '', /^\d+$/, p);
    }
    const denied = await get('/v1/catalog/services', 'wrong');
    assert.equal(denied.status, 403);
    assert.equal(denied.text, 'ACL not found');
  });

  test('a blocking query waits for `wait` (plus at most wait/16) when nothing changes, and returns early on a change', async () => {
    const first = await get('/v1/health/service/blk');
    const idx = Number(first.index);
    let t0 = Date.now();
    const idle = await get(`/v1/health/service/blk?index=${idx}&wait=400ms`);
    const took = Date.now() - t0;
    assert.equal(idle.index, String(idx));
    assert.ok(took >= 390 && took < 400 + 400 / 16 + 500, `waited ${took} ms`);

    t0 = Date.now();
    const pending = get(`/v1/health/service/blk?index=${idx}&wait=30s`);
    await waitFor(() => c.waitingQueries >= 1, 'the blocking query to be waiting');
    const reg = await fetch(`${c.address}/v1/agent/service/register`, {
      method: 'PUT',
      headers: { 'x-consul-token': 'tok-123456' },
      body: JSON.stringify({ Name: 'blk', Port: 1, Check: { TTL: '1m', Status: 'passing' } }),
    });
    assert.equal(reg.status, 200);
    const woke = await pending;
    assert.ok(Number(woke.index) > idx);
    assert.ok(Date.now() - t0 < 5000, 'answered early on change');
    assert.equal(JSON.parse(woke.text).length, 1);
  });

  test('resetIndex answers waiting queries at once with the lower index', async () => {
    const first = await get('/v1/catalog/services');
    const pending = get(`/v1/catalog/services?index=${first.index}&wait=30s`);
    await waitFor(() => c.waitingQueries >= 1, 'the blocking query to be waiting');
    c.resetIndex(2);
    const r = await pending;
    assert.ok(Number(r.index) < Number(first.index));
  });
});
