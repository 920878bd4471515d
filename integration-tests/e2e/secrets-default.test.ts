// Secure by default: under the default settings (no xds.tls, no opt-in), a real `meshgate serve`
// gives a plaintext xDS client no private key, however it asks: Secrets by name or wildcard,
// SotW or delta, over ADS or the SDS service, as an Envoy or a gRPC node, every other type too.
// Every response is scanned as it came off the wire for the keys' PEM, DER and raw scalar. The
// refusal shows on /debug/nodes; trust bundles still flow. With
// --insecure-allow-unauthenticated-secrets the same client gets the key (the scan's control), and
// /readyz, the log and `meshgate validate` carry the warning.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { certsIssue } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess, REPO_ROOT, runCli } from '../lib/meshgate-process.ts';
import { getJson, getText } from '../lib/wait.ts';

const GW_ID = 'spiffe://example.org/ns/default/sa/gw';
const tmp = tempDir('meshgate-secrets-default-');
const p = (...parts: string[]) => join(tmp.dir, ...parts);
const FILE_IDENTITIES = ['mesh/gw', 'mesh/gw-by-node'];
const ALL_SECRETS = [...FILE_IDENTITIES, 'mesh/meshgate/gw', 'mesh/roots', 'mesh/meshgate/roots'];
let mg: MeshgateProcess;
let needles: Buffer[] = [];

/** Byte strings any encoding of a key would contain: PEM, its first base64 line, PKCS#8 DER, the raw scalar. */
function keyNeedles(pem: string): Buffer[] {
  const k = createPrivateKey(pem);
  return [
    Buffer.from(pem),
    Buffer.from(pem.split('\n')[1]),
    k.export({ type: 'pkcs8', format: 'der' }),
    Buffer.from(k.export({ format: 'jwk' }).d!, 'base64url'),
  ];
}
// Also the built-in CA's identity, whose key only meshgate's memory holds: no PEM private key of any kind.
const PEM_MARKER = Buffer.from('PRIVATE KEY-----');
const leaks = (bufs: Buffer[]) => bufs.filter((b) => b.includes(PEM_MARKER) || needles.some((n) => b.includes(n)));

function config(extra = ''): string {
  return `${extra}services:
  - name: payments
    protocol: grpc
    tls:
      sni: payments.internal
      expectedSans: [{ uri: spiffe://example.org/ns/default/sa/payments }]
      trustBundle: mesh/roots
      clientIdentity: mesh/gw
    endpoints: [{ address: 127.0.0.1, port: 50061 }]
routes:
  - name: payments
    hosts: [payments]
    backends: [{ service: payments }]
listeners:
  - name: https
    port: 8443
    routes: [payments]
identities:
  - { name: mesh/gw, certFile: gw/cert.pem, keyFile: gw/key.pem }
  # A plain node id is self-declared: it admits no one without a verified certificate.
  - { name: mesh/gw-by-node, certFile: gw/cert.pem, keyFile: gw/key.pem, allowedNodes: [plain-envoy-sotw-ads] }
trustBundles:
  - { name: mesh/roots, caFiles: [gw/ca.pem] }
certs:
  dir: builtin-ca
  identities:
    - { name: mesh/meshgate/gw, spiffe: ${GW_ID}, ttl: 1h }
`;
}

before(async () => {
  await certsIssue({ spiffe: GW_ID, ca: p('ca'), out: p('gw'), ttl: '1h' });
  needles = keyNeedles(readFileSync(p('gw', 'key.pem'), 'utf8'));
  writeAtomic(p('meshgate.yaml'), config());
  mg = new MeshgateProcess(p('meshgate.yaml'), ['--xds-address', '127.0.0.1']);
  await mg.start();
  await mg.waitReady();
});

after(async () => {
  await mg?.stop();
  tmp.cleanup();
});

interface Probe {
  client: AdsClient;
  wire: Buffer[];
}

const SDS = '/envoy.service.secret.v3.SecretDiscoveryService';

/** A plaintext client asking for everything of every type (ADS) or every Secret (SDS service). */
async function probe(
  port: number,
  id: string,
  mode: 'sotw' | 'delta',
  profile: 'envoy' | 'grpc',
  via: 'ads' | 'sds',
): Promise<Probe> {
  const wire: Buffer[] = [];
  const client = await AdsClient.connect({
    address: `127.0.0.1:${port}`,
    node: { id, cluster: 'e2e', user_agent_name: profile === 'envoy' ? 'envoy' : 'grpc-node-js' },
    mode,
    ...(via === 'sds' ? { method: `${SDS}/${mode === 'delta' ? 'Delta' : 'Stream'}Secrets` } : {}),
    onWire: (b) => wire.push(b),
  });
  if (via === 'ads')
    for (const t of [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]) client.subscribe(t, ['*']);
  // By name and by wildcard in one subscription: every Secret meshgate has, plus anything else it might hold.
  client.subscribe(TYPE.secret, [...ALL_SECRETS, '*']);
  return { client, wire };
}

