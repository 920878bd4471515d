import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, type ParseOptions } from './config.ts';

const examples = new URL('../../../examples/', import.meta.url).pathname;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` as gw.yaml in a fresh temp dir and loads it; returns the file path and messages. */
function load(
  t: { after(fn: () => void): void },
  text: string,
  extra: Record<string, string> = {},
  opts: ParseOptions = {},
) {
  const dir = tempDir(t);
  const file = join(dir, 'gw.yaml');
  writeFileSync(file, text);
  for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content);
  const r = loadConfigFile(file, opts);
  return { file, dir, ...r, messages: r.errors.map((e) => e.message) };
}

const GOOD = `services:
  - name: echo-v1
    endpoints:
      - { address: 127.0.0.1, port: 50051 }
routes:
  - name: echo
    hosts: [echo]
    backends:
      - { service: echo-v1 }
listeners:
  - name: http
    port: 8080
    routes: [echo]
`;

test('the quickstart example loads into the expected model', () => {
  const r = loadConfigFile(join(examples, 'quickstart.yaml'));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.model, {
    services: [
      { name: 'echo-v1', protocol: 'grpc', source: 'file', endpoints: [{ address: '127.0.0.1', port: 50051 }] },
      {
        name: 'echo-v2',
        protocol: 'grpc',
        source: 'file',
        endpoints: [
          { address: '127.0.0.1', port: 50052, weight: 2 },
          { address: '127.0.0.1', port: 50053 },
        ],
      },
    ],
    routes: [
      {
        name: 'echo',
        hosts: ['echo'],
        match: { prefix: '/' },
        backends: [
          { service: 'echo-v1', weight: 1 },
          { service: 'echo-v2', weight: 3 },
        ],
        source: 'file',
      },
    ],
    listeners: [{ name: 'http', port: 8080, routes: ['echo'], source: 'file' }],
    identities: [],
    trustBundles: [],
  });
});

test('the mTLS example loads with real openssl-made certificates and reads them at load', (t) => {
  const dir = tempDir(t);
  copyFileSync(join(examples, 'mtls.yaml'), join(dir, 'mtls.yaml'));
  // The layout `meshgate certs issue` writes: certs/ca/ca.pem, certs/gateway/{cert,key}.pem.
  const certs = join(dir, 'certs');
  mkdirSync(join(certs, 'ca'), { recursive: true });
  mkdirSync(join(certs, 'gateway'));
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'pipe' });
  ossl(
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
    'ca/ca.pem',
  );
  ossl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=gateway',
    '-keyout',
    'gateway/key.pem',
    '-out',
    'gateway.csr',
  );
  ossl(
    'x509',
    '-req',
    '-in',
    'gateway.csr',
    '-CA',
    'ca/ca.pem',
    '-CAkey',
    'ca.key',
    '-days',
    '1',
    '-out',
    'gateway/cert.pem',
  );
  // `xds` is meshgate's own section (mTLS on the xDS port), not the file source's.
  const r = loadConfigFile(join(dir, 'mtls.yaml'), { extraTopLevelKeys: ['xds'] });
  assert.deepEqual(r.errors, []);
  const svc = r.model!.services[0];
  assert.deepEqual(svc.tls, {
    sni: 'payments.internal',
    alpn: ['h2'],
    expectedSans: [{ kind: 'uri', value: 'spiffe://example.org/ns/default/sa/payments' }],
    trustBundle: 'example/roots',
    clientIdentity: 'example/gateway',
  });
  assert.equal(svc.connectTimeoutMs, 2000);
  assert.equal(r.model!.identities[0].privateKeyPem, readFileSync(join(certs, 'gateway/key.pem'), 'utf8'));
  assert.deepEqual(r.model!.identities[0].allowedNodes, ['spiffe://example.org/ns/default/sa/gateway']);
  assert.deepEqual(r.model!.trustBundles[0].caPems, [readFileSync(join(certs, 'ca/ca.pem'), 'utf8')]);
  assert.deepEqual(r.model!.routes[0].retries, { retryOn: 'unavailable', numRetries: 2, perTryTimeoutMs: 1000 });
  assert.equal(r.model!.routes[0].timeoutMs, 3000);
  assert.deepEqual(r.files.sort(), [
    join(certs, 'ca/ca.pem'),
    join(certs, 'gateway/cert.pem'),
    join(certs, 'gateway/key.pem'),
  ]);
});

test('a syntax error names the line and column', (t) => {
  const r = load(t, 'services:\n  - name: a\n    endpoints: [ { address: 1.2.3.4, port: 1 }\n');
  assert.equal(r.model, undefined);
  assert.equal(r.errors[0].code, 'syntax');
  assert.match(r.messages[0], new RegExp(`^${r.file}:\\d+:\\d+: YAML syntax error: `));
  const dup = load(t, 'services: []\nservices: []\n');
  assert.match(dup.messages[0], new RegExp(`^${dup.file}:2:1: YAML syntax error: .*[Uu]nique`));
});

test('type and range errors name file, path, line:column and the fix', (t) => {
  const r = load(t, GOOD.replace('port: 50051', 'port: "fifty"').replace('port: 8080', 'port: 70000'));
  assert.deepEqual(r.messages, [
    `${r.file}:4:37: services[0].endpoints[0].port: expected an integer 1..65535, got "fifty"`,
    `${r.file}:12:11: listeners[0].port: expected an integer 1..65535, got 70000`,
  ]);
  assert.deepEqual(
    r.errors.map((e) => [e.code, e.path, e.line, e.col]),
    [
      ['type', 'services[0].endpoints[0].port', 4, 37],
      ['range', 'listeners[0].port', 12, 11],
    ],
  );
});

test('unknown keys are errors with a did-you-mean', (t) => {
  const r = load(
    t,
    GOOD.replace('{ address: 127.0.0.1', '{ adress: 127.0.0.1').replace(
      '    hosts: [echo]',
      '    hosts: [echo]\n    timout: 2s',
    ),
  );
  assert.equal(r.messages.length, 3, r.messages.join('\n'));
  assert.match(
    r.messages[0],
    new RegExp(`^${r.file}:4:9: services\\[0\\]\\.endpoints\\[0\\]: missing required key "address"`),
  );
  assert.match(
    r.messages[1],
    new RegExp(
      `^${r.file}:4:11: services\\[0\\]\\.endpoints\\[0\\]\\.adress: unknown key "adress"; did you mean "address"\\?`,
    ),
  );
  assert.match(
    r.messages[2],
    new RegExp(`^${r.file}:8:5: routes\\[0\\]\\.timout: unknown key "timout"; did you mean "timeout"\\?`),
  );
});

test('missing keys, bad durations, hostnames and bad enums say what to write', (t) => {
  const r = load(
    t,
    `services:
  - endpoints:
      - { address: localhost, port: 80, health: sick }
  - name: b
    connectTimeout: 5
    endpoints: []
