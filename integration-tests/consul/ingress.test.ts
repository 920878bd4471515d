// Routes the Consul way: the ingress-gateway config entry named like the gateway becomes model
// listeners and routes with stable names. Real agent when available, else the contract server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { endpointsOf, startSource } from '../lib/consul-harness.ts';

let consul: ConsulDriver;
before(async () => {
  consul = await startConsul({});
});
after(() => consul?.close());

const GW = 'edge';

describe('consul ingress-gateway entry', () => {
  test('listeners and routes appear, follow edits with stable names, and go away with the entry', async (t) => {
    for (const [name, protocol] of [
      ['web', 'http'],
      ['api', 'http'],
      ['greeter', 'grpc'],
    ]) {
      // A real Consul refuses L7 ingress listeners for services whose protocol is still tcp.
      await consul.putConfigEntry({ Kind: 'service-defaults', Name: name, Protocol: protocol });
    }
    await consul.registerService({ id: 'web-1', name: 'web', address: '127.0.0.61', port: 8080 });
    await consul.registerService({ id: 'greeter-1', name: 'greeter', address: '127.0.0.62', port: 50051 });
    await consul.putConfigEntry({
      Kind: 'ingress-gateway',
      Name: GW,
      Listeners: [
        {
          Port: 8080,
          Protocol: 'http',
          Services: [
            { Name: 'web', Hosts: ['web.example.com'], RequestHeaders: { Add: { 'x-via': 'meshgate' } } },
            { Name: 'api' },
          ],
        },
        { Port: 9090, Protocol: 'grpc', Services: [{ Name: 'greeter' }] },
        { Port: 7000, Protocol: 'tcp', Services: [{ Name: 'db' }] },
      ],
    });
    const { sink } = await startSource(t, { address: consul.address, gateway: { name: GW, port: 8443 } });
    const m = await sink.waitModel(
      (m) => m.listeners.length === 2 && endpointsOf(m, 'consul/dc1/web')?.length === 1,
      'ingress listeners and the web endpoint',
    );
    assert.deepEqual(
      m.listeners.map((l) => ({ name: l.name, port: l.port, routes: l.routes })),
      [
        { name: 'consul/ingress/8080', port: 8080, routes: ['consul/ingress/8080/web', 'consul/ingress/8080/api'] },
        { name: 'consul/ingress/9090', port: 9090, routes: ['consul/ingress/9090/greeter'] },
      ],
    );
    const byName = new Map(m.routes.map((r) => [r.name, r]));
    assert.deepEqual(byName.get('consul/ingress/8080/web'), {
      name: 'consul/ingress/8080/web',
      hosts: ['web.example.com'],
      match: { prefix: '/' },
      backends: [{ service: 'consul/dc1/web', weight: 1 }],
      requestHeadersToAdd: [{ name: 'x-via', value: 'meshgate' }],
      source: 'consul',
    });
    assert.deepEqual(byName.get('consul/ingress/8080/api')?.hosts, ['api.ingress.*'], "Consul's default host");
    assert.equal(m.services.find((s) => s.name === 'consul/dc1/greeter')?.protocol, 'grpc');
    assert.equal(m.services.find((s) => s.name === 'consul/dc1/web')?.protocol, 'http');
    assert.ok(
      ((sink.lastStatus?.details?.unsupported as string[] | undefined) ?? []).some((u) => u.includes('7000')),
      'the tcp listener is reported, not silently dropped',
    );

    // Removing one service renames nothing else.
    await consul.putConfigEntry({
      Kind: 'ingress-gateway',
      Name: GW,
      Listeners: [
        {
          Port: 8080,
          Protocol: 'http',
          Services: [{ Name: 'web', Hosts: ['web.example.com'], RequestHeaders: { Add: { 'x-via': 'meshgate' } } }],
        },
        { Port: 9090, Protocol: 'grpc', Services: [{ Name: 'greeter' }] },
      ],
    });
    const m2 = await sink.waitModel((m) => !m.routes.some((r) => r.name.endsWith('/api')), 'api route removed');
    assert.deepEqual(m2.routes.map((r) => r.name).sort(), ['consul/ingress/8080/web', 'consul/ingress/9090/greeter']);
    assert.deepEqual(
      byName.get('consul/ingress/8080/web'),
      m2.routes.find((r) => r.name === 'consul/ingress/8080/web'),
    );
    assert.ok(!m2.services.some((s) => s.name === 'consul/dc1/api'), 'api is no longer watched');

    await consul.deleteConfigEntry('ingress-gateway', GW);
    const m3 = await sink.waitModel((m) => m.listeners.length === 0, 'listeners gone with the entry');
    assert.deepEqual(m3.routes, []);
  });
});
