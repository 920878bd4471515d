import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InvalidConfigError, loadSettings, readSettings } from './config.ts';
import { withConfigFile } from './test-support.ts';

test('defaults: xDS on 0.0.0.0:18000, admin on 127.0.0.1:19000, 100 ms quiet / 1 s max debounce', () => {
  withConfigFile('services: []\n', (f) => {
    const s = loadSettings(f, {}, {});
    assert.deepEqual(
      { ...s.xds },
      {
        port: 18000,
        address: '0.0.0.0',
        debounceMs: 100,
        maxDelayMs: 1000,
        nackRetentionMs: 300_000,
        maxRequestBytes: 4 * 1024 * 1024,
        stalledStreamMs: 60_000,
        maxConnections: 10_000,
        maxStreamsPerConnection: 1000,
        insecureAllowUnauthenticatedSecrets: false,
      },
    );
    assert.deepEqual(s.admin, { port: 19000, address: '127.0.0.1' });
    assert.equal(s.logLevel, 'info');
  });
});

test('precedence: flags over env over file', () => {
  withConfigFile(
    'xds: { port: 1000, debounce: 250ms, nackRetention: 90s, maxRequestBytes: 65536, stalledStreamTimeout: 5s, maxConnections: 50, maxStreamsPerConnection: 8, tls: { certFile: c.pem, keyFile: k.pem, caFile: ca.pem } }\nadmin: { port: 2000 }\nlogging: { level: warn }\n',
    (f) => {
      const fileOnly = loadSettings(f, {}, {});
      assert.equal(fileOnly.xds.port, 1000);
      assert.equal(fileOnly.xds.debounceMs, 250);
      assert.equal(fileOnly.xds.nackRetentionMs, 90_000);
      assert.deepEqual([fileOnly.xds.maxRequestBytes, fileOnly.xds.stalledStreamMs], [65536, 5000]);
      assert.deepEqual([fileOnly.xds.maxConnections, fileOnly.xds.maxStreamsPerConnection], [50, 8]);
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
  withConfigFile('services: []\nxds:\n  port: lots\n', (f) => {
    assert.throws(
      () => loadSettings(f, {}, {}),
      new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:9: xds\\.port: .*port number`),
    );
  });
  withConfigFile('admin:\n  prot: 1\n', (f) => {
    assert.throws(
      () => loadSettings(f, {}, {}),
      /:2:3: admin\.prot: unknown key "prot"; did you mean "port"\? \(allowed: port, address\)/,
    );
  });
  withConfigFile('services: []\n', (f) => {
    assert.throws(
      () => loadSettings(f, {}, { MESHGATE_XDS_PORT: 'x' }),
      /environment variable MESHGATE_XDS_PORT must be a port/,
    );
  });
  assert.throws(
    () => loadSettings('/nonexistent/m.yaml'),
    /\/nonexistent\/m\.yaml:1:1: cannot read the config file \(ENOENT\); check the path \(--config\)/,
  );
});

test('every section is checked against the one schema, every problem located at once', () => {
  const text = [
    'services:', //                                         1
    '  - name: web', //                                     2
    '    endpoints: [{ address: 127.0.0.1, port: 0 }]', //   3
    'xds:', //                                              4
    '  debounce: 2s', //                                    5
    '  maxDelay: 1s', //                                    6
    'certs:', //                                            7
    '  dir: ca', //                                         8
    '  identities:', //                                     9
    '    - { name: gw, spiffe: "spiffe://example.org/gw", keyType: ed25519 }', // 10
    'consul:', //                                           11
    '  token: s3cr3t-token', //                             12
    '  tls: { certFile: c.pem }', //                        13
    'kubernetes: { pods: maybe }', //                       14
    '',
  ].join('\n');
  withConfigFile(text, (f) => {
    const r = readSettings(f, {}, {});
    assert.deepEqual(
      r.errors.map((e) => e.message.replace(`${f}:`, '')),
      [
        '3:45: services[0].endpoints[0].port: expected an integer 1..65535, got 0',
        '6:13: xds.maxDelay: xds.maxDelay (1000ms) is shorter than xds.debounce (2000ms); make maxDelay at least as long as debounce',
        '10:63: certs.identities[0].keyType: expected one of ec-p256, rsa-2048, got "ed25519"',
        '12:3: consul.token: an inline ACL token is not accepted in config files; put it in a file (tokenFile) or an environment variable (tokenEnv)',
        '13:8: consul.tls: certFile and keyFile go together: set both or neither',
        '14:13: kubernetes.pods: must be true or false',
      ],
    );
    assert.ok(!r.errors.some((e) => e.message.includes('s3cr3t')), 'a refused token is never echoed');
    // serve stops on meshgate's own sections only; the model's and unknown keys are the file source's to report.
    assert.throws(
      () => loadSettings(f, {}, {}),
      (e: unknown) =>
        e instanceof InvalidConfigError &&
        e.problems.map((p) => p.path).join() ===
          'xds.maxDelay,certs.identities[0].keyType,consul.token,consul.tls,kubernetes.pods',
    );
  });
});

test('a broken model section does not stop serve: its settings are read, the file source reports it', () => {
  withConfigFile(
    'services:\n  - name: web\n    endpoints: [{ address: localhost, port: 0 }]\nxds: { port: 1234 }\n',
    (f) => {
      assert.equal(loadSettings(f, {}, {}).xds.port, 1234);
    },
  );
});

test('xds.insecureAllowUnauthenticatedSecrets: off by default, on from the file or the flag, refused unless boolean', () => {
  withConfigFile('xds: { port: 1000 }\n', (f) => {
    assert.equal(loadSettings(f, {}, {}).xds.insecureAllowUnauthenticatedSecrets, false);
    assert.equal(
      loadSettings(f, { insecureAllowUnauthenticatedSecrets: true }, {}).xds.insecureAllowUnauthenticatedSecrets,
      true,
    );
  });
  withConfigFile('xds:\n  insecureAllowUnauthenticatedSecrets: true\n', (f) => {
    assert.equal(loadSettings(f, {}, {}).xds.insecureAllowUnauthenticatedSecrets, true);
  });
  withConfigFile('xds:\n  insecureAllowUnauthenticatedSecrets: "yes"\n', (f) => {
    assert.throws(
      () => loadSettings(f, {}, {}),
      /m\.yaml:2:\d+: xds\.insecureAllowUnauthenticatedSecrets: expected true or false, got "yes"; leave it out/,
    );
  });
});