`,
  );
  assert.deepEqual(r.messages, [
    `${r.file}:2:5: services[0]: missing required key "name" (the cluster name, and the xds:///<name> target proxyless gRPC clients can dial)`,
    `${r.file}:3:49: services[0].endpoints[0].health: expected one of healthy, unhealthy, draining, unknown, got "sick"`,
    `${r.file}:5:21: services[1].connectTimeout: expected a duration such as 250ms, 90s, 1h30m, 24h or 7d, got 5 (write 5ms or 5s)`,
  ]);
  const ip = load(t, GOOD.replace('127.0.0.1', 'localhost'));
  assert.deepEqual(ip.messages, [
    `${ip.file}:4:20: services[0].endpoints[0].address: address "localhost" is not an IP address; endpoints must be IPv4 or IPv6 addresses (e.g. 127.0.0.1 instead of localhost)`,
  ]);
});

test('dangling references are reported at the line of the offending item', (t) => {
  const r = load(
    t,
    GOOD.replace('{ service: echo-v1 }', '{ service: echo-v9 }').replace('routes: [echo]', 'routes: [echo, nope]'),
  );
  assert.deepEqual(r.messages, [
    `${r.file}:9:20: routes[0].backends[0].service: service "echo-v9" does not exist; define it or fix the name`,
    `${r.file}:13:20: listeners[0].routes[1]: route "nope" does not exist; define it or fix the name`,
  ]);
  assert.ok(r.errors.every((e) => e.code === 'reference'));
  const tls = load(
    t,
    GOOD.replace(
      '    endpoints:\n',
      '    tls: { expectedSans: [ "spiffe://td/x" ], trustBundle: roots }\n    endpoints:\n',
    ),
  );
  assert.deepEqual(tls.messages, [
    `${tls.file}:3:10: services[0].tls: trust bundle "roots" does not exist; define it or fix the name`,
  ]);
});