/** Reads every response, until no response of any type arrives for 1 s. */
async function settle(c: AdsClient): Promise<void> {
  const types = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route, TYPE.secret];
  for (;;) {
    for (const t of types) while (c.pending(t)) await c.next(t, 1000);
    if ((await Promise.all(types.map((t) => c.quiet(t, 1000)))).every(Boolean)) return;
  }
}

type NodeView = { id: string; refusedSecrets?: Array<{ name: string; reason: string; since: string }> };
async function debugNodes(m: MeshgateProcess): Promise<NodeView[]> {
  return (await getJson(`${m.adminUrl}/debug/nodes`)).body.nodes as NodeView[];
}

test('default settings: no plaintext client gets a private key, however it asks; the refusal shows on /debug/nodes', async () => {
  const probes: Array<Probe & { id: string; profile: string }> = [];
  try {
    for (const mode of ['sotw', 'delta'] as const)
      for (const profile of ['envoy', 'grpc'] as const)
        for (const via of ['ads', 'sds'] as const) {
          const id = `plain-${profile}-${mode}-${via}`;
          probes.push({ ...(await probe(mg.xdsPort, id, mode, profile, via)), id, profile });
        }
    for (const pr of probes) await settle(pr.client);
    const all = probes.flatMap((pr) => pr.wire);
    assert.ok(all.length >= probes.length, `every probe was answered (${all.length} responses)`);
    assert.equal(leaks(all).length, 0, 'a response carried a private key');

    // Trust bundles still reach Envoy nodes (the grpc profile has no Secrets at all); no identity does.
    for (const pr of probes) {
      const held = [...pr.client.held(TYPE.secret).keys()].sort();
      assert.deepEqual(held, pr.profile === 'envoy' ? ['mesh/meshgate/roots', 'mesh/roots'] : [], pr.id);
    }
    const envoyAds = probes.find((pr) => pr.id === 'plain-envoy-delta-ads')!.client;
    assert.ok(envoyAds.held(TYPE.cluster).has('payments'), 'the Envoy node got its clusters: the stream works');

    const nodes = await debugNodes(mg);
    for (const pr of probes.filter((x) => x.profile === 'envoy')) {
      const n = nodes.find((x) => x.id === pr.id);
      assert.deepEqual(
        n?.refusedSecrets?.map((r) => r.name),
        ['mesh/gw', 'mesh/gw-by-node', 'mesh/meshgate/gw'],
        `${pr.id}: ${JSON.stringify(n)}`,
      );
      for (const r of n!.refusedSecrets!)
        assert.match(r.reason, /no verified client certificate \(xds\.tls is not set\); configure xds\.tls/);
    }
    const page = (await getText(`${mg.adminUrl}/debug/nodes`)).body;
    assert.equal(leaks([Buffer.from(page)]).length, 0, '/debug/nodes shows no key');
    assert.doesNotMatch(page, /BEGIN CERTIFICATE/, 'a refusal names the Secret, not its content');
  } finally {
    for (const pr of probes) pr.client.close();
  }
  const logs = mg.logs(200_000);
  // Once per node and Secret, whatever the number of requests and responses.
  const withheld = logs.split('\n').filter((l) => l.includes('secret withheld') && l.includes('plain-envoy-sotw-ads'));
  assert.equal(withheld.length, 3, withheld.join('\n'));
  assert.equal(leaks([Buffer.from(logs)]).length, 0, 'the log shows no key');
  assert.match(logs, /hold private keys, and the xDS port does not authenticate clients/);
  const ready = (await getJson(`${mg.adminUrl}/readyz`)).body;
  assert.equal(ready.ready, true);
  assert.equal(ready.secrets.insecureAllowUnauthenticatedSecrets, false);
  assert.match(ready.secrets.warnings.join('\n'), /no node gets them over SDS/);
});

