// Agent TLS and leaf validation. The agent here is the contract server (serving HTTPS with client
// certificate verification, and a deliberately broken leaf): a real agent would need its own TLS
// material and cannot be made to hand out a bad leaf. Marked [contract server] accordingly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { CertificateAuthority, createRoot } from '@meshgate/certs';
import { ConsulContractServer } from '../lib/consul-contract-server.ts';
import { captureLogger, endpointsOf, startSource } from '../lib/consul-harness.ts';

let dir: string;
let agent: ConsulContractServer;
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshgate-consul-tls-'));
  const root = await createRoot({ commonName: 'agent-tls-test CA' });
  const ca = await CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem });
  const server = await ca.issue({ dns: 'consul.test.local' });
  const client = await ca.issue({ dns: 'meshgate.test.local' });
  file('ca.pem', root.certPem);
  file('client.pem', client.chainPem);
  file('client-key.pem', client.keyPem);
  agent = await ConsulContractServer.start({
    tls: { certPem: server.chainPem, keyPem: server.keyPem, caPem: root.certPem },
  });
});
after(async () => {
  await agent?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('consul agent TLS and leaf validation [contract server]', () => {
  test('https agent with verify_incoming: CA file, client cert/key and server name are used', async (t) => {
    agent.seedServices([{ id: 'tls-1', name: 'tls-svc', address: '127.0.0.95', port: 443 }]);
    const { sink } = await startSource(t, {
      address: agent.address,
      services: ['tls-svc'],
      tls: {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, 'client.pem'),
        keyFile: join(dir, 'client-key.pem'),
        serverName: 'consul.test.local',
      },
    });
    await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/tls-svc')?.join() === '127.0.0.95:443',
      'service over https',
    );

    // Without the client certificate the agent refuses the handshake: reported, stale.
    const bad = await startSource(t, {
      address: agent.address,
      name: 'consul-nocert',
      services: ['tls-svc'],
      tls: { caFile: join(dir, 'ca.pem'), serverName: 'consul.test.local' },
    });
    const st = await bad.sink.waitStatus((s) => s.stale, 'stale without a client cert');
    assert.match(st.lastError ?? '', /cannot reach the Consul agent/);
  });

  test('a leaf whose key does not match is reported and the previous identity kept', async (t) => {
    const plain = await ConsulContractServer.start({});
    t.after(() => plain.close());
    const cap = captureLogger();
    const { sink } = await startSource(t, { address: plain.address, gateway: { name: 'leafy' }, logger: cap.logger });
    const m0 = await sink.waitModel((m) => m.identities.length === 1, 'first identity');
    await plain.injectBadLeaf('leafy');
    const st = await sink.waitStatus((s) => typeof s.details?.leafError === 'string', 'leaf error reported');
    assert.match(st.details!.leafError as string, /does not match the certificate/);
    assert.deepEqual(sink.model!.identities, m0.identities, 'the previous identity stays in service');
    assert.ok(cap.lines.some((l) => l.includes('rejected')));
    assert.ok(!cap.lines.some((l) => l.includes('PRIVATE KEY')), 'keys never reach the log');
    // The next good leaf (here: after a CA rotation) replaces it and clears the error.
    const root = await createRoot({ trustDomain: plain.trustDomain });
    const res = await fetch(`${plain.address}/v1/connect/ca/configuration`, {
      method: 'PUT',
      body: JSON.stringify({ Provider: 'consul', Config: { PrivateKey: root.keyPem, RootCert: root.certPem } }),
    });
    assert.equal(res.status, 200);
    const m1 = await sink.waitModel(
      (m) => m.identities[0].certChainPem !== m0.identities[0].certChainPem,
      'a good new leaf',
    );
    assert.ok(new X509Certificate(m1.identities[0].certChainPem).verify(new X509Certificate(root.certPem).publicKey));
    await sink.waitStatus((s) => s.details?.leafError === undefined, 'leaf error cleared');
  });
});
