// The client matrix on the Consul example: a real `meshgate serve` with a `consul:` section (the
// gateway, its ingress-gateway config entry) and YAML routes that split between Consul services
// by weight. Consul is a real agent when available, else the in-repo contract server (printed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import {
  assertNoDepartedNacks,
  assertShare,
  assertSyncedNoNacks,
  bootstrapFiles,
  countByPort,
  countByServer,
  matrixClients,
  runClient,
} from '../lib/client-matrix.ts';

const tmp = tempDir('meshgate-clients-consul-');
let consul: ConsulDriver;
let backends: Awaited<ReturnType<typeof startBackends>>;
let mg: MeshgateProcess;
let bootstrapFor: (nodeId: string) => string;
const clientsReady = matrixClients();
const summary: string[] = [];

// The first run builds the grpc-go clients (minutes on two busy cores).
before(
  async () => {
    await clientsReady;
    consul = await startConsul({});
    backends = await startBackends(['echo-v1', 'echo-v2', 'echo-v2#b']);
    const reg = (id: string, name: string, backend: string) =>
      consul.registerService({ id, name, address: '127.0.0.1', port: backends.get(backend)!.port });
    await reg('echo-v1-a', 'echo-v1', 'echo-v1');
    await reg('echo-v2-a', 'echo-v2', 'echo-v2');
    await reg('echo-v2-b', 'echo-v2', 'echo-v2#b');
    for (const name of ['echo-v1', 'echo-v2'])
      await consul.putConfigEntry({ Kind: 'service-defaults', Name: name, Protocol: 'grpc' });
    // Consul's own route: the ingress-gateway entry named like the gateway.
    await consul.putConfigEntry({
      Kind: 'ingress-gateway',
      Name: 'edge',
      Listeners: [{ Port: 8080, Protocol: 'grpc', Services: [{ Name: 'echo-v2', Hosts: ['ingress-echo'] }] }],
    });
    // meshgate's own weighted routes to Consul services, by their model names consul/<dc>/<service>.
    const svc = (s: string) => `consul/${consul.datacenter}/${s}`;
    writeAtomic(
      join(tmp.dir, 'meshgate.yaml'),
      `consul:
  address: ${consul.address}
  gateway: { name: edge, port: 8080 }
routes:
  - name: echo
    hosts: [echo]
    backends:
      - { service: ${svc('echo-v1')}, weight: 1 }
      - { service: ${svc('echo-v2')}, weight: 3 }
  - name: echo-100
    hosts: [echo-100]
    backends:
      - { service: ${svc('echo-v1')}, weight: 25 }
      - { service: ${svc('echo-v2')}, weight: 75 }
`,
    );
    mg = new MeshgateProcess(join(tmp.dir, 'meshgate.yaml'));
    await mg.start();
    await mg.waitReady(30_000);
    bootstrapFor = await bootstrapFiles(tmp.dir, mg.xdsPort);
  },
  { timeout: 900_000 },
);

after(async () => {
  if (summary.length) console.log(`# Consul example per client\n${summary.map((l) => `#   ${l}`).join('\n')}`);
  await mg?.stop();
  await backends?.closeAll();
  await consul?.close();
  tmp.cleanup();
});

describe('client matrix: the Consul example', { timeout: 900_000 }, async () => {
  for (const c of await clientsReady) {
    test(`${c.label}: weighted routes to Consul services split as written, the ingress route reaches both instances, 0 NACKs`, async () => {
      const nodeId = `matrix-${c.id}-consul`;
      const calls = await runClient(c, {
        bootstrapFile: bootstrapFor(nodeId),
        targets: ['xds:///echo', 'xds:///echo-100', 'xds:///ingress-echo'],
        calls: 300,
        whileConnected: async () => {
          await assertSyncedNoNacks(mg.adminUrl, nodeId, ['LDS', 'RDS', 'CDS', 'EDS']);
        },
      });
      await assertNoDepartedNacks(mg.adminUrl, nodeId);
      const echo = assertShare(calls, 'xds:///echo', 'echo-v2', 3 / 4, c.label);
      const echo100 = assertShare(calls, 'xds:///echo-100', 'echo-v2', 3 / 4, c.label);
      assert.deepEqual(countByServer(calls, 'xds:///ingress-echo'), { 'echo-v2': 300 });
      const ingressPorts = countByPort(calls, 'xds:///ingress-echo', 'echo-v2');
      assert.equal(Object.keys(ingressPorts).length, 2, `both Consul instances: ${JSON.stringify(ingressPorts)}`);
      summary.push(
        `${c.label}: echo-v2 share on echo ${echo.toFixed(3)}, echo-100 ${echo100.toFixed(3)}; ingress-echo ${JSON.stringify(ingressPorts)}`,
      );
    });
  }
});
