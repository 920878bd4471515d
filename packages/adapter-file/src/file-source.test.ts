import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Model, SourceSink, SourceStatus } from '@meshgate/model';
import { composeSchema } from '@meshgate/config-schema';
import { FILE_SECTIONS } from './config-schema.ts';
import { FileSource, type FileSourceOptions } from './file-source.ts';

const CONFIG = (port: number) => `services:
  - name: echo-v1
    endpoints:
      - { address: 127.0.0.1, port: ${port} }
routes:
  - name: echo
    hosts: [echo]
    backends: [{ service: echo-v1 }]
listeners:
  - { name: http, port: 8080, routes: [echo] }
`;

class RecordingSink implements SourceSink {
  models: Model[] = [];
  statuses: SourceStatus[] = [];
  update(model: Model): void {
    this.models.push(model);
  }
  status(status: SourceStatus): void {
    this.statuses.push(status);
  }
  get lastStatus(): SourceStatus | undefined {
    return this.statuses.at(-1);
  }
  get lastPort(): number | undefined {
    return this.models.at(-1)?.services[0]?.endpoints[0]?.port;
  }
}

async function eventually(what: string, ok: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function started(
  t: { after(fn: () => unknown): void },
  text: string | undefined,
  opts: Partial<FileSourceOptions> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-watch-'));
  const file = join(dir, 'gw.yaml');
  if (text !== undefined) writeFileSync(file, text);
  const sink = new RecordingSink();
  const src = new FileSource({ path: file, ...opts });
  await src.start(sink);
  t.after(async () => {
    await src.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, file, sink, src };
}

test('first load emits the model and turns synced', async (t) => {
  const { sink } = await started(t, CONFIG(50051));
  assert.equal(sink.models.length, 1);
  assert.equal(sink.lastPort, 50051);
  assert.equal(sink.lastStatus?.synced, true);
  assert.equal(sink.lastStatus?.stale, false);
});

test('a port change is picked up within 2 s', async (t) => {
  const { file, sink } = await started(t, CONFIG(50051));
  writeFileSync(file, CONFIG(50099));
  await eventually('new port reaches the sink', () => sink.lastPort === 50099);
});

test('a syntax error keeps the last good model and marks stale; the fix clears it', async (t) => {
  const { file, sink } = await started(t, CONFIG(50051));
  writeFileSync(file, CONFIG(50051).replace('routes:\n', 'routes: [\n'));
  await eventually('stale status', () => sink.lastStatus?.stale === true);
  assert.equal(sink.models.length, 1, 'a broken model must never be emitted');
  assert.equal(sink.lastStatus?.synced, true);
  assert.match(sink.lastStatus!.lastError!, new RegExp(`^${file}:\\d+:\\d+: YAML syntax error`));
  writeFileSync(file, CONFIG(50052));
  await eventually('fixed model', () => sink.lastPort === 50052);
  await eventually('stale cleared', () => sink.lastStatus?.stale === false);
  assert.equal(sink.lastStatus?.lastError, undefined);
});

test('a schema error in an edit is reported with its location and emits nothing', async (t) => {
  const { file, sink } = await started(t, CONFIG(50051));
  writeFileSync(file, CONFIG(50051).replace('port: 50051', 'port: 0'));
  await eventually('stale status', () => sink.lastStatus?.stale === true);
  assert.equal(
    sink.lastStatus!.lastError,
    `${file}:4:37: services[0].endpoints[0].port: expected an integer 1..65535, got 0`,
  );
  assert.equal(sink.models.length, 1);
});

test("with the whole file's schema, an edit that breaks another section is reported at its line too", async (t) => {
  const schema = composeSchema([
    ...FILE_SECTIONS,
    {
      key: 'xds',
      owner: 'test',
      field: {
        doc: 'x',
        spec: { kind: 'object', fields: { debounce: { spec: { kind: 'duration', minMs: 0 }, doc: 'd' } } },
      },
    },
  ]);
  const { file, sink } = await started(t, `${CONFIG(50051)}xds: { debounce: 1h30m }\n`, { schema });
  assert.equal(sink.lastPort, 50051);
  writeFileSync(file, `${CONFIG(50052)}xds: { debounce: 100 }\n`);
  await eventually('stale status', () => sink.lastStatus?.stale === true);
  assert.equal(
    sink.lastStatus!.lastError,
    `${file}:11:18: xds.debounce: expected a duration such as 250ms, 90s, 1h30m, 24h or 7d, got 100 (write 100ms or 100s)`,
  );
  assert.equal(sink.lastPort, 50051, 'the last good model stays');
});

test('editors that write a temp file and rename it over the config are followed', async (t) => {
  const { dir, file, sink } = await started(t, CONFIG(50051));
  for (const port of [50061, 50062]) {
    const tmp = join(dir, `.gw.yaml.${port}.tmp`);
    writeFileSync(tmp, CONFIG(port));
    renameSync(tmp, file);
    await eventually(`port ${port} after rename`, () => sink.lastPort === port);
  }
});

test('with the watch off, the poll alone still sees every change', async (t) => {
  const { file, sink } = await started(t, CONFIG(50051), { watch: false, pollIntervalMs: 100 });
  writeFileSync(file, CONFIG(50071));
  await eventually('poll sees the change', () => sink.lastPort === 50071);
});

test('a failing first load leaves synced false with the error; a later fix syncs', async (t) => {
  const { file, sink } = await started(
    t,
    'services: [ { name: a, endpoints: [ { address: 127.0.0.1, port: 99999 } ] } ]\n',
  );
  assert.equal(sink.models.length, 0);
  assert.equal(sink.lastStatus?.synced, false);
  assert.equal(sink.lastStatus?.stale, true);
  assert.match(
    sink.lastStatus!.lastError!,
    /gw\.yaml:1:65: services\[0\]\.endpoints\[0\]\.port: expected an integer 1\.\.65535, got 99999/,
  );
  writeFileSync(file, CONFIG(50051));
  await eventually('synced after fix', () => sink.lastStatus?.synced === true && sink.lastPort === 50051);
});

test('a missing config file at start is reported, and creating it syncs', async (t) => {
  const { file, sink } = await started(t, undefined);
  assert.equal(sink.lastStatus?.synced, false);
  assert.match(sink.lastStatus!.lastError!, /cannot read the config file \(ENOENT\)/);
  writeFileSync(file, CONFIG(50051));
  await eventually('synced after create', () => sink.lastStatus?.synced === true);
});

/** openssl-made key pairs: `leaf(name)` writes <name>.crt and <name>.key into `sub` (default: dir). */
function pki(dir: string) {
  const ossl = (cwd: string, ...args: string[]) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });
  ossl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  return (name: string, sub = dir): { cert: string; key: string } => {
    mkdirSync(sub, { recursive: true });
    ossl(
      sub,
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    ossl(
      sub,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      join(dir, 'ca.crt'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-days',
      '1',
      '-out',
      `${name}.crt`,
    );
    return {
      cert: readFileSync(join(sub, `${name}.crt`), 'utf8'),
      key: readFileSync(join(sub, `${name}.key`), 'utf8'),
    };
  };
}

async function withIdentity(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const leaf = pki(dir);
  const first = leaf('gw');
  writeFileSync(
    join(dir, 'gw.yaml'),
    `${CONFIG(50051)}identities:\n  - { name: gw, certFile: gw.crt, keyFile: gw.key }\n`,
  );
  const sink = new RecordingSink();
  const src = new FileSource({ path: join(dir, 'gw.yaml') });
  await src.start(sink);
  t.after(() => src.stop());
  return { dir, leaf, first, sink, src };
}

test('rewriting a referenced certificate and key reloads the identity', async (t) => {
  const { dir, leaf, first, sink } = await withIdentity(t);
  assert.equal(sink.models.at(-1)!.identities[0].certChainPem, first.cert);
  const next = leaf('next', join(dir, 'staging'));
  renameSync(join(dir, 'staging', 'next.key'), join(dir, 'gw.key'));
  renameSync(join(dir, 'staging', 'next.crt'), join(dir, 'gw.crt'));
  await eventually(
    'rotated cert reaches the sink',
    () => sink.models.at(-1)!.identities[0].certChainPem === next.cert,
    5000,
  );
  assert.equal(sink.models.at(-1)!.identities[0].privateKeyPem, next.key);
  assert.equal(sink.lastStatus?.stale, false);
});

test('a half-replaced identity (new key, old certificate) keeps the last good config until both files match', async (t) => {
  const { dir, leaf, first, sink } = await withIdentity(t);
  const next = leaf('next', join(dir, 'staging'));
  const updates = sink.models.length;
  // The key first; the certificate follows later (a rotator that renames one file at a time).
  renameSync(join(dir, 'staging', 'next.key'), join(dir, 'gw.key'));
  await eventually('the source turns stale', () => sink.lastStatus?.stale === true, 5000);
  const err = sink.lastStatus!.lastError!;
  assert.match(err, /identity "gw": certificate and key do not match/);
  assert.ok(
    err.includes(join(dir, 'gw.crt')) && err.includes(join(dir, 'gw.key')),
    `the error names both files: ${err}`,
  );
  assert.match(err, /replace both files \(write the key and certificate, then rename both into place\)/);
  assert.ok(
    !err.includes(next.key.split('\n')[1]) && !err.includes(first.key.split('\n')[1]),
    'the error quotes key material',
  );
  // An edit to the rest of the file waits too: the config is loaded as a whole.
  writeFileSync(
    join(dir, 'gw.yaml'),
    `${CONFIG(50052)}identities:\n  - { name: gw, certFile: gw.crt, keyFile: gw.key }\n`,
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sink.models.length, updates, 'a mismatched identity reached the sink');
  assert.equal(sink.models.at(-1)!.identities[0].privateKeyPem, first.key);
  // The certificate arrives: the next poll loads both, and the rest of the edit with them.
  renameSync(join(dir, 'staging', 'next.crt'), join(dir, 'gw.crt'));
  await eventually(
    'the matching pair reaches the sink',
    () => sink.models.at(-1)!.identities[0].certChainPem === next.cert,
    5000,
  );
  assert.equal(sink.models.at(-1)!.identities[0].privateKeyPem, next.key);
  assert.equal(sink.lastPort, 50052);
  assert.equal(sink.lastStatus?.stale, false);
  assert.equal(sink.lastStatus?.lastError, undefined);
});

test('an edit that does not change the model emits no update', async (t) => {
  const { file, sink, src } = await started(t, CONFIG(50051));
  writeFileSync(file, `# a comment only\n${CONFIG(50051)}`);
  src.reload(); // synchronous: the comment-only edit is processed here, not coalesced with the next one
  assert.equal(sink.models.length, 1);
  writeFileSync(file, CONFIG(50053));
  await eventually('second real change', () => sink.lastPort === 50053);
  assert.deepEqual(
    sink.models.map((m) => m.services[0].endpoints[0].port),
    [50051, 50053],
  );
});

test('a Kubernetes-style ConfigMap update (..data symlink swap) is seen by the watch alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const version = (n: number, port: number) => {
    mkdirSync(join(dir, `..v${n}`));
    writeFileSync(join(dir, `..v${n}`, 'gw.yaml'), CONFIG(port));
  };
  version(1, 50051);
  symlinkSync(`..v1`, join(dir, '..data'));
  symlinkSync('..data/gw.yaml', join(dir, 'gw.yaml'));
  const sink = new RecordingSink();
  const src = new FileSource({ path: join(dir, 'gw.yaml'), pollIntervalMs: 0 });
  await src.start(sink);
  t.after(() => src.stop());
  assert.equal(sink.lastPort, 50051);
  version(2, 50081);
  symlinkSync('..v2', join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  await eventually('swapped ConfigMap content', () => sink.lastPort === 50081);
});

test('externalReferences: a route to a service of another source loads, and the status lists what is left to others', async (t) => {
  const text = CONFIG(50051).replace(
    'backends: [{ service: echo-v1 }]',
    'backends: [{ service: echo-v1 }, { service: consul/dc1/echo }]',
  );
  const strict = await started(t, text);
  assert.equal(strict.sink.models.length, 0, 'a standalone file must resolve its own backends');
  assert.match(strict.sink.lastStatus?.lastError ?? '', /service "consul\/dc1\/echo" does not exist/);
  const { sink } = await started(t, text, { externalReferences: true });
  assert.equal(sink.models.length, 1);
  assert.deepEqual(
    sink.models[0].routes[0].backends.map((b) => b.service),
    ['echo-v1', 'consul/dc1/echo'],
  );
  assert.equal(sink.lastStatus?.stale, false);
  assert.deepEqual(sink.lastStatus?.details?.externalReferences, ['consul/dc1/echo']);
});