test('--insecure-allow-unauthenticated-secrets serves the key to the same client, with the warning on /readyz and in the log', async () => {
  const insecure = new MeshgateProcess(p('meshgate.yaml'), [
    '--xds-address',
    '127.0.0.1',
    '--insecure-allow-unauthenticated-secrets',
  ]);
  try {
    await insecure.start();
    await insecure.waitReady();
    const pr = await probe(insecure.xdsPort, 'dev-envoy', 'delta', 'envoy', 'ads');
    try {
      await settle(pr.client);
      const s = pr.client.held(TYPE.secret).get('mesh/gw')?.object as any;
      const chain = s?.tls_certificate?.certificate_chain?.inline_string;
      const key = s?.tls_certificate?.private_key?.inline_string;
      assert.ok(
        chain && key,
        `the opt-in serves mesh/gw with its key: ${JSON.stringify([...pr.client.held(TYPE.secret).keys()])}`,
      );
      assert.ok(new X509Certificate(chain).checkPrivateKey(createPrivateKey(key)));
      assert.ok(leaks(pr.wire).length > 0, 'the scan finds the key it let through (control for the test above)');
      // A plain node id still only filters what clients declare: mesh/gw-by-node names another node.
      assert.ok(!pr.client.held(TYPE.secret).has('mesh/gw-by-node'));
    } finally {
      pr.client.close();
    }
    const ready = (await getJson(`${insecure.adminUrl}/readyz`)).body;
    assert.equal(ready.secrets.insecureAllowUnauthenticatedSecrets, true);
    assert.equal(ready.secrets.clientAuthentication, 'none');
    const w = ready.secrets.warnings.find((x: string) => x.startsWith('xds.insecureAllowUnauthenticatedSecrets is on'));
    assert.match(w, /any process that can reach the xDS port can fetch the private key/);
    assert.match(w, /configure xds\.tls .*allowedNodes: \[spiffe:\/\/\.\.\.\]/);
    assert.match(insecure.logs(200_000), /"level":"?(40|warn)"?.*xds\.insecureAllowUnauthenticatedSecrets is on/);
  } finally {
    await insecure.stop();
  }
});

test('meshgate validate warns about the opt-in, and about identities no node can get without xds.tls', async () => {
  writeAtomic(p('dev.yaml'), config('xds:\n  insecureAllowUnauthenticatedSecrets: true\n'));
  const dev = await runCli(['validate', '--config', p('dev.yaml')]);
  assert.equal(dev.code, 0, dev.stderr);
  assert.match(dev.stdout, /^ok: /m);
  assert.match(
    dev.stderr,
    /^warning: .*dev\.yaml: xds\.insecureAllowUnauthenticatedSecrets is on: any process that can reach the xDS port/m,
  );
  const plain = await runCli(['validate', '--config', p('meshgate.yaml')]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(
    plain.stderr,
    /^warning: .*: identities \["mesh\/gw","mesh\/gw-by-node","mesh\/meshgate\/gw"\] hold private keys, and the xDS port does not authenticate clients/m,
  );
  assert.doesNotMatch(plain.stderr, /insecureAllowUnauthenticatedSecrets is on/);
});

test('examples/mtls.yaml, set up as its header says, serves the identity over xDS mTLS to the gateway only', async () => {
  const dir = p('example');
  mkdirSync(dir);
  copyFileSync(join(REPO_ROOT, 'examples/mtls.yaml'), join(dir, 'mtls.yaml'));
  // The commands exactly as documented, with examples/ moved to this test's directory.
  const steps = readFileSync(join(dir, 'mtls.yaml'), 'utf8')
    .split('\n')
    .filter((l) => /^#\s+npx meshgate (certs issue|bootstrap) /.test(l))
    .map((l) =>
      l
        .replace(/^#\s+npx meshgate /, '')
        .replace(/ > .*$/, '')
        .replaceAll('examples/', `${dir}/`)
        .split(/\s+/),
    );
  assert.equal(steps.length, 3, 'two certs issue steps and a bootstrap step');
  let bootstrap = '';
  for (const args of steps) {
    const r = await runCli(args);
    assert.equal(r.code, 0, `meshgate ${args.join(' ')}: ${r.stderr}`);
    if (args[0] === 'bootstrap') bootstrap = r.stdout;
  }
  assert.match(
    bootstrap,
    new RegExp(`${dir}/certs/gateway/key\\.pem`),
    'Envoy dials meshgate with the gateway certificate',
  );
  const v = await runCli(['validate', '--config', join(dir, 'mtls.yaml')]);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stderr, '', 'the documented setup draws no warning');
  await certsIssue({
    spiffe: 'spiffe://example.org/ns/default/sa/other',
    ca: join(dir, 'certs/ca'),
    out: join(dir, 'certs/other'),
  });

  const ex = new MeshgateProcess(join(dir, 'mtls.yaml'), ['--xds-address', '127.0.0.1']);
  try {
    await ex.start();
    await ex.waitReady();
    const fetchAs = async (who: string) => {
      const f = (n: string) => readFileSync(join(dir, 'certs', who, n));
      const c = await AdsClient.connect({
        address: `localhost:${ex.xdsPort}`,
        node: { id: `${who}-node`, user_agent_name: 'envoy' },
        credentials: grpc.credentials.createSsl(f('ca.pem'), f('key.pem'), f('cert.pem')),
      });
      try {
        c.subscribe(TYPE.secret, ['example/gateway', 'example/roots']);
        await settle(c);
        return c.held(TYPE.secret);
      } finally {
        c.close();
      }
    };
    const gw = await fetchAs('gateway');
    const s = gw.get('example/gateway')?.object as any;
    assert.ok(
      s?.tls_certificate?.private_key?.inline_string,
      `the gateway gets its identity: ${JSON.stringify([...gw.keys()])}`,
    );
    assert.deepEqual([...(await fetchAs('other')).keys()], ['example/roots'], 'another client of the same CA does not');
  } finally {
    await ex.stop();
  }
});
