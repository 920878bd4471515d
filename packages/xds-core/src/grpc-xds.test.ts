// Smoke test with a real xDS client: @grpc/grpc-js-xds resolves xds:///echo through this server (LDS -> RDS ->
// CDS -> EDS over ADS) and calls a real grpc-js backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { TYPE, type ResourceSet } from './types.ts';
import { startServer, apiListener, route, cluster, cla, eventually } from './test-helpers.ts';
import { echoService, type SayRequest, type SayReply } from './testdata/echo-service.ts';

async function backend(t: import('node:test').TestContext, name: string): Promise<number> {
  const server = new grpc.Server();
  server.addService(echoService(), {
    Say: (call: grpc.ServerUnaryCall<SayRequest, SayReply>, cb: grpc.sendUnaryData<SayReply>) =>
      cb(null, { text: call.request.text, server: name }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  t.after(() => server.forceShutdown());
  return port;
}

function runClient(
  xdsPort: number,
  nodeId: string,
  calls: number,
): Promise<{ replies: Array<{ server?: string; code?: number; details?: string }> }> {
  const bootstrap = {
    xds_servers: [
      { server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: { id: nodeId, locality: { zone: 'test' } },
  };
  const script = fileURLToPath(new URL('./testdata/xds-echo-client.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', script], {
      env: {
        ...process.env,
        GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap),
        TARGET: 'xds:///echo',
        CALLS: String(calls),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        reject(
          new Error(`xDS client child exited ${code}; stdout: ${out.slice(0, 2000)} stderr: ${err.slice(0, 2000)}`),
        );
      }
    });
  });
}

test('grpc-js-xds resolves xds:///echo through the server and reaches the backend; an EDS patch moves it', async (t) => {
  const port1 = await backend(t, 'backend-1');
  const port2 = await backend(t, 'backend-2');
  const h = await startServer(t);
  const set: ResourceSet = new Map([
    [TYPE.listener, new Map([['echo', apiListener('echo', 'echo-route')]])],
    [TYPE.route, new Map([['echo-route', route('echo-route', 'echo-cluster')]])],
    [TYPE.cluster, new Map([['echo-cluster', cluster('echo-cluster')]])],
    [TYPE.endpoint, new Map([['echo-cluster', cla('echo-cluster', [port1])]])],
  ]);
  h.cache.publish('grpc', set);
  const acked = new Set<string>();
  h.server.on('ack', (e) => acked.add(`${e.node}:${e.typeUrl}`));
  const nacks: string[] = [];
  h.server.on('nack', (e) => nacks.push(e.message));

  const first = await runClient(Number(h.address.split(':')[1]), 'smoke-1', 4);
  assert.deepEqual(first.replies, Array(4).fill({ server: 'backend-1' }));
  assert.deepEqual(nacks, []);
  for (const ty of [TYPE.listener, TYPE.route, TYPE.cluster, TYPE.endpoint])
    assert.ok(acked.has(`smoke-1:${ty}`), `ACK for ${ty}`);
  await eventually(() => h.server.nodes().length === 0, 10_000, 'the child disconnecting');

  h.cache.patch('grpc', TYPE.endpoint, new Map([['echo-cluster', cla('echo-cluster', [port2])]]));
  const second = await runClient(Number(h.address.split(':')[1]), 'smoke-2', 2);
  assert.deepEqual(second.replies, Array(2).fill({ server: 'backend-2' }));
});
