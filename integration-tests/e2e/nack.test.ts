// A resource the client rejects is recorded and not resent in a loop (docs/architecture.md, rule 1).
// grpc-js-xds NACKs a Cluster whose TLS names a certificate-provider instance its bootstrap
// does not have: a real mistake (gateway config with mTLS, client bootstrap without certs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { echoConfig, startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess, runCli } from '../lib/meshgate-process.ts';
import { getJson, getText, metricValue, waitFor } from '../lib/wait.ts';
import { XdsClientProcess } from '../lib/xds-client.ts';

const tmp = tempDir();
const config = join(tmp.dir, 'meshgate.yaml');
let backends: Awaited<ReturnType<typeof startBackends>>;
let mg: MeshgateProcess;
let client: XdsClientProcess;
let plain: string;

const secureService = (port: number) => `  - name: secure
    protocol: grpc
    tls:
      expectedSans:
        - uri: spiffe://example.org/secure
      trustBundle: test/roots
    endpoints:
      - { address: 127.0.0.1, port: ${port} }
`;
const bundle = `trustBundles:
  - name: test/roots
    caFiles: [ca/ca.pem]
`;

before(async () => {
  const ca = await runCli(['certs', 'init-ca', '--out', join(tmp.dir, 'ca')]);
  assert.equal(ca.code, 0, ca.stderr);
  backends = await startBackends(['echo-v1', 'echo-v2']);
  plain = echoConfig({ v1: [{ port: backends.get('echo-v1')!.port }], v2: [{ port: backends.get('echo-v2')!.port }] });
  // The secure service joins the services list (it precedes `routes:`); the bundle goes at the end.
  writeAtomic(config, plain.replace('routes:', `${secureService(backends.get('echo-v1')!.port)}routes:`) + bundle);
  mg = new MeshgateProcess(config);
  await mg.start();
  await mg.waitReady();
  client = new XdsClientProcess(mg.xdsPort, 'e2e-nack');
});

after(async () => {
  await client?.close();
  await mg?.stop();
  await backends?.closeAll();
  tmp.cleanup();
});

const node = async () =>
  ((await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as any[]).find((n) => n.id === 'e2e-nack');
const clusterPushes = async () =>
  metricValue((await getText(`${mg.adminUrl}/metrics`)).body, 'meshgate_xds_pushes_total', { type: 'cluster' }) ?? 0;

test('a NACKed Cluster shows on /debug/nodes with its message and is not resent', { timeout: 90_000 }, async () => {
  // Dialing the secure target makes the client subscribe to its Cluster and reject it.
  const s = await client.burst('xds:///secure', 1, 3000);
  assert.equal(s.failures, 1, 'a call through a rejected cluster cannot succeed');
  const n = await waitFor(async () => {
    const x = await node();
    return x?.status.CDS === 'NACKED' ? x : undefined;
  }, 'CDS NACKED on /debug/nodes');
  const cds = n.types.find((t: any) => t.type === 'CDS');
  assert.match(cds.lastNack.message, /certificate_provider_instance|instance_name/, JSON.stringify(cds.lastNack));
  const nacks =
    metricValue((await getText(`${mg.adminUrl}/metrics`)).body, 'meshgate_xds_nacks_total', { type: 'cluster' }) ?? 0;
  assert.ok(nacks >= 1);

  // No resend loop: the pushes counter for clusters stays put while nothing changes (an absence can only be
  // observed over a window; 3 s is three times the ACK-wait fallback that would trigger a resend).
  const p1 = await clusterPushes();
  await new Promise((r) => setTimeout(r, 3000));
  const p2 = await clusterPushes();
  assert.equal(p2, p1, `cluster pushes grew from ${p1} to ${p2} with no config change`);
  const again = await node();
  assert.equal(
    again.types.find((t: any) => t.type === 'CDS').lastNack.at,
    cds.lastNack.at,
    'a second NACK arrived: the rejected version was resent',
  );

  // The valid services keep working next to the rejected one.
  const ok = await client.burst('xds:///echo-v1', 20);
  assert.equal(ok.failures, 0, ok.errors.join('; '));

  // Fixing the config sends a new version, which the client ACKs.
  writeAtomic(config, plain);
  await waitFor(async () => (await node())?.status.CDS === 'SYNCED', 'CDS SYNCED after the fix');
  assert.ok((await clusterPushes()) > p2);
});
