// Consul discovery against an agent: a real `consul agent -dev` when available, otherwise the
// Consul contract server (integration-tests/lib/consul-contract-server.ts); the suite prints which.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { endpointsOf, startSource } from '../lib/consul-harness.ts';
import { waitFor } from '../lib/wait.ts';

let consul: ConsulDriver;
before(async () => {
  consul = await startConsul({ nodeMeta: { region: 'eu-west', zone: 'eu-west-1a' } });
});
after(() => consul?.close());

const label = () => (consul.kind === 'real' ? '[real consul]' : '[contract server]');

describe('consul discovery', () => {
  test('a registered service with a passing check appears with weight and locality; critical removes it within 2 s; deregistration removes it', async (t) => {
    t.diagnostic(`against ${label()}`);
    const check1 = await consul.registerService({
      id: 'web-1',
      name: 'web',
      address: '127.0.0.11',
      port: 8080,
      tags: ['meshgate-weight=5'],
    });
    await consul.registerService({
      id: 'web-2',
      name: 'web',
      address: '127.0.0.12',
      port: 8080,
      weights: { Passing: 3, Warning: 1 },
    });
    await consul.registerService({
      id: 'web-3',
      name: 'web',
      address: '127.0.0.13',
      port: 8080,
      checkStatus: 'critical',
    });
    const { sink } = await startSource(t, { address: consul.address, services: ['web'] });
    const m = await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/web')?.length === 2,
      'web with its two passing instances',
    );
    const web = m.services.find((s) => s.name === 'consul/dc1/web')!;
    assert.deepEqual(web.endpoints, [
      { address: '127.0.0.11', port: 8080, weight: 5, locality: { region: 'eu-west', zone: 'eu-west-1a' } },
      { address: '127.0.0.12', port: 8080, weight: 3, locality: { region: 'eu-west', zone: 'eu-west-1a' } },
    ]);
    assert.equal(sink.lastStatus?.synced, true);
    assert.equal(sink.lastStatus?.stale, false);

    const t0 = Date.now();
    await consul.setCheck(check1, 'critical');
    await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/web')?.join() === '127.0.0.12:8080',
      'web-1 to leave after its check went critical',
      2000,
    );
    t.diagnostic(`critical -> endpoint removed in ${Date.now() - t0} ms`);

    await consul.setCheck(check1, 'passing');
    await sink.waitModel((m) => endpointsOf(m, 'consul/dc1/web')?.length === 2, 'web-1 back after passing');
    await consul.deregister('web-2');
    await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/web')?.join() === '127.0.0.11:8080',
      'web-2 to leave after deregistration',
      2000,
    );
    await consul.deregister('web-1');
    await consul.deregister('web-3');
    const empty = await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/web')?.length === 0,
      'web to have no endpoints',
    );
    assert.ok(
      empty.services.some((s) => s.name === 'consul/dc1/web'),
      'a watched service with no instances stays in the model (routes keep resolving)',
    );
  });

  test('warning instances are left out by default and taken with includeWarning', async (t) => {
    const c = await consul.registerService({ id: 'warn-1', name: 'warny', address: '127.0.0.21', port: 81 });
    await consul.setCheck(c, 'warning');
    await consul.registerService({ id: 'warn-2', name: 'warny', address: '127.0.0.22', port: 81 });
    const a = await startSource(t, { address: consul.address, services: ['warny'] });
    const b = await startSource(t, {
      address: consul.address,
      services: ['warny'],
      includeWarning: true,
      name: 'consul-warn',
    });
    await a.sink.waitModel((m) => endpointsOf(m, 'consul/dc1/warny')?.join() === '127.0.0.22:81', 'passing only');
    await b.sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/warny')?.join() === '127.0.0.21:81,127.0.0.22:81',
      'passing and warning',
    );
  });

  test('tag filter and watchServices(): watch exactly what is asked, named consul/<dc>/<svc> with plain aliases', async (t) => {
    await consul.registerService({ id: 'pub-1', name: 'pub-a', address: '127.0.0.31', port: 80, tags: ['public'] });
    await consul.registerService({ id: 'pub-2', name: 'pub-b', address: '127.0.0.32', port: 80, tags: ['public'] });
    await consul.registerService({ id: 'priv-1', name: 'private', address: '127.0.0.33', port: 80 });
    const { source, sink } = await startSource(t, { address: consul.address, tag: 'public' });
    await sink.waitModel(
      (m) => m.services.map((s) => s.name).join() === 'consul/dc1/pub-a,consul/dc1/pub-b',
      'the two tagged services',
    );
    source.watchServices(['private']);
    await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/private')?.join() === '127.0.0.33:80',
      'the service a route needs',
    );
    assert.equal(source.aliases().get('private'), 'consul/dc1/private');
    source.watchServices([]);
    await sink.waitModel(
      (m) => !m.services.some((s) => s.name === 'consul/dc1/private'),
      'private to be dropped when no route needs it',
    );
  });

  test('index going backwards (snapshot restore) resets the watch and it keeps following changes [contract server only: the reset is injected]', async (t) => {
    if (!consul.contract) return t.skip('a real agent cannot be made to restore a snapshot on demand here');
    await consul.registerService({ id: 'rs-1', name: 'restore', address: '127.0.0.41', port: 80 });
    const { sink } = await startSource(t, { address: consul.address, services: ['restore'] });
    await sink.waitModel((m) => endpointsOf(m, 'consul/dc1/restore')?.length === 1, 'restore visible');
    // Reset while the watches are parked in blocking queries, as a restore would find them. (A
    // query sent after the restore with the old, higher index would wait out its `wait`, as it
    // would on Consul; the client only learns of the reset from an answer.)
    const c = consul.contract;
    await waitFor(() => c.waitingQueries >= 2, 'catalog and service watches blocked');
    const before = c.stats.requests;
    c.resetIndex(3);
    await consul.registerService({ id: 'rs-2', name: 'restore', address: '127.0.0.42', port: 80 });
    await sink.waitModel((m) => endpointsOf(m, 'consul/dc1/restore')?.length === 2, 'the change after the reset', 5000);
    // A reset must not turn into a busy loop: watch a quiet window (an absence can only be observed over time) and count.
    await new Promise((r) => setTimeout(r, 1500));
    const used = consul.contract.stats.requests - before;
    assert.ok(used < 40, `expected a handful of requests after the reset, saw ${used}`);
    assert.equal(sink.lastStatus?.stale, false);
    await waitFor(() => sink.lastStatus?.synced, 'synced');
  });
});
