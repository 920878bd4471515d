// Consul Connect certificate lifecycle: short leaf TTL renewals and CA rotation reach the model
// as new Identity / TrustBundle content under the same names. Real agent when available, else
// the contract server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { startSource } from '../lib/consul-harness.ts';

let consul: ConsulDriver;
before(async () => {
  consul = await startConsul({});
});
after(() => consul?.close());

const GW = 'meshgate-gateway';
const serial = (pem: string) => new X509Certificate(pem).serialNumber;

describe('consul connect certificate lifecycle', () => {
  test('CA rotation delivers the new roots (old kept) and a leaf from the new CA', async (t) => {
    const { sink } = await startSource(t, { address: consul.address, gateway: { name: GW } });
    const m0 = await sink.waitModel((m) => m.identities.length === 1, 'first identity');
    const oldRoot = new X509Certificate(m0.trustBundles[0].caPems[0]);
    await consul.rotateCA();
    const m1 = await sink.waitModel(
      (m) =>
        m.trustBundles[0].caPems.length === 2 &&
        serial(m.identities[0].certChainPem) !== serial(m0.identities[0].certChainPem),
      'new roots and a new leaf',
      20_000,
    );
    const roots = await consul.getJson('/v1/connect/ca/roots');
    const active = roots.Roots.find((r: { Active: boolean }) => r.Active);
    const leaf = new X509Certificate(m1.identities[0].certChainPem);
    assert.ok(
      leaf.verify(new X509Certificate(active.RootCert).publicKey),
      'the new leaf is signed by the new active root',
    );
    assert.ok(
      m1.trustBundles[0].caPems.some((p) => new X509Certificate(p).fingerprint256 === oldRoot.fingerprint256),
      'the old root stays in the bundle',
    );
    assert.equal(m1.identities[0].name, m0.identities[0].name, 'same SDS name: a rotation changes only the secret');
  });

  test('a leaf TTL of a few seconds yields renewed identities', async (t) => {
    try {
      await consul.setLeafTTL('4s');
    } catch (e) {
      return t.skip(`agent refuses a 4s LeafCertTTL: ${(e as Error).message}`);
    }
    // The agent keeps its cached leaf until renewal; a rotation makes it re-issue at the new TTL.
    await consul.rotateCA();
    const { sink } = await startSource(t, { address: consul.address, gateway: { name: 'short-lived-gw' } });
    const first = await sink.waitModel((m) => m.identities.length === 1, 'first identity');
    const s0 = serial(first.identities[0].certChainPem);
    const life = new Date(new X509Certificate(first.identities[0].certChainPem).validTo).getTime() - Date.now();
    assert.ok(life < 10_000, `leaf should live a few seconds, lives ${life} ms`);
    const next = await sink.waitModel((m) => serial(m.identities[0].certChainPem) !== s0, 'a renewed leaf', 15_000);
    const s1 = serial(next.identities[0].certChainPem);
    await sink.waitModel((m) => ![s0, s1].includes(serial(m.identities[0].certChainPem)), 'a second renewal', 15_000);
    assert.equal(sink.lastStatus?.details?.leafError, undefined);
  });
});
