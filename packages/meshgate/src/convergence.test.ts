import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { createControlPlane } from './control-plane.ts';
import type { ControlPlane } from './control-plane.ts';
import { ConvergenceTracker } from './convergence.ts';
import { createLogger } from './logger.ts';

const ev = (node: string, group = 'grpc', streamId = 1) => ({ node, group, streamId });
const push = (node: string, typeUrl: string) => ({
  ...ev(node),
  typeUrl,
  mode: 'sotw' as const,
  version: 'v',
  bytes: 1,
  resources: 1,
  removed: 0,
});
const ack = (node: string, typeUrl: string) => ({ ...ev(node), typeUrl, version: 'v', latencyMs: 1 });

test('a publish converges when every node of the changed groups connected at the time has answered everything', () => {
  let clock = 1000;
  const seen: number[] = [];
  const t = new ConvergenceTracker(
    (s) => seen.push(s),
    () => clock,
  );
  const connect = (node: string, group: string) =>
    t.connect({ ...ev(node, group), mode: 'sotw', method: 'ads', userAgent: '' });
  connect('a', 'grpc');
  connect('b', 'grpc');
  connect('e', 'envoy');
  t.published(1000, ['grpc']);
  assert.equal(t.outstanding, 2, 'only the nodes of the changed group are waited for');
  t.push(push('a', TYPE.cluster));
  t.push(push('a', TYPE.endpoint));
  t.push(push('b', TYPE.cluster));
  clock = 1100;
  t.answer(ack('a', TYPE.cluster));
  assert.equal(t.outstanding, 2, 'a still owes its EDS answer');
  t.answer({ ...ack('a', TYPE.endpoint), message: 'rejected', names: [] }); // a NACK is an answer too
  assert.equal(t.outstanding, 1);
  t.answer(ack('e', TYPE.cluster)); // another group's node: no effect
  clock = 1250;
  t.answer(ack('b', TYPE.cluster));
  assert.deepEqual(seen, [0.25]);
  assert.equal(t.outstanding, 0);
});

test('a node that disconnects stops counting and no time is recorded for the publish; reconnects are new', () => {
  const seen: number[] = [];
  const t = new ConvergenceTracker(
    (s) => seen.push(s),
    () => 0,
  );
  t.connect({ ...ev('a'), mode: 'sotw', method: 'ads', userAgent: '' });
  t.connect({ ...ev('a', 'grpc', 2), mode: 'sotw', method: 'ads', userAgent: '' });
  t.published(0, ['grpc']);
  t.push(push('a', TYPE.cluster));
  t.disconnect({ ...ev('a'), durationMs: 1 });
  assert.equal(t.outstanding, 1, 'a still has a stream open');
  t.disconnect({ ...ev('a', 'grpc', 2), durationMs: 1 });
  assert.equal(t.outstanding, 0);
  assert.deepEqual(seen, []);
  t.published(0, ['grpc']);
  assert.equal(t.outstanding, 0, 'a left: nobody to wait for');
});

// The control plane keeps the `ack` stage of meshgate_convergence_seconds without reading the
// server's O(nodes) node list on each ACK (which made a push to a large fleet O(nodes²)).
const dir = mkdtempSync(join(tmpdir(), 'meshgate-conv-'));
const config = join(dir, 'meshgate.yaml');
const CONFIG = (port: number) => `services:\n  - name: web\n    endpoints: [{ address: 127.0.0.1, port: ${port} }]\n`;
let cp: ControlPlane;
const clients: AdsClient[] = [];

before(async () => {
  writeFileSync(config, CONFIG(8081));
  cp = await createControlPlane({
    configPath: config,
    xdsPort: 0,
    xdsAddress: '127.0.0.1',
    adminPort: 0,
    logger: createLogger('silent'),
  });
});

after(async () => {
  for (const c of clients) c.close();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('control plane: convergence is recorded for a publish to connected nodes, and ACKs never list the nodes', async () => {
  for (let i = 0; i < 200 && !cp.cache.ready; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cp.cache.ready);
  for (const id of ['n1', 'n2']) {
    const c = await AdsClient.connect({ address: `127.0.0.1:${cp.xdsPort}`, node: { id } });
    clients.push(c);
    c.subscribe(TYPE.cluster, ['web']);
    c.subscribe(TYPE.endpoint, ['web']);
    await c.next(TYPE.endpoint, 5000);
  }
  const server = cp.server;
  const listNodes = server.nodes.bind(server);
  let listed = 0;
  server.nodes = () => {
    listed++;
    return listNodes();
  };
  const before = cp.metrics.convergence.count({ stage: 'ack' });
  writeFileSync(config, CONFIG(8082));
  for (const c of clients) await c.next(TYPE.endpoint, 5000);
  for (let i = 0; i < 200 && cp.metrics.convergence.count({ stage: 'ack' }) === before; i++)
    await new Promise((r) => setTimeout(r, 25));
  assert.equal(
    cp.metrics.convergence.count({ stage: 'ack' }),
    before + 1,
    'the publish converged once both nodes ACKed',
  );
  assert.equal(listed, 0, 'convergence tracking read the node list');
});
