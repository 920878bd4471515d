// Services + EndpointSlices in a real kube-apiserver -> meshgate (as the chart's ServiceAccount) ->
// grpc-js-xds, grpc-go and gRPC C-core clients calling echo backends in a network namespace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ECHO_PORT,
  type KubeMeshgate,
  kubeDetails,
  serviceYaml,
  sliceYaml,
  startKubeMeshgate,
} from '../lib/kube-meshgate.ts';
import { type MeshgateProcess, REPO_ROOT, runCli } from '../lib/meshgate-process.ts';
import { bootstrapFiles, cCoreClient, countByServer, runClient } from '../lib/client-matrix.ts';
import { waitFor } from '../lib/wait.ts';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { XdsClientProcess } from '../lib/xds-client.ts';

let k: KubeMeshgate;
let mg: MeshgateProcess;
let client: XdsClientProcess;
const TARGET = `k8s/shop/echo/${ECHO_PORT}`;
/** grpc-js sends the target as the HTTP/2 authority, so it dials the Service's DNS-style name (no `/`). */
const DIAL = `xds:///echo.shop.svc.cluster.local:${ECHO_PORT}`;

before(
  async () => {
    k = await startKubeMeshgate(['echo-a', 'echo-b', 'echo-c']);
    // The Service exists before meshgate starts, so the file's route to it resolves from the first publish.
    await k.env.apply(serviceYaml('shop', 'echo'));
    mg = k.meshgate({
      routes: [
        {
          name: 'file-to-k8s',
          hosts: ['from-file.example'],
          match: { prefix: '/' },
          backends: [{ service: TARGET, weight: 1 }],
        },
      ],
    });
    await mg.start();
    await mg.waitReady(30_000);
    client = new XdsClientProcess(mg.xdsPort, 'k8s-discovery');
  },
  { timeout: 2_400_000 },
);
after(async () => {
  await client?.close();
  await k?.close();
});

/** Backends (by name) that answered a burst of calls; every call must succeed. */
async function served(target = DIAL, n = 30): Promise<string> {
  const s = await client.burst(target, n, 3000);
  if (s.failures) return `failures: ${s.errors.join('; ')}`;
  return Object.keys(s.counts)
    .map((k) => k.split(':')[0])
    .sort()
    .join(',');
}

