// The offline commands as a user runs them: validate, bootstrap, translate, help and bad flags.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { envoyRoot } from '@meshgate/xds-core';
import { checkProtoJson } from '@meshgate/meshgate';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { REPO_ROOT, runCli } from '../lib/meshgate-process.ts';

const tmp = tempDir();
after(() => tmp.cleanup());
const quickstart = join(REPO_ROOT, 'examples/quickstart.yaml');

test('validate accepts the quickstart and counts what it found', async () => {
  const r = await runCli(['validate', '--config', quickstart]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok: 2 services, 1 route, 1 listener');
});

test('validate on a bad file exits 1 and names file:line:col', async () => {
  const bad = join(tmp.dir, 'bad.yaml');
  writeAtomic(
    bad,
    [
      'services:',
      '  - name: web',
      '    endpoints:',
      '      - { address: 127.0.0.1, port: 70000 }',
      'routes: []',
      '',
    ].join('\n'),
  );
  const r = await runCli(['validate', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+: .*port`), r.stderr);
  assert.equal(r.stdout, '');
});

test('bootstrap output decodes as an Envoy Bootstrap with no unknown fields', async () => {
  const r = await runCli(['bootstrap', '--output', 'json', '--node-id', 'edge-1', '--xds-port', '18001']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(checkProtoJson(envoyRoot(), 'envoy.config.bootstrap.v3.Bootstrap', doc), []);
  assert.equal(
    doc.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
      .port_value,
    18001,
  );
});

test('translate prints one type for one profile, offline', async () => {
  const r = await runCli([
    'translate',
    '--config',
    quickstart,
    '--profile',
    'grpc',
    '--type',
    'listener',
    '--output',
    'json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(out), ['type.googleapis.com/envoy.config.listener.v3.Listener']);
  assert.deepEqual(Object.keys(out['type.googleapis.com/envoy.config.listener.v3.Listener']).sort(), [
    'echo',
    'echo-v1',
    'echo-v2',
  ]);
});

test('an unknown flag is an error naming the flag and the valid ones', async () => {
  const r = await runCli(['serve', '--config', quickstart, '--xds-prot', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown flag --xds-prot/);
  assert.match(r.stderr, /--xds-port/);
});

test('--help lists the commands', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['serve', 'bootstrap', 'validate', 'translate', 'certs'])
    assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'));
});

test('certs init-ca, issue and inspect', async () => {
  const ca = join(tmp.dir, 'ca');
  const leaf = join(tmp.dir, 'leaf');
  assert.equal((await runCli(['certs', 'init-ca', '--out', ca])).code, 0);
  const issued = await runCli([
    'certs',
    'issue',
    '--spiffe',
    'spiffe://example.org/gateway',
    '--ca',
    ca,
    '--ttl',
    '1h',
    '--out',
    leaf,
  ]);
  assert.equal(issued.code, 0, issued.stderr);
  const shown = await runCli(['certs', 'inspect', join(leaf, 'cert.pem')]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /URI:spiffe:\/\/example\.org\/gateway/);
  const both = await runCli(['certs', 'issue', '--spiffe', 'spiffe://e/x', '--dns', 'x', '--out', leaf]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --spiffe/);
});

// The same duration, the same answer, whether it is a flag or a key in the file (issue 13: `--ttl 1h30m`
// worked while `certs.identities[].ttl: 1h30m` failed, and `0s` the other way round).
for (const [ttl, ok] of [
  ['1h30m', true],
  ['7d', true],
  ['0s', false],
] as const)
  test(`ttl ${ttl}: certs issue --ttl and certs.identities[].ttl agree`, async () => {
    const flag = await runCli([
      'certs',
      'issue',
      '--dns',
      'gw.example.org',
      '--ca',
      join(tmp.dir, `ttl-ca`),
      '--ttl',
      ttl,
      '--out',
      join(tmp.dir, `ttl-${ttl}`),
    ]);
    const file = join(tmp.dir, `ttl-${ttl}.yaml`);
    writeAtomic(
      file,
      `certs:\n  dir: ${join(tmp.dir, 'ttl-ca')}\n  identities:\n    - name: mesh/meshgate/gw\n      dns: gw.example.org\n      ttl: ${ttl}\n`,
    );
    const validate = await runCli(['validate', '--config', file]);
    if (ok) {
      assert.equal(flag.code, 0, flag.stderr);
      assert.equal(validate.code, 0, validate.stderr);
    } else {
      assert.notEqual(flag.code, 0);
      assert.match(flag.stderr, /invalid --ttl "0s": use a duration greater than zero/);
      assert.equal(validate.code, 1);
      assert.match(
        validate.stderr,
        new RegExp(
          `${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:12: certs\\.identities\\[0\\]\\.ttl: expected a duration greater than zero, got "0s"`,
        ),
      );
    }
  });
