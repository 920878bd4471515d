// End to end: a route written in meshgate's own YAML splits traffic between a service the file
// defines and a Consul service named `consul/<dc>/<svc>`. Real `meshgate serve` process, a
// grpc-js-xds client in its own process, real gRPC backends; Consul is a real agent when
// available, else the contract server (printed). The Consul service is not listed in
// `consul.services`: meshgate asks the Consul source to watch what routes name.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { consulServe } from '../lib/consul-serve.ts';
import { writeAtomic } from '../lib/fixture.ts';
import { getJson, metricValue, getText, waitFor } from '../lib/wait.ts';

describe('YAML routes to Consul services', { timeout: 180_000 }, () => {
  const yaml = (consulBackend: string) => `consul:
  address: ${h.consul.address}
services:
  - name: shop-v1
    protocol: grpc
    endpoints: [{ address: 127.0.0.1, port: ${h.backends.get('shop-file')!.port} }]
routes:
  - name: shop
    hosts: [shop]
    backends:
      - { service: shop-v1, weight: 1 }
      - { service: ${consulBackend}, weight: 1 }
`;
  const h = consulServe({
    tmpPrefix: 'meshgate-yaml-consul-',
    backends: ['shop-file', 'shop-consul-a', 'shop-consul-b'],
    nodeId: 'yaml-consul',
    readyTimeoutMs: 30_000,
    async setup({ consul, backends, config }) {
      await consul.registerService({
        id: 'shop-a',
        name: 'shop',
        address: '127.0.0.1',
        port: backends.get('shop-consul-a')!.port,
      });
      writeAtomic(config, yaml(`consul/${consul.datacenter}/shop`));
    },
  });

  test('host shop sends traffic to the file service and the Consul service; a second Consul instance joins', async () => {
    const { consul, mg, client, key, backends } = h;
    const s = await client.burst('xds:///shop', 100);
    assert.equal(s.failures, 0, s.errors.join('; '));
    assert.ok(s.counts[key('shop-file')] > 0 && s.counts[key('shop-consul-a')] > 0, JSON.stringify(s.counts));
    const readyz = (await getJson(`${mg.adminUrl}/readyz`)).body;
    assert.deepEqual(
      readyz.sources.file.details.externalReferences,
      [`consul/${consul.datacenter}/shop`],
      JSON.stringify(readyz.sources.file),
    );

    await consul.registerService({
      id: 'shop-b',
      name: 'shop',
      address: '127.0.0.1',
      port: backends.get('shop-consul-b')!.port,
    });
    const seen = await waitFor(
      async () => {
        const b = await client.burst('xds:///shop', 60);
        return b.failures === 0 && b.counts[key('shop-consul-b')] > 0 ? b : undefined;
      },
      'the second Consul instance receives traffic',
      20_000,
    );
    assert.ok(seen.counts[key('shop-file')] > 0 && seen.counts[key('shop-consul-a')] > 0, JSON.stringify(seen.counts));
  });

  test('a backend no source defines is reported with the route and its source; the last good routing stays', async () => {
    const { consul, mg, config, client, key } = h;
    const dangling = `consul/${consul.datacenter}-elsewhere/shop`;
    writeAtomic(config, yaml(dangling));
    const body = await waitFor(
      async () => {
        const r = await getJson(`${mg.adminUrl}/readyz`);
        return r.status === 503 && r.body.translation?.problems?.length ? r.body : undefined;
      },
      '/readyz reports the dangling backend',
      15_000,
    );
    assert.deepEqual(body.translation.problems, [
      {
        path: `routes[shop].backends[${dangling}]`,
        message: `service ${JSON.stringify(dangling)} does not exist; define it or fix the name`,
        source: 'file',
      },
    ]);
    assert.equal(body.sources.file.stale, false, 'the file itself is fine; the merged model is not');
    assert.ok(mg.logs(20_000).includes(`routes[shop].backends[${dangling}] (from source file)`), mg.logs());
    assert.equal(metricValue((await getText(`${mg.adminUrl}/metrics`)).body, 'meshgate_translation_problems'), 1);
    const s = await client.burst('xds:///shop', 40);
    assert.equal(s.failures, 0, s.errors.join('; '));
    assert.ok(
      s.counts[key('shop-consul-a')] > 0,
      `last good routing still reaches Consul: ${JSON.stringify(s.counts)}`,
    );

    writeAtomic(config, yaml(`consul/${consul.datacenter}/shop`));
    await mg.waitReady(15_000);
  });
});