test('duplicate names point at the second definition and the first', (t) => {
  const r = load(t, GOOD.replace('routes:\n', '  - name: echo-v1\n    endpoints: []\nroutes:\n'));
  assert.deepEqual(r.messages, [
    `${r.file}:5:5: services[1].name: duplicate service name "echo-v1" (first defined at line 2); names must be unique`,
  ]);
});

test('secret files: unreadable or wrong content is named by path, key material never appears', (t) => {
  const secret = '-----BEGIN CERTIFICATE-----\nTOPSECRETMATERIAL\n-----END CERTIFICATE-----\n';
  const r = load(
    t,
    `${GOOD}identities:
  - name: gw
    certFile: gw.crt
    keyFile: gw.crt
trustBundles:
  - name: roots
    caFiles: [missing.crt]
`,
    { 'gw.crt': secret },
  );
  assert.deepEqual(r.messages, [
    `${r.file}:17:14: identities[0].keyFile: "${join(r.dir, 'gw.crt')}" does not contain a PEM private key; keyFile must hold the PEM private key of the certFile leaf ("-----BEGIN PRIVATE KEY-----" block)`,
    `${r.file}:20:15: trustBundles[0].caFiles[0]: cannot read certificate file "${join(r.dir, 'missing.crt')}" (ENOENT); check the path (relative paths are resolved against ${r.dir})`,
  ]);
  for (const m of r.messages) assert.ok(!m.includes('TOPSECRET'));
});

test('an empty file is an empty model', (t) => {
  const r = load(t, '# nothing yet\n');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.model, { services: [], routes: [], listeners: [], identities: [], trustBundles: [] });
});

test('a missing config file is an io error naming the path', () => {
  const r = loadConfigFile('/nonexistent/meshgate.yaml');
  assert.equal(r.errors[0].code, 'io');
  assert.match(r.errors[0].message, /^\/nonexistent\/meshgate\.yaml:1:1: cannot read the config file \(ENOENT\)/);
});

test('top-level sections owned by other components are accepted when declared, and suggested on typos', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'gw.yaml');
  writeFileSync(file, `${GOOD}xds: { port: 18000 }\nconsull: {}\n`);
  const plain = loadConfigFile(file);
  assert.equal(plain.errors.length, 2);
  const r = loadConfigFile(file, { extraTopLevelKeys: ['xds', 'consul'] });
  assert.deepEqual(
    r.errors.map((e) => e.message),
    [
      `${file}:15:1: consull: unknown key "consull"; did you mean "consul"? (allowed: services, routes, listeners, identities, trustBundles, xds, consul)`,
    ],
  );
});

const SPLIT = `services:
  - name: shop-v1
    endpoints: [{ address: 127.0.0.1, port: 50051 }]
routes:
  - name: shop
    hosts: [shop]
    backends:
      - { service: shop-v1, weight: 1 }
      - { service: consul/dc1/shop, weight: 1 }
listeners:
  - { name: http, port: 8080, routes: [shop] }
`;

test('with externalReferences, a route backend defined by another source is accepted and listed', (t) => {
  // Without the option the file alone must resolve every backend (a standalone file).
  const alone = load(t, SPLIT);
  assert.deepEqual(alone.messages, [
    `${alone.file}:9:20: routes[0].backends[1].service: service "consul/dc1/shop" does not exist; define it or fix the name`,
  ]);
  const r = load(t, SPLIT, {}, { externalReferences: true });
  assert.deepEqual(r.messages, []);
  assert.deepEqual(
    r.model?.routes[0].backends.map((b) => b.service),
    ['shop-v1', 'consul/dc1/shop'],
  );
  assert.deepEqual(r.external, [{ route: 'shop', service: 'consul/dc1/shop', line: 9, col: 20 }]);
  // The model holds only what the file defines; the merged model resolves the rest.
  assert.deepEqual(
    r.model?.services.map((s) => s.name),
    ['shop-v1'],
  );
});

