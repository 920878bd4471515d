// A second, independent proxyless xDS client: grpc-go, built from the Go module proxy by
// integration-tests/tools/build-grpc-go-client.sh. It dials through a real `meshgate serve`
// using the bootstrap that `meshgate bootstrap --grpc` prints, so meshgate is proven against
// two real xDS implementations, not only the one its tests are written in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { echoConfig, startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess, REPO_ROOT, runCli } from '../lib/meshgate-process.ts';

const run = promisify(execFile);

interface Call {
  ok: boolean;
  fields?: Record<string, string | number>;
  error?: string;
}

describe('grpc-go proxyless client through meshgate serve', { timeout: 420_000 }, () => {
  const tmp = tempDir('meshgate-grpc-go-');
  const config = join(tmp.dir, 'meshgate.yaml');
  let backends: Awaited<ReturnType<typeof startBackends>>;
  let mg: MeshgateProcess;
  let clientBin: string;
  let bootstrap: string;

  before(async () => {
    // The first build compiles grpc-go (about 2 minutes on 2 cores); later runs use the cache.
    const built = await run('bash', [join(REPO_ROOT, 'integration-tests/tools/build-grpc-go-client.sh')], {
      maxBuffer: 1 << 24,
      timeout: 360_000,
    });
    clientBin = built.stdout.trim().split('\n').pop()!;
    backends = await startBackends(['echo-v1', 'echo-v2', 'echo-v2#b']);
    const port = (n: string) => backends.get(n)!.port;
    writeAtomic(
      config,
      echoConfig({ v1: [{ port: port('echo-v1') }], v2: [{ port: port('echo-v2') }, { port: port('echo-v2#b') }] }),
    );
    mg = new MeshgateProcess(config);
    await mg.start();
    await mg.waitReady();
    const b = await runCli(['bootstrap', '--grpc', '--xds-port', String(mg.xdsPort), '--node-id', 'e2e-grpc-go']);
    assert.equal(b.code, 0, b.stderr);
    bootstrap = b.stdout;
  });

  after(async () => {
    await mg?.stop();
    await backends?.closeAll();
    tmp.cleanup();
  });

  async function calls(target: string, n: number): Promise<Call[]> {
    const { stdout } = await run(
      clientBin,
      ['-target', target, '-calls', String(n), '-method', '/meshgate.examples.echo.Echo/Echo'],
      {
        env: { ...process.env, GRPC_XDS_BOOTSTRAP: '', GRPC_XDS_BOOTSTRAP_CONFIG: bootstrap },
        timeout: 120_000,
        maxBuffer: 1 << 24,
      },
    );
    return stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Call);
  }

  test('xds:///echo splits about 1:3 between echo-v1 and echo-v2', async () => {
    const results = await calls('xds:///echo', 400);
    const failed = results.filter((r) => !r.ok);
    assert.equal(
      failed.length,
      0,
      `failed calls: ${failed
        .slice(0, 5)
        .map((r) => r.error)
        .join('; ')}`,
    );
    const v2 = results.filter((r) => r.fields?.['2'] === 'echo-v2').length / results.length;
    assert.ok(v2 >= 0.6 && v2 <= 0.9, `echo-v2 share ${v2} is not about 3/4`);
    const v2ports = new Set(results.filter((r) => r.fields?.['2'] === 'echo-v2').map((r) => r.fields?.['3']));
    assert.equal(v2ports.size, 2, 'both echo-v2 endpoints take traffic');
  });

  test('xds:///echo-v1 reaches echo-v1 with no route naming that host', async () => {
    const results = await calls('xds:///echo-v1', 30);
    assert.deepEqual(new Set(results.map((r) => (r.ok ? r.fields?.['2'] : r.error))), new Set(['echo-v1']));
  });
});
