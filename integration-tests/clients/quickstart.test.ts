// The client matrix on the quickstart (examples/quickstart.yaml, served by a real `meshgate serve`)
// and on weighted routes whose weights sum to 100 and to other totals. Every client generation
// must ACK every resource (0 NACKs on /debug/nodes, while connected and after it left) and split
// traffic as the weights say. gRPC C-core 1.51 and grpc-go 1.53 read an unset total_weight as 100,
// so without an explicit total they NACK every route here but weights-100.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess, REPO_ROOT, runCli } from '../lib/meshgate-process.ts';
import { getJson, waitFor } from '../lib/wait.ts';
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

/** Extra weighted routes next to the quickstart's own 1:3 `echo`: [host, echo-v1 weight, echo-v2 weight]. */
const WEIGHTED: [string, number, number][] = [
  ['weights-100', 25, 75],
  ['weights-3', 1, 2],
  ['weights-10000', 1000, 9000],
];

const tmp = tempDir('meshgate-clients-quickstart-');
let backends: Awaited<ReturnType<typeof startBackends>>;
let mg: MeshgateProcess;
let bootstrapFor: (nodeId: string) => string;
const clientsReady = matrixClients();
const summary: string[] = [];
const nackSummary: string[] = [];

// The first run builds the grpc-go clients (minutes on two busy cores).
before(
  async () => {
    await clientsReady;
    backends = await startBackends(['echo-v1', 'echo-v2', 'echo-v2#b']);
    const port = (n: string) => String(backends.get(n)!.port);
    // The example file as shipped, on this run's ports, with the extra routes added to its route list.
    let yaml = readFileSync(join(REPO_ROOT, 'examples/quickstart.yaml'), 'utf8')
      .replace('port: 50051', `port: ${port('echo-v1')}`)
      .replace('port: 50052', `port: ${port('echo-v2')}`)
      .replace('port: 50053', `port: ${port('echo-v2#b')}`);
    assert.match(yaml, /\nlisteners:\n/, 'examples/quickstart.yaml still has a listeners section');
    const extra = WEIGHTED.map(
      ([host, w1, w2]) => `  - name: ${host}
    hosts: [${host}]
    match: { prefix: / }
    backends:
      - { service: echo-v1, weight: ${w1} }
      - { service: echo-v2, weight: ${w2} }
`,
    ).join('');
    yaml = yaml.replace('\nlisteners:\n', `\n${extra}listeners:\n`);
    // A service no client here can use: its TLS names a trust bundle the clients' bootstraps have no
    // certificate provider for, so each client NACKs its Cluster when asked to dial it.
    const ca = await runCli(['certs', 'init-ca', '--out', join(tmp.dir, 'ca')]);
    assert.equal(ca.code, 0, ca.stderr);
    yaml = yaml.replace(
      '\nroutes:\n',
      `
  - name: needs-certs
    protocol: grpc
    tls: { expectedSans: [{ uri: spiffe://example.org/needs-certs }], trustBundle: test/roots }
    endpoints: [{ address: 127.0.0.1, port: ${port('echo-v1')} }]
routes:
`,
    );
    yaml += `trustBundles:
  - { name: test/roots, caFiles: [ca/ca.pem] }
`;
    writeAtomic(join(tmp.dir, 'meshgate.yaml'), yaml);
    mg = new MeshgateProcess(join(tmp.dir, 'meshgate.yaml'));
    await mg.start();
    await mg.waitReady();
    bootstrapFor = await bootstrapFiles(tmp.dir, mg.xdsPort);
  },
  { timeout: 900_000 },
);

after(async () => {
  if (summary.length) console.log(`# quickstart split per client\n${summary.map((l) => `#   ${l}`).join('\n')}`);
  if (nackSummary.length) console.log(`# NACK kept after disconnect\n${nackSummary.map((l) => `#   ${l}`).join('\n')}`);
  await mg?.stop();
  await backends?.closeAll();
  tmp.cleanup();
});

describe('client matrix: quickstart and weighted routes', { timeout: 900_000 }, async () => {
  for (const c of await clientsReady) {
    test(`${c.label}: the quickstart's echo splits ~1:3, weights summing to 100 and not split as written, 0 NACKs`, async () => {
      const nodeId = `matrix-${c.id}-quickstart`;
      let userAgent = '';
      const targets = ['xds:///echo', ...WEIGHTED.map(([h]) => `xds:///${h}`), 'xds:///echo-v1'];
      const calls = await runClient(c, {
        bootstrapFile: bootstrapFor(nodeId),
        targets,
        calls: 400,
        whileConnected: async () => {
          userAgent = await assertSyncedNoNacks(mg.adminUrl, nodeId, ['LDS', 'RDS', 'CDS', 'EDS']);
        },
      });
      await assertNoDepartedNacks(mg.adminUrl, nodeId);
      const v2 = assertShare(calls, 'xds:///echo', 'echo-v2', 3 / 4, c.label);
      const v2ports = countByPort(calls, 'xds:///echo', 'echo-v2');
      assert.equal(Object.keys(v2ports).length, 2, `both echo-v2 endpoints take traffic: ${JSON.stringify(v2ports)}`);
      const shares = WEIGHTED.map(
        ([h, w1, w2]) => `${h} ${assertShare(calls, `xds:///${h}`, 'echo-v2', w2 / (w1 + w2), c.label).toFixed(3)}`,
      );
      assert.deepEqual(countByServer(calls, 'xds:///echo-v1'), { 'echo-v1': 400 }, 'a single service, no weights');
      const v1 = countByServer(calls, 'xds:///echo')['echo-v1'] ?? 0;
      summary.push(
        `${c.label} [${userAgent}]: echo ${v1}:${400 - v1} (echo-v2 share ${v2.toFixed(3)}, endpoints ${JSON.stringify(v2ports)}); echo-v2 share on ${shares.join(', ')}`,
      );
    });

    test(`${c.label}: a Cluster it NACKs stays on /debug/nodes after it disconnects`, async () => {
      const nodeId = `matrix-${c.id}-nack`;
      let live: any;
      const calls = await runClient(c, {
        bootstrapFile: bootstrapFor(nodeId),
        targets: ['xds:///needs-certs'],
        calls: 1,
        timeoutS: 5,
        whileConnected: async () => {
          const nodes = (await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as any[];
          live = nodes.find((n) => n.id === nodeId);
        },
      });
      assert.equal(calls[0]?.ok, false, `a call through a Cluster the client rejected: ${JSON.stringify(calls)}`);
      assert.equal(live?.status?.CDS, 'NACKED', `while connected: ${JSON.stringify(live)}`);
      const gone = await waitFor(async () => {
        const page = (await getJson(`${mg.adminUrl}/debug/nodes`)).body;
        return page.recentlyDisconnected.find((n: any) => n.id === nodeId);
      }, `${nodeId} under recentlyDisconnected`);
      const cds = gone.nacks.find((n: any) => n.type === 'CDS');
      assert.ok(cds?.message && cds.nonce && cds.version && cds.at <= gone.disconnectedAt, JSON.stringify(gone));
      assert.deepEqual(cds.names, ['needs-certs']);
      nackSummary.push(`${c.label}: ${cds.message}`);
    });
  }
});