test('with externalReferences, a backend name no source could define and other dangling references are still errors', (t) => {
  const bad = load(t, SPLIT.replace('consul/dc1/shop', '"consul dc1 shop"'), {}, { externalReferences: true });
  assert.equal(bad.model, undefined);
  assert.deepEqual(bad.messages, [
    `${bad.file}:9:20: routes[0].backends[1].service: invalid value "consul dc1 shop": use letters, digits and . _ : / - (at most 253 characters, starting with a letter or digit)`,
  ]);
  const listener = load(t, SPLIT.replace('routes: [shop]', 'routes: [shop, nope]'), {}, { externalReferences: true });
  assert.equal(listener.model, undefined);
  assert.deepEqual(listener.messages, [
    `${listener.file}:11:46: listeners[0].routes[1]: route "nope" does not exist; define it or fix the name`,
  ]);
  assert.deepEqual(listener.external, []);
});

/** Real key pairs and certificates from openssl: `leaf(name, days)` writes <name>.crt and <name>.key (days < 0: already expired). */
function openssl(dir: string) {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ossl(
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
  return {
    leaf(name: string, days = 1): void {
      ossl(
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
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-days',
        String(days),
        '-out',
        `${name}.crt`,
      );
    },
  };
}

const WITH_IDENTITY = (cert: string, key: string) => `${GOOD}identities:
  - name: gw
    certFile: ${cert}
    keyFile: ${key}
`;

/** Loads GOOD plus one identity whose files were made in the same directory by `make`. */
function loadIdentity(
  t: { after(fn: () => void): void },
  cert: string,
  key: string,
  make: (dir: string, pki: ReturnType<typeof openssl>) => void,
) {
  const dir = tempDir(t);
  make(dir, openssl(dir));
  const file = join(dir, 'gw.yaml');
  writeFileSync(file, WITH_IDENTITY(cert, key));
  const r = loadConfigFile(file);
  // No line of any PEM body (keys above all) may appear in a message.
  const bodies = readdirSync(dir)
    .filter((f) => /\.(crt|key)$/.test(f))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l.length >= 16 && !l.startsWith('-----')),
    );
  for (const m of r.errors.map((e) => e.message))
    for (const b of bodies) assert.ok(!m.includes(b), `a message quotes PEM content: ${m}`);
  return { dir, file, ...r, messages: r.errors.map((e) => e.message) };
}

test('identity: a certificate and key that belong together load', (t) => {
  const r = loadIdentity(t, 'gw.crt', 'gw.key', (_d, pki) => pki.leaf('gw'));
  assert.deepEqual(r.messages, []);
  assert.equal(r.model?.identities[0].name, 'gw');
});

test("identity: a key that is not the certificate's own is refused, naming both files and the fix", (t) => {
  const r = loadIdentity(t, 'gw.crt', 'other.key', (_d, pki) => {
    pki.leaf('gw');
    pki.leaf('other');
  });
  assert.equal(r.model, undefined);
  assert.deepEqual(r.messages, [
    `${r.file}:17:14: identities[0].keyFile: identity "gw": certificate and key do not match (certFile "${join(r.dir, 'gw.crt')}", keyFile "${join(r.dir, 'other.key')}"); replace both files (write the key and certificate, then rename both into place)`,
  ]);
  assert.equal(r.errors[0].code, 'file');
});

test('identity: an expired leaf is refused, naming the file and when it expired', (t) => {
  const r = loadIdentity(t, 'gw.crt', 'gw.key', (_d, pki) => pki.leaf('gw', -1));
  assert.equal(r.model, undefined);
  assert.equal(r.messages.length, 1);
  assert.match(
    r.messages[0],
    new RegExp(
      `^${r.file}:16:15: identities\\[0\\]\\.certFile: identity "gw": the certificate in "${join(r.dir, 'gw.crt')}" expired at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; write a renewed certificate and its key`,
    ),
  );
});

