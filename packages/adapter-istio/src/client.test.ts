// The client's own failure paths that need no istiod: a closed port, a token file that is missing or empty, and
// the redaction every foreign message passes through. The refusals only istiod can give are in the istio suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '@meshgate/certs';
import { IstioCaClient } from './ca-client.ts';
import { IstioError, redact } from './errors.ts';
import { fileTokenSource } from './token.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiaXN0aW8tY2EiXX0.c2lnbmF0dXJlLWJ5dGVz';

test('redact removes the token, and any JWT-shaped text, from foreign messages', () => {
  assert.equal(redact(`bad token ${JWT} here`, [JWT]), 'bad token <redacted> here');
  assert.equal(redact(`echoed ${JWT.slice(0, 60)}`, []), 'echoed <redacted>');
  assert.equal(redact('request authenticate failure', [JWT]), 'request authenticate failure');
});

test('fileTokenSource: reads the projected token at each use; a missing or empty file is a clear error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-istio-token-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'istio-token');
  const src = fileTokenSource(file);
  await assert.rejects(
    src(),
    (e: unknown) =>
      e instanceof IstioError &&
      e.code === 'TOKEN_UNAVAILABLE' &&
      /ENOENT/.test(e.message) &&
      /audience istio-ca/.test(e.message),
  );
  await writeFile(file, '\n');
  await assert.rejects(src(), /is empty/);
  await writeFile(file, `${JWT}\n`);
  assert.equal(await src(), JWT);
  await writeFile(file, 'rotated-by-kubelet');
  assert.equal(await src(), 'rotated-by-kubelet');
});

test('an address where nothing listens is CA_UNREACHABLE, naming the address and not the token', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const ca = await CertificateAuthority.createInMemory();
  const c = new IstioCaClient({
    address: `127.0.0.1:${port}`,
    roots: ca.bundlePem,
    token: async () => JWT,
    namespace: 'gw',
    serviceAccount: 'meshgate',
    timeoutMs: 3000,
  });
  try {
    await assert.rejects(c.obtain(), (e: unknown) => {
      assert.ok(e instanceof IstioError);
      assert.equal(e.code, 'CA_UNREACHABLE', e.message);
      assert.match(e.message, new RegExp(`istiod at 127\\.0\\.0\\.1:${port} is not reachable`));
      assert.ok(!e.message.includes(JWT));
      return true;
    });
  } finally {
    c.close();
  }
});

test('a bad identity or root is refused before anything is sent', async () => {
  assert.throws(
    () => new IstioCaClient({ roots: '', token: async () => JWT, namespace: 'Not/A/Namespace', serviceAccount: 'x' }),
    /namespace/,
  );
  const c = new IstioCaClient({
    roots: 'not pem',
    token: async () => assert.fail('no token may be read'),
    namespace: 'gw',
    serviceAccount: 'sa',
  });
  await assert.rejects(c.obtain(), (e: unknown) => e instanceof IstioError && e.code === 'ROOT_INVALID');
  c.close();
});