/** Waits until a burst is served by exactly `want` (sorted backend names); the error names what was served last. */
async function waitServed(want: string, what: string, target = DIAL, n = 30): Promise<void> {
  let last = '';
  await waitFor(async () => (last = await served(target, n)) === want, what, 10_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}; last served: ${last}`);
  });
}

describe('kubernetes discovery', () => {
  test('Service + EndpointSlice: clients route there; add, drain (terminating) and remove endpoints; several slices', async (t) => {
    const [a, b, c] = ['echo-a', 'echo-b', 'echo-c'].map((n) => k.echoes[n].ip);
    let t0 = Date.now();
    await k.env.apply(sliceYaml('shop', 'echo', 'echo-1', [{ ip: a }]));
    await waitServed('echo-a', 'calls to reach echo-a');
    t.diagnostic(`EndpointSlice created -> calls served in ${Date.now() - t0} ms`);

    // A second slice of the same Service adds endpoints; a third address in slice 1 too.
    t0 = Date.now();
    await k.env.apply(sliceYaml('shop', 'echo', 'echo-2', [{ ip: b }]));
    await k.env.apply(sliceYaml('shop', 'echo', 'echo-1', [{ ip: a }, { ip: c, zone: 'zone-c' }]));
    await waitServed('echo-a,echo-b,echo-c', 'all three slices endpoints', DIAL, 60);
    t.diagnostic(`endpoints added -> all served in ${Date.now() - t0} ms`);

    // Drain a: terminating but still serving, while b and c are ready -> a gets nothing.
    await k.env.apply(
      sliceYaml('shop', 'echo', 'echo-1', [{ ip: a, ready: false, serving: true, terminating: true }, { ip: c }]),
    );
    await waitServed('echo-b,echo-c', 'a drained', DIAL, 60);

    // Nothing ready left: the terminating-but-serving endpoint is used rather than failing calls.
    await k.env.kubectl(['delete', 'endpointslice', '-n', 'shop', 'echo-2']);
    await k.env.apply(
      sliceYaml('shop', 'echo', 'echo-1', [
        { ip: a, ready: false, serving: true, terminating: true },
        { ip: c, ready: false, serving: false, terminating: true },
      ]),
    );
    await waitServed('echo-a', 'the serving terminating endpoint as the last resort');

    // Back to normal, then removed endpoints leave.
    await k.env.apply(sliceYaml('shop', 'echo', 'echo-1', [{ ip: b }]));
    await waitServed('echo-b', 'only b after a and c were removed');
  });

  test('grpc-go (a second xDS implementation) reaches the same endpoints by the model name k8s/<ns>/<svc>/<port>', async () => {
    const run = promisify(execFile);
    const built = await run('bash', [join(REPO_ROOT, 'integration-tests/tools/build-grpc-go-client.sh')], {
      maxBuffer: 1 << 24,
      timeout: 600_000,
    });
    const bin = built.stdout.trim().split('\n').pop()!;
    const b = await runCli(['bootstrap', '--grpc', '--xds-port', String(mg.xdsPort), '--node-id', 'k8s-grpc-go']);
    assert.equal(b.code, 0, b.stderr);
    const { stdout } = await run(
      bin,
      ['-target', `xds:///${TARGET}`, '-calls', '20', '-method', '/meshgate.examples.echo.Echo/Echo'],
      {
        env: { ...process.env, GRPC_XDS_BOOTSTRAP: '', GRPC_XDS_BOOTSTRAP_CONFIG: b.stdout },
        timeout: 120_000,
      },
    );
    const calls = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ok: boolean; fields?: Record<string, string>; error?: string });
    assert.deepEqual(new Set(calls.map((c) => (c.ok ? c.fields?.['2'] : c.error))), new Set(['echo-b']));
  });

  test('gRPC C-core (python3-grpcio, a third xDS implementation) reaches the same endpoints by the Service DNS name', async () => {
    const c = await cCoreClient();
    const bootstrap = await bootstrapFiles(k.dir, mg.xdsPort);
    const calls = await runClient(c, { bootstrapFile: bootstrap('k8s-c-core'), targets: [DIAL], calls: 20 });
    assert.deepEqual(countByServer(calls, DIAL), { 'echo-b': 20 }, `${c.label}: ${JSON.stringify(calls.slice(0, 3))}`);
  });

  test('a file route names a Kubernetes service (k8s/<ns>/<svc>/<port>) and reaches its endpoints', async () => {
    await waitServed('echo-b', 'the file route to the Kubernetes service', 'xds:///from-file.example');
  });

  test('linkerdIngress: the Service is reached at the cluster IP the API server gave it, with l5d-dst-override', async () => {
    const clusterIP = JSON.parse(await k.env.kubectl(['get', 'service', '-n', 'shop', 'echo', '-o', 'json'])).spec
      .clusterIP as string;
    assert.match(clusterIP, /^\d+\.\d+\.\d+\.\d+$/);
    const ingress = k.meshgate({}, { linkerdIngress: true });
    await ingress.start();
    await ingress.waitReady(30_000);
    const c = await AdsClient.connect({
      address: `127.0.0.1:${ingress.xdsPort}`,
      node: { id: 'k8s-linkerd-ingress', user_agent_name: 'grpc-go' },
      mode: 'sotw',
    });
    try {
      const host = `echo.shop.svc.cluster.local:${ECHO_PORT}`;
      c.subscribe(TYPE.endpoint, [TARGET]);
      const eds = (await c.next(TYPE.endpoint, 10_000)).resources[0].object as {
        endpoints: {
          lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[];
        }[];
      };
      const addrs = eds.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address));
      assert.deepEqual(addrs, [{ address: clusterIP, port_value: ECHO_PORT }]);
      c.subscribe(TYPE.route, [host]);
      const rc = JSON.stringify((await c.next(TYPE.route, 10_000)).resources[0].object);
      assert.ok(
        rc.includes('"key":"l5d-dst-override"') && rc.includes(`"value":"${host}"`),
        `route for ${host} sets l5d-dst-override: ${rc}`,
      );
    } finally {
      c.close();
      await ingress.stop();
    }
  });

  test('meshgate runs with only the chart RBAC: synced, not stale, every resource listed', async () => {
    const d = await kubeDetails(mg);
    assert.deepEqual(d.failing, [], JSON.stringify(d));
    assert.equal(typeof d.endpointSlices, 'number');
    const ready = await fetch(`${mg.adminUrl}/readyz`);
    assert.equal(ready.status, 200, mg.logs());
  });
});
