import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE } from '@meshgate/xds-core';
import { runCliProcess } from './test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'meshgate-validate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FILE = `consul:
  address: http://127.0.0.1:8500
services:
  - name: shop-v1
    endpoints: [{ address: 127.0.0.1, port: 50051 }]
routes:
  - name: shop
    hosts: [shop]
    backends:
      - { service: shop-v1 }
      - { service: consul/dc1/shop }
`;

function write(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

test('validate: with a consul section, backends left to Consul are a note and the file is ok', async () => {
  const f = write('split.yaml', FILE);
  const r = await runCliProcess(['validate', '--config', f]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `^note: ${f}:11:20: route shop: backend "consul/dc1/shop" is not defined in this file; left to the other sources`,
      'm',
    ),
  );
  assert.match(r.stdout, /^ok: 1 service, 1 route, 0 listeners$/m);
});

test('validate: without other sources the same route is an error; with them, real errors still fail', async () => {
  const alone = write('alone.yaml', FILE.replace(/^consul:\n.*\n/, ''));
  const a = await runCliProcess(['validate', '--config', alone]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /routes\[0\]\.backends\[1\]\.service: service "consul\/dc1\/shop" does not exist/);
  const broken = write('broken.yaml', `${FILE}listeners:\n  - { name: http, port: 8080, routes: [nope] }\n`);
  const b = await runCliProcess(['validate', '--config', broken]);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /listeners\[0\]\.routes\[0\]: route "nope" does not exist/);
  assert.doesNotMatch(b.stdout, /^ok:/m);
});

test('translate: with a consul section, backends left to Consul become empty stand-ins, with a note on stderr', async () => {
  const f = write('split-translate.yaml', FILE);
  const r = await runCliProcess(['translate', '--config', f, '--profile', 'envoy', '--output', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `^note: ${f}:11:20: route shop: backend "consul/dc1/shop" is not defined in this file; left to the other sources \\(consul, kubernetes, linkerd\\), shown here as an empty stand-in`,
      'm',
    ),
  );
  const out = JSON.parse(r.stdout) as Record<string, Record<string, any>>;
  const clusters = out[TYPE.cluster];
  assert.deepEqual(Object.keys(clusters).sort(), ['consul/dc1/shop', 'shop-v1']);
  const cla = out[TYPE.endpoint]?.['consul/dc1/shop'];
  assert.equal(
    (cla?.endpoints ?? []).flatMap((e: any) => e.lb_endpoints ?? []).length,
    0,
    'the stand-in has no endpoints',
  );
  // Without other sources the file alone must resolve its backends.
  const alone = write('alone-translate.yaml', FILE.replace(/^consul:\n.*\n/, ''));
  const a = await runCliProcess(['translate', '--config', alone]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /service "consul\/dc1\/shop" does not exist/);
});

test('validate: a kubernetes section lets routes name k8s/<ns>/<svc>/<port>; its mistakes name the key', async () => {
  const k8s = FILE.replace(/^consul:\n.*\n/, 'kubernetes:\n  namespaces: [shop]\n').replace(
    'consul/dc1/shop',
    'k8s/shop/cart/8080',
  );
  const ok = await runCliProcess(['validate', '--config', write('k8s.yaml', k8s)]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /backend "k8s\/shop\/cart\/8080" is not defined in this file; left to the other sources/);
  const bad = await runCliProcess([
    'validate',
    '--config',
    write('k8s-bad.yaml', k8s.replace('namespaces: [shop]', 'namespaces: [Shop]\n  controllerName: x')),
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /kubernetes\.namespaces: not namespace names: "Shop"/);
  assert.match(bad.stderr, /kubernetes\.controllerName: must be a domain-prefixed path/);
});
