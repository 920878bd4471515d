// End to end with Connect mTLS: a grpc-js-xds client (XdsChannelCredentials) goes through
// `meshgate serve` (consul section with a gateway identity) to a Connect-style sidecar that
// presents the service's Consul leaf, requires a client certificate from the Consul CA, and asks
// the agent's /v1/agent/connect/authorize. An intention allowing the gateway lets calls through;
// one denying it makes them fail, and meshgate reports the deny. Consul: real agent when available,
// else the contract server (printed).
//
// The proxyless client needs the gateway identity as files (gRFC A29 certificate providers); the
// test writes the agent's leaf for the gateway and the Connect roots there, as a node agent would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { ConnectSidecar } from '../lib/consul-sidecar.ts';
import { startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getText, waitFor } from '../lib/wait.ts';
import { grpcBootstrapFor } from '../lib/xds-client.ts';

const CLIENT = fileURLToPath(new URL('../lib/consul-xds-tls-client.ts', import.meta.url));
const GW = 'edge';

interface Summary {
  total: number;
  counts: Record<string, number>;
  failures: number;
  errors: string[];
}

describe('meshgate serve: Connect mTLS to a sidecar, governed by intentions', { timeout: 180_000 }, () => {
  const tmp = tempDir('meshgate-consul-mtls-');
  const config = join(tmp.dir, 'meshgate.yaml');
  let consul: ConsulDriver;
  let backends: Awaited<ReturnType<typeof startBackends>>;
  let sidecar: ConnectSidecar;
  let mg: MeshgateProcess;
  let bootstrap: object;

  const calls = (n: number): Promise<Summary> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=source', CLIENT, 'xds:///pay', String(n), '3000'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, GRPC_XDS_BOOTSTRAP: '', GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', () => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.trim().split('\n').pop()!));
        } catch {
          reject(new Error(`client failed: ${err.slice(-2000)}`));
        }
      });
    });

  before(async () => {
    consul = await startConsul({});
    backends = await startBackends(['pay']);
    sidecar = await ConnectSidecar.start({ agent: consul.address, service: 'pay', appPort: backends.get('pay')!.port });
    await consul.registerService({
      id: 'pay-1',
      name: 'pay',
      address: '127.0.0.1',
      port: backends.get('pay')!.port,
      sidecarPort: sidecar.port,
    });
    await consul.putConfigEntry({ Kind: 'service-defaults', Name: 'pay', Protocol: 'grpc' });
    await consul.putConfigEntry({
      Kind: 'ingress-gateway',
      Name: GW,
      Listeners: [{ Port: 8080, Protocol: 'grpc', Services: [{ Name: 'pay', Hosts: ['pay'] }] }],
    });
    writeAtomic(config, `consul:\n  address: ${consul.address}\n  gateway: { name: ${GW}, port: 8080 }\n`);
    mg = new MeshgateProcess(config);
    await mg.start();
    await mg.waitReady();

    const leaf = await consul.getJson(`/v1/agent/connect/ca/leaf/${GW}`);
    const roots = await consul.getJson('/v1/agent/connect/ca/roots');
    const caPem = `${roots.Roots.map((r: { RootCert: string }) => r.RootCert.trim()).join('\n')}\n`;
    const idDir = join(tmp.dir, 'identity');
    const rootsDir = join(tmp.dir, 'roots');
    mkdirSync(idDir);
    mkdirSync(rootsDir);
    writeFileSync(join(idDir, 'cert.pem'), leaf.CertPEM);
    writeFileSync(join(idDir, 'key.pem'), leaf.PrivateKeyPEM);
    writeFileSync(join(rootsDir, 'ca.pem'), caPem);
    bootstrap = {
      ...grpcBootstrapFor(mg.xdsPort, 'consul-mtls-e2e'),
      certificate_providers: {
        [`mesh/consul/${GW}`]: {
          plugin_name: 'file_watcher',
          config: {
            certificate_file: join(idDir, 'cert.pem'),
            private_key_file: join(idDir, 'key.pem'),
            refresh_interval: '60s',
          },
        },
        'mesh/consul/roots': {
          plugin_name: 'file_watcher',
          config: { ca_certificate_file: join(rootsDir, 'ca.pem'), refresh_interval: '60s' },
        },
      },
    };
  });

  after(async () => {
    await mg?.stop();
    await sidecar?.close();
    await backends?.closeAll();
    await consul?.close();
    tmp.cleanup();
  });

  test('allowed by intention: calls succeed over mTLS with the gateway identity', async () => {
    await consul.setIntention(GW, 'pay', 'allow');
    const s = await calls(10);
    assert.equal(s.failures, 0, `${s.errors.join('; ')}\n--- meshgate ---\n${mg.logs()}`);
    assert.deepEqual(Object.keys(s.counts), [`pay:${backends.get('pay')!.port}`]);
    const roots = await consul.getJson('/v1/connect/ca/roots');
    assert.ok(
      sidecar.stats.authorized.includes(`spiffe://${roots.TrustDomain}/ns/default/dc/dc1/svc/${GW}`),
      JSON.stringify(sidecar.stats),
    );
  });

  test('denied by intention: calls fail at the sidecar and meshgate reports the deny', async () => {
    await consul.setIntention(GW, 'pay', 'deny');
    const denied = async () =>
      (JSON.parse((await getText(`${mg.adminUrl}/readyz`)).body).sources?.consul?.details?.deniedServices ??
        []) as string[];
    await waitFor(async () => (await denied()).includes('pay'), 'meshgate /readyz to list pay as denied', 15_000);
    const deniedBefore = sidecar.stats.denied.length;
    const s = await calls(3);
    assert.equal(s.failures, 3, JSON.stringify(s));
    assert.ok(sidecar.stats.denied.length > deniedBefore, 'the sidecar refused the gateway');
    const metrics = (await getText(`${mg.adminUrl}/metrics`)).body;
    assert.match(metrics, /meshgate_consul_intention_denied\{service="pay"\} 1/);

    await consul.setIntention(GW, 'pay', 'allow');
    const ok = await calls(5);
    assert.equal(ok.failures, 0, ok.errors.join('; '));
    await waitFor(async () => (await denied()).length === 0, 'the deny cleared in /readyz', 15_000);
  });
});
