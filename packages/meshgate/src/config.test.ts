import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from './config.ts';

function withFile(text: string, fn: (file: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-config-'));
  try {
    const file = join(dir, 'm.yaml');
    writeFileSync(file, text);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults: xDS on 0.0.0.0:18000, admin on 127.0.0.1:19000, 100 ms quiet / 1 s max debounce', () => {
  withFile('services: []\n', (f) => {
    const s = loadSettings(f, {}, {});
    assert.deepEqual(
      { ...s.xds },
      {
        port: 18000,
        address: '0.0.0.0',
        debounceMs: 100,
        maxDelayMs: 1000,
        insecureAllowUnauthenticatedSecrets: false,
      },
    );
    assert.deepEqual(s.admin, { port: 19000, address: '127.0.0.1' });
    assert.equal(s.logLevel, 'info');
  });
});

test('precedence: flags over env over file', () => {
  withFile(
    'xds: { port: 1000, debounce: 250ms, tls: { certFile: c.pem, keyFile: k.pem, caFile: ca.pem } }\nadmin: { port: 2000 }\nlogging: { level: warn }\n',
    (f) => {
      const fileOnly = loadSettings(f, {}, {});
      assert.equal(fileOnly.xds.port, 1000);
      assert.equal(fileOnly.xds.debounceMs, 250);
      assert.equal(fileOnly.xds.tls?.certFile, join(f, '..', 'c.pem'));
      assert.equal(fileOnly.logLevel, 'warn');
      const env = { MESHGATE_XDS_PORT: '3000', MESHGATE_ADMIN_PORT: '4000' };
      assert.deepEqual([loadSettings(f, {}, env).xds.port, loadSettings(f, {}, env).admin.port], [3000, 4000]);
      const flags = loadSettings(f, { xdsPort: 5000, adminPort: 6000, logLevel: 'debug' }, env);
      assert.deepEqual([flags.xds.port, flags.admin.port, flags.logLevel], [5000, 6000, 'debug']);
    },
  );
});

test('mistakes in meshgate sections name file:line:col and the key', () => {
  withFile('services: []\nxds:\n  port: lots\n', (f) => {
    assert.throws(
      () => loadSettings(f, {}, {}),
      new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:9: xds\\.port: .*port number`),
    );
  });
  withFile('admin:\n  prot: 1\n', (f) => {
    assert.throws(() => loadSettings(f, {}, {}), /:2:3: admin\.prot: unknown key; valid keys are port, address/);
  });
  withFile('services: []\n', (f) => {
    assert.throws(
      () => loadSettings(f, {}, { MESHGATE_XDS_PORT: 'x' }),
      /environment variable MESHGATE_XDS_PORT must be a port/,
    );
  });
  assert.throws(() => loadSettings('/nonexistent/m.yaml'), /cannot read config file \/nonexistent\/m\.yaml: ENOENT/);
});

test('xds.insecureAllowUnauthenticatedSecrets: off by default, on from the file or the flag, refused unless boolean', () => {
  withFile('xds: { port: 1000 }\n', (f) => {
    assert.equal(loadSettings(f, {}, {}).xds.insecureAllowUnauthenticatedSecrets, false);
    assert.equal(
      loadSettings(f, { insecureAllowUnauthenticatedSecrets: true }, {}).xds.insecureAllowUnauthenticatedSecrets,
      true,
    );
  });
  withFile('xds:\n  insecureAllowUnauthenticatedSecrets: true\n', (f) => {
    assert.equal(loadSettings(f, {}, {}).xds.insecureAllowUnauthenticatedSecrets, true);
  });
  withFile('xds:\n  insecureAllowUnauthenticatedSecrets: "yes"\n', (f) => {
    assert.throws(
      () => loadSettings(f, {}, {}),
      /m\.yaml:2:\d+: xds\.insecureAllowUnauthenticatedSecrets: must be true or false, got "yes"; leave it out/,
    );
  });
});
