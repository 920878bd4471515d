// End to end: a proxyless gRPC client (grpc-js-xds, its own process) calls real gRPC backends
// registered in Consul, through a real `meshgate serve` process whose config has a `consul:`
// section. Consul is a real agent when available, else the contract server (printed).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { consulServe } from '../lib/consul-serve.ts';
import { writeAtomic } from '../lib/fixture.ts';
import { getJson, waitFor } from '../lib/wait.ts';

describe('meshgate serve with a consul section', { timeout: 180_000 }, () => {
  let checkA: string;
  const h = consulServe({
    tmpPrefix: 'meshgate-consul-e2e-',
    backends: ['echo-a', 'echo-b'],
    nodeId: 'consul-e2e',
    async setup({ consul, backends, config }) {
      checkA = await consul.registerService({
        id: 'echo-a',
        name: 'echo',
        address: '127.0.0.1',
        port: backends.get('echo-a')!.port,
      });
      await consul.registerService({
        id: 'echo-b',
        name: 'echo',
        address: '127.0.0.1',
        port: backends.get('echo-b')!.port,
      });
      // Routes the Consul way: the ingress-gateway entry named like the gateway. (A route in the
      // YAML file may name consul/dc1/echo too, since a `consul:` section turns on the file source's
      // externalReferences; yaml-routes.test.ts covers that, see docs/config-reference.md.)
      await consul.putConfigEntry({ Kind: 'service-defaults', Name: 'echo', Protocol: 'grpc' });
      await consul.putConfigEntry({
        Kind: 'ingress-gateway',
        Name: 'edge',
        Listeners: [{ Port: 8080, Protocol: 'grpc', Services: [{ Name: 'echo', Hosts: ['echo'] }] }],
      });
      writeAtomic(
        config,
        `consul:
  address: ${consul.address}
  gateway: { name: edge, port: 8080 }
`,
      );
    },
  });

  test('calls reach both Consul instances; a critical check takes one out of rotation; recovery brings it back', async () => {
    const { consul, mg, client, key } = h;
    const s = await client.burst('xds:///echo', 100);
    assert.equal(s.failures, 0, s.errors.join('; '));
    assert.ok(s.counts[key('echo-a')] > 0 && s.counts[key('echo-b')] > 0, JSON.stringify(s.counts));
    const readyz = (await getJson(`${mg.adminUrl}/readyz`)).body;
    // The Consul source itself must be synced and fresh, not merely listed.
    assert.equal(readyz.ready, true, JSON.stringify(readyz));
    assert.equal(readyz.sources?.consul?.synced, true, JSON.stringify(readyz));
    assert.equal(readyz.sources?.consul?.stale, false, JSON.stringify(readyz));

    await consul.setCheck(checkA, 'critical');
    await waitFor(
      async () => {
        const b = await client.burst('xds:///echo', 20);
        return b.failures === 0 && Object.keys(b.counts).join() === key('echo-b');
      },
      'traffic only to echo-b',
      15_000,
    );

    await consul.setCheck(checkA, 'passing');
    await waitFor(
      async () => (await client.burst('xds:///echo', 40)).counts[key('echo-a')] > 0,
      'echo-a back in rotation',
      15_000,
    );
  });
});