test('identity: a certificate file with no certificate, or an unparsable one, is named with the fix', (t) => {
  const none = loadIdentity(t, 'gw.key', 'gw.key', (_d, pki) => pki.leaf('gw'));
  assert.deepEqual(none.messages, [
    `${none.file}:16:15: identities[0].certFile: "${join(none.dir, 'gw.key')}" does not contain a PEM certificate; certFile must hold the PEM certificate chain, leaf first ("-----BEGIN CERTIFICATE-----" blocks)`,
  ]);
  const broken = loadIdentity(t, 'bad.crt', 'gw.key', (d, pki) => {
    pki.leaf('gw');
    writeFileSync(
      join(d, 'bad.crt'),
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );
  });
  assert.deepEqual(broken.messages, [
    `${broken.file}:16:15: identities[0].certFile: "${join(broken.dir, 'bad.crt')}" does not hold a valid PEM certificate (the first "-----BEGIN CERTIFICATE-----" block cannot be parsed); write the leaf certificate first, then any intermediates`,
  ]);
});

test('identity: a key file with no key, or an unusable one, is named with the fix and never quoted', (t) => {
  const none = loadIdentity(t, 'gw.crt', 'gw.crt', (_d, pki) => pki.leaf('gw'));
  assert.deepEqual(none.messages, [
    `${none.file}:17:14: identities[0].keyFile: "${join(none.dir, 'gw.crt')}" does not contain a PEM private key; keyFile must hold the PEM private key of the certFile leaf ("-----BEGIN PRIVATE KEY-----" block)`,
  ]);
  const secret = 'VE9QU0VDUkVUS0VZTUFURVJJQUw=';
  const broken = loadIdentity(t, 'gw.crt', 'bad.key', (d, pki) => {
    pki.leaf('gw');
    writeFileSync(join(d, 'bad.key'), `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`);
  });
  assert.deepEqual(broken.messages, [
    `${broken.file}:17:14: identities[0].keyFile: "${join(broken.dir, 'bad.key')}" does not hold a usable private key (cannot be parsed, or it is encrypted); write the unencrypted PEM private key (PKCS#8 "-----BEGIN PRIVATE KEY-----", or PKCS#1/SEC1)`,
  ]);
  assert.ok(!broken.messages[0].includes(secret));
});

test('identity: allowedNodes entries that can never match are errors at their line', (t) => {
  const dir = tempDir(t);
  openssl(dir).leaf('gw');
  const file = join(dir, 'gw.yaml');
  writeFileSync(
    file,
    `${WITH_IDENTITY('gw.crt', 'gw.key')}    allowedNodes: [gw-1, "dns:", "spiffe://example.org/a b", spiffe://example.org/ns/gw/sa/gw, dns:gw.example.org]\n`,
  );
  const r = loadConfigFile(file);
  assert.deepEqual(
    r.errors.map((e) => e.message),
    [
      `${file}:18:26: identities[0].allowedNodes[1]: "dns:": write the DNS SAN after dns:, e.g. dns:gateway.example.org`,
      `${file}:18:34: identities[0].allowedNodes[2]: "spiffe://example.org/a b" is not a valid URI; write the client's URI SAN, e.g. spiffe://example.org/ns/gw/sa/gateway`,
    ],
  );
  writeFileSync(
    file,
    `${WITH_IDENTITY('gw.crt', 'gw.key')}    allowedNodes: [gw-1, spiffe://example.org/ns/gw/sa/gw, dns:gw.example.org]\n`,
  );
  assert.deepEqual(loadConfigFile(file).model?.identities[0].allowedNodes, [
    'gw-1',
    'spiffe://example.org/ns/gw/sa/gw',
    'dns:gw.example.org',
  ]);
});

test('a listener may drop client-sent headers by prefix; a prefix that cannot start a header name is refused', (t) => {
  const ok = load(t, `${GOOD}    removeRequestHeaderPrefixes: [l5d-]\n`);
  assert.deepEqual(ok.messages, []);
  assert.deepEqual(ok.model?.listeners[0].removeRequestHeaderPrefixes, ['l5d-']);
  const bad = load(t, `${GOOD}    removeRequestHeaderPrefixes: ["l5d dst"]\n`);
  assert.equal(bad.messages.length, 1);
  assert.match(bad.messages[0], /gw\.yaml:11:5: listeners\[0\]: "l5d dst" is not the start of a header name/);
});
