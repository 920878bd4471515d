// Consul Connect: the gateway's identity (leaf + roots), upstream mTLS policy for Connect
// services, and intentions. Runs against a real agent when available, else the contract server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { captureLogger, endpointsOf, startSource } from '../lib/consul-harness.ts';

let consul: ConsulDriver;
before(async () => {
  consul = await startConsul({});
});
after(() => consul?.close());

const GW = 'meshgate-gateway';
const uriSans = (pem: string) =>
  (new X509Certificate(pem).subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));

describe(`consul connect`, () => {
  test('gateway registered, identity and roots delivered, Connect service reached through its sidecar with Consul SNI and SPIFFE SAN', async (t) => {
    t.diagnostic(`against ${consul.kind === 'real' ? 'a real consul agent' : 'the contract server'}`);
    const parentCheck = await consul.registerService({
      id: 'pay-1',
      name: 'pay',
      address: '127.0.0.51',
      port: 9000,
      sidecarPort: 21001,
    });
    const { sink } = await startSource(t, { address: consul.address, services: ['pay'], gateway: { name: GW } });
    const m = await sink.waitModel(
      (m) => m.identities.length === 1 && endpointsOf(m, 'consul/dc1/pay')?.length === 1,
      'identity and the pay sidecar',
    );
    const catalog = await consul.getJson('/v1/catalog/services');
    assert.ok(GW in catalog, 'the gateway registered itself so intentions can name it');
    const roots = await consul.getJson('/v1/connect/ca/roots');
    const td: string = roots.TrustDomain;

    const id = m.identities[0];
    assert.equal(id.name, `mesh/consul/${GW}`);
    assert.deepEqual(uriSans(id.certChainPem), [`spiffe://${td}/ns/default/dc/dc1/svc/${GW}`]);
    assert.ok(
      new X509Certificate(id.certChainPem).checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(id.privateKeyPem),
      ),
    );
    assert.equal(m.trustBundles[0].name, 'mesh/consul/roots');
    assert.equal(m.trustBundles[0].caPems.length, roots.Roots.length);

    const pay = m.services.find((s) => s.name === 'consul/dc1/pay')!;
    assert.deepEqual(
      pay.endpoints,
      [{ address: '127.0.0.51', port: 21001 }],
      'endpoint is the sidecar public listener, not the app port',
    );
    assert.deepEqual(pay.tls, {
      sni: `pay.default.dc1.internal.${td}`,
      expectedSans: [{ kind: 'uri', value: `spiffe://${td}/ns/default/dc/dc1/svc/pay` }],
      trustBundle: 'mesh/consul/roots',
      clientIdentity: `mesh/consul/${GW}`,
    });
    assert.deepEqual(sink.lastStatus?.details?.connectServices, ['pay']);

    // The sidecar's alias check follows the app: app critical -> sidecar leaves.
    await consul.setCheck(parentCheck, 'critical');
    await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/pay')?.length === 0,
      'pay sidecar to leave when pay is critical',
      2000,
    );
    await consul.setCheck(parentCheck, 'passing');
    await sink.waitModel((m) => endpointsOf(m, 'consul/dc1/pay')?.length === 1, 'pay sidecar back');
  });

  test('intention deny is reported (status, counter, warning log) and allow clears it', async (t) => {
    await consul.registerService({
      id: 'ledger-1',
      name: 'ledger',
      address: '127.0.0.52',
      port: 9000,
      sidecarPort: 21002,
    });
    const cap = captureLogger();
    const { sink } = await startSource(t, {
      address: consul.address,
      services: ['ledger'],
      gateway: { name: GW },
      logger: cap.logger,
    });
    await sink.waitModel((m) => endpointsOf(m, 'consul/dc1/ledger')?.length === 1, 'ledger visible');
    assert.deepEqual(sink.lastStatus?.details?.deniedServices, []);

    await consul.setIntention(GW, 'ledger', 'deny');
    const denied = await sink.waitStatus(
      (s) => ((s.details?.deniedServices as string[] | undefined) ?? []).includes('ledger'),
      'ledger reported as denied',
    );
    assert.equal(denied.details?.intentionDenialsTotal, 1);
    assert.ok(
      cap.lines.some((l) => l.includes('"level":"warn"') && l.includes('intention denies') && l.includes('ledger')),
      'a warning is logged',
    );
    assert.ok(
      sink.model?.services.some((s) => s.name === 'consul/dc1/ledger'),
      'the service stays; the deny is reported, not hidden',
    );

    await consul.setIntention(GW, 'ledger', 'allow');
    const cleared = await sink.waitStatus(
      (s) => ((s.details?.deniedServices as string[] | undefined) ?? []).length === 0,
      'deny cleared after allow',
    );
    assert.equal(cleared.details?.intentionDenialsTotal, 1, 'the counter counts denials seen, it does not go down');
    await consul.deleteIntention(GW, 'ledger');
  });
});
