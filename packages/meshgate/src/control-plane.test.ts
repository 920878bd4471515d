import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { certsIssue } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { createControlPlane } from './control-plane.ts';
import type { ControlPlane } from './control-plane.ts';
import { createLogger } from './logger.ts';
import { runCliProcess } from './test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'meshgate-cp-'));
const config = join(dir, 'meshgate.yaml');
let cp: ControlPlane;
let logs = '';
let keyPem = '';

before(async () => {
  await certsIssue({ spiffe: 'spiffe://example.org/gateway', ca: join(dir, 'ca'), out: join(dir, 'gw'), ttl: '1h' });
  keyPem = readFileSync(join(dir, 'gw/key.pem'), 'utf8');
  writeFileSync(
    config,
    `services:
  - name: web
    endpoints: [{ address: 127.0.0.1, port: 8081 }]
identities:
  - name: mesh/example/gateway
    certFile: gw/cert.pem
    keyFile: gw/key.pem
trustBundles:
  - name: mesh/example/roots
    caFiles: [gw/ca.pem]
`,
  );
  const sink = new Writable({ write: (chunk, _enc, cb) => ((logs += chunk.toString()), cb()) });
  cp = await createControlPlane({
    configPath: config,
    xdsPort: 0,
    xdsAddress: '127.0.0.1',
    adminPort: 0,
    logger: createLogger('debug', sink),
  });
});

after(async () => {
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

const admin = (path: string) => fetch(`http://127.0.0.1:${cp.adminPort}${path}`);

test('readiness covers sources, translation and certificates; metrics carry the cert expiry', async () => {
  for (let i = 0; i < 100 && (await admin('/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
  const r = await admin('/readyz');
  const body = (await r.json()) as any;
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.equal(body.sources.file.synced, true);
  assert.equal(body.certs[0].identity, 'mesh/example/gateway');
  assert.equal(body.certs[0].nearExpiry, false);
  const m = await (await admin('/metrics')).text();
  assert.match(
    m,
    /^meshgate_cert_expiry_timestamp_seconds\{identity="mesh\/example\/gateway",mesh="example"\} \d{10}$/m,
  );
  // Runtime health next to meshgate's own series: resident memory, heap and event-loop lag.
  assert.match(m, /^process_resident_memory_bytes \d+/m);
  assert.match(m, /^nodejs_heap_size_used_bytes \d+/m);
  assert.match(m, /^nodejs_eventloop_lag_p99_seconds \d/m);
  assert.equal((await admin('/healthz')).status, 200);
  assert.equal((await admin('/nope')).status, 404);
  assert.equal((await fetch(`http://127.0.0.1:${cp.adminPort}/readyz`, { method: 'POST' })).status, 405);
});

test('secrets are listed and shown redacted; no page or log line carries the private key', async () => {
  const list = (await (await admin('/debug/resources?profile=envoy&type=secret')).json()) as any;
  assert.deepEqual(list.resources.map((r: { name: string }) => r.name).sort(), [
    'mesh/example/gateway',
    'mesh/example/roots',
  ]);
  const one = await (await admin('/debug/resources?profile=envoy&type=secret&name=mesh/example/gateway')).text();
  assert.match(one, /BEGIN CERTIFICATE/);
  assert.doesNotMatch(one, /PRIVATE KEY/);
  assert.match(one, /\[redacted\]/);
  const keyBody = keyPem.split('\n')[1];
  for (const page of [
    '/readyz',
    '/metrics',
    '/debug/nodes',
    '/debug/resources?profile=envoy&type=secret&name=mesh/example/gateway',
  ]) {
    assert.ok(!(await (await admin(page)).text()).includes(keyBody), `${page} leaks the key`);
  }
  assert.ok(logs.length > 0);
  assert.ok(!logs.includes(keyBody) && !logs.includes('PRIVATE KEY'), 'the log leaks the key');
});

test('`meshgate translate --type secret` redacts the key', async () => {
  const r = await runCliProcess(['translate', '--config', config, '--profile', 'envoy', '--type', 'secret']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /BEGIN CERTIFICATE/);
  assert.doesNotMatch(r.stdout, /PRIVATE KEY/);
});

test("the file source accepts meshgate's own top-level sections (xds, admin, consul, certs, logging)", async () => {
  // Needs adapter-file's `extraTopLevelKeys` option; serve passes ['xds','admin','consul','certs','logging'].
  const withSections = join(dir, 'sections.yaml');
  writeFileSync(
    withSections,
    `xds: { port: 18000, debounce: 50ms }\nadmin: { address: 127.0.0.1 }\nlogging: { level: warn }\n${readFileSync(config, 'utf8')}`,
  );
  const r = await runCliProcess(['validate', '--config', withSections]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok: 1 service, 0 routes, 0 listeners$/m);
});

test('default settings: a plaintext node gets the trust bundle, not the identity; /debug/nodes and /readyz say why', async () => {
  const c = await AdsClient.connect({
    address: `127.0.0.1:${cp.xdsPort}`,
    node: { id: 'plain-gw', user_agent_name: 'envoy' },
  });
  try {
    c.subscribe(TYPE.secret, ['mesh/example/gateway', 'mesh/example/roots']);
    const r = await c.next(TYPE.secret, 5000);
    assert.deepEqual(
      r.resources.map((x) => x.name),
      ['mesh/example/roots'],
    );
    const nodes = (await (await admin('/debug/nodes')).json()) as any;
    const n = nodes.nodes.find((x: { id: string }) => x.id === 'plain-gw');
    assert.equal(n.refusedSecrets.length, 1, JSON.stringify(n));
    assert.equal(n.refusedSecrets[0].name, 'mesh/example/gateway');
    assert.match(
      n.refusedSecrets[0].reason,
      /no verified client certificate \(xds\.tls is not set\); configure xds\.tls/,
    );
  } finally {
    c.close();
  }
  const ready = (await (await admin('/readyz')).json()) as any;
  assert.equal(ready.secrets.clientAuthentication, 'none');
  assert.equal(ready.secrets.insecureAllowUnauthenticatedSecrets, false);
  assert.match(ready.secrets.warnings[0], /^identities \["mesh\/example\/gateway"\] hold private keys/);
  assert.match(logs, /identities \[\\"mesh\/example\/gateway\\"\] hold private keys/);
  assert.match(logs, /secret withheld from this node/);
});
