// meshgate restarted while clients are connected: grpc-js-xds keeps using its cached config
// while the control plane is away, reconnects, and no RPC fails (docs/architecture.md, rule 10).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { echoConfig, startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, waitFor } from '../lib/wait.ts';
import { XdsClientProcess } from '../lib/xds-client.ts';

const tmp = tempDir();
let backends: Awaited<ReturnType<typeof startBackends>>;
let mg: MeshgateProcess;
let client: XdsClientProcess;

before(async () => {
  backends = await startBackends(['echo-v1', 'echo-v2']);
  const config = join(tmp.dir, 'meshgate.yaml');
  writeAtomic(
    config,
    echoConfig({ v1: [{ port: backends.get('echo-v1')!.port }], v2: [{ port: backends.get('echo-v2')!.port }] }),
  );
  mg = new MeshgateProcess(config);
  await mg.start();
  await mg.waitReady();
  client = new XdsClientProcess(mg.xdsPort, 'e2e-restart');
});

after(async () => {
  await client?.close();
  await mg?.stop();
  await backends?.closeAll();
  tmp.cleanup();
});

const connected = async (id: string) =>
  ((await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as { id: string; status: Record<string, string> }[]).find(
    (n) => n.id === id,
  );

test('continuous calls keep succeeding while meshgate restarts, and the client reconnects', {
  timeout: 120_000,
}, async () => {
  const first = await client.burst('xds:///echo', 20);
  assert.equal(first.failures, 0, first.errors.join('; '));
  await client.start('xds:///echo', 10);

  const stoppedAt = Date.now();
  const exit = await mg.stop();
  assert.equal(exit, 0, `meshgate should exit 0 on SIGTERM, got ${exit}`);
  // Calls keep flowing on the cached config while nothing listens on the xDS port.
  await waitFor(
    async () => (await client.peek('xds:///echo', 50)).filter((o) => o.t > stoppedAt + 1000).length >= 20,
    'calls while meshgate is down',
    15_000,
  );
  const restartedAt = Date.now();
  await mg.start();
  await mg.waitReady();
  const node = await waitFor(
    async () => {
      const n = await connected('e2e-restart');
      return n && n.status.CDS === 'SYNCED' && n.status.EDS === 'SYNCED' ? n : undefined;
    },
    'the client reconnecting and ACKing',
    30_000,
  );
  assert.ok(node);
  // Some calls after the reconnect, then stop.
  const reconnectedAt = Date.now();
  await waitFor(
    async () => (await client.peek('xds:///echo', 50)).filter((o) => o.t > reconnectedAt).length >= 20,
    'calls after the reconnect',
  );
  const s = await client.stop('xds:///echo');
  const during = s.outcomes.filter((o) => o.t > stoppedAt && o.t < restartedAt);
  assert.ok(during.length >= 20, `only ${during.length} calls while meshgate was down`);
  assert.equal(s.failures, 0, `failed RPCs across the restart: ${s.errors.join('; ')}`);
  assert.ok(Object.keys(s.counts).length === 2, `both versions served: ${JSON.stringify(s.counts)}`);
});
