// Proxyless mTLS end to end, with certificate rotation: a real `meshgate serve` reads identities and
// trust bundles from files a RotationManager rewrites every ~3 s (6 s TTL, renewAt 0.5); a
// grpc-js-xds client (certificate-provider instances named as in the model, gRFC A29) calls a
// grpc-js backend that requires a client certificate from the mesh CA and authorizes the caller's
// SPIFFE ID. An Envoy-profile ADS client on the same meshgate watches the Secret change under its
// stable name while clusters and listeners stay put (docs/architecture.md, rules 9 and 11).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import type { AdsResponse } from '@meshgate/xds-core/testing';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { freePort, getJson, getText, waitFor } from '../lib/wait.ts';
import { startMtlsBackend } from '../lib/mtls-backend.ts';
import type { MtlsBackend } from '../lib/mtls-backend.ts';
import { MtlsClientProcess, identityProvider, rootsProvider } from '../lib/mtls-client.ts';
import type { MtlsOutcome } from '../lib/mtls-client.ts';
import { RotatingIdentity, issueTo, leafFiles, newCa } from '../lib/mtls-pki.ts';

const GW_ID = 'spiffe://example.org/ns/default/sa/gw';
const BACKEND_ID = 'spiffe://example.org/ns/default/sa/backend';
const GW_TTL_MS = 6000;
const UNAVAILABLE = 14; // grpc status code

const tmp = tempDir('meshgate-mtls-');
const p = (...parts: string[]) => join(tmp.dir, ...parts);
let gw: RotatingIdentity;
let backend: MtlsBackend;
/** Trusts only the other CA for client certificates: the control that the stranger identity itself works. */
let strangersHome: MtlsBackend;
let mg: MeshgateProcess;
let client: MtlsClientProcess;
let tornNext: { keyPem: string };

function tlsFor(sanUri: string, identity: string): string {
  return `    tls:
      sni: backend.internal
      expectedSans: [{ uri: ${sanUri} }]
      trustBundle: mesh/roots
      clientIdentity: ${identity}`;
}

before(async () => {
  const ca = await newCa('mesh-ca');
  const other = await newCa('stranger-ca');
  const backendCert = await issueTo(ca, p('backend'), BACKEND_ID);
  // Same SPIFFE ID as the gateway, another CA: only the issuer differs.
  await issueTo(other, p('stranger'), GW_ID);
  await issueTo(ca, p('torn'), GW_ID);
  tornNext = await ca.issue({ spiffe: GW_ID, ttlMs: 3_600_000 });
  gw = new RotatingIdentity(ca, p('gw'), GW_ID, GW_TTL_MS);
  await gw.start();
  // Connections live 1.5 s, so the client handshakes again (with whatever cert it holds) several times per rotation.
  backend = await startMtlsBackend({
    name: 'backend',
    caPem: ca.bundlePem,
    certChainPem: backendCert.chainPem,
    keyPem: backendCert.keyPem,
    allowedCaller: GW_ID,
    maxConnectionAgeMs: 1500,
  });
  strangersHome = await startMtlsBackend({
    name: 'strangers-home',
    caPem: other.bundlePem,
    certChainPem: backendCert.chainPem,
    keyPem: backendCert.keyPem,
    allowedCaller: GW_ID,
  });
  const ep = `    endpoints: [{ address: 127.0.0.1, port: ${backend.port} }]`;
  writeAtomic(
    p('meshgate.yaml'),
    `services:
  - name: backend
    protocol: grpc
${tlsFor(BACKEND_ID, 'mesh/gw')}
${ep}
  - name: backend-wrong-san
    protocol: grpc
${tlsFor('spiffe://example.org/ns/default/sa/impostor', 'mesh/gw')}
${ep}
  - name: backend-stranger
    protocol: grpc
${tlsFor(BACKEND_ID, 'mesh/stranger')}
${ep}
  - name: strangers-home
    protocol: grpc
${tlsFor(BACKEND_ID, 'mesh/stranger')}
    endpoints: [{ address: 127.0.0.1, port: ${strangersHome.port} }]
routes:
  - name: backend
    hosts: [gateway.example]
    backends: [{ service: backend }]
listeners:
  - name: ingress
    port: 10443
    routes: [backend]
identities:
  - { name: mesh/gw, certFile: gw/cert.pem, keyFile: gw/key.pem }
  - { name: mesh/stranger, certFile: stranger/cert.pem, keyFile: stranger/key.pem }
  - { name: mesh/torn, certFile: torn/cert.pem, keyFile: torn/key.pem }
trustBundles:
  - { name: mesh/roots, caFiles: [gw/ca.pem] }
`,
  );
  // The grpc-js-xds client can only dial xDS in plaintext (it reads its certificates from files), and the
  // Envoy-profile checks below are about rotation, not about who may fetch a key (xds-port-mtls.test.ts is):
  // so this meshgate opts in to serving keys to unauthenticated clients, as a local development setup would.
  mg = new MeshgateProcess(p('meshgate.yaml'), [
    '--xds-address',
    '127.0.0.1',
    '--insecure-allow-unauthenticated-secrets',
  ]);
  mg.xdsPort = await freePort();
  // Spawned before meshgate starts: loading grpc-js-xds takes seconds on a busy machine. It dials only on the first call.
  client = new MtlsClientProcess(mg.xdsPort, 'gw-grpc', {
    'mesh/gw': identityProvider(gw.files),
    'mesh/stranger': identityProvider(leafFiles(p('stranger'))),
    'mesh/roots': rootsProvider(gw.files.ca),
  });
  await mg.start();
  await mg.waitReady();
});

after(async () => {
  await client?.close();
  await mg?.stop();
  gw?.stop();
  await backend?.close();
  await strangersHome?.close();
  tmp.cleanup();
});

/** Per xDS type, the last push meshgate made to the gRPC client node (from /debug/nodes). */
async function grpcNodePushes(): Promise<Record<string, string>> {
  const nodes = (await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as Array<{
    id: string;
    types: Array<{ type: string; lastSentVersion?: string; lastSentAt?: string }>;
  }>;
  const n = nodes.find((x) => x.id === 'gw-grpc');
  assert.ok(n, `node gw-grpc is connected: ${JSON.stringify(nodes.map((x) => x.id))}`);
  const pushes = Object.fromEntries(n.types.map((t) => [t.type, `${t.lastSentVersion} at ${t.lastSentAt}`]));
  assert.ok(pushes.CDS && pushes.LDS, `the gRPC client holds clusters and listeners: ${JSON.stringify(pushes)}`);
  return pushes;
}

function describeFailures(outcomes: MtlsOutcome[]): string {
  const bad = outcomes.filter((o) => !o.ok);
  return `${bad.length}/${outcomes.length} failed, e.g. ${JSON.stringify(bad.slice(0, 5))}`;
}

test('mTLS calls through meshgate keep succeeding across three client certificate rotations', async () => {
  // First success: xDS delivered, both certificate providers read, handshake and authorization passed.
  await waitFor(
    async () => (await client.calls('xds:///backend', 1, 3000))[0].ok,
    'a first successful mTLS call',
    20_000,
    250,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n--- client ---\n${client.logs()}\n--- meshgate ---\n${mg.logs()}`);
  });
  const pushesBefore = await grpcNodePushes();
  const callsBefore = backend.calls.length;
  const rotationsBefore = gw.rotations;
  await client.start('xds:///backend', 50, 5000);
  let outcomes: MtlsOutcome[] = [];
  try {
    // Three renewals after the certificate in use when the loop started, each seen by the server.
    await waitFor(
      () =>
        new Set(backend.calls.slice(callsBefore).map((c) => c.serial)).size >= 4 && gw.rotations >= rotationsBefore + 3,
      'four client certificates seen by the backend',
      45_000,
      200,
    );
  } finally {
    outcomes = await client.stop('xds:///backend');
  }
  const seen = backend.calls.slice(callsBefore);
  const serials = [...new Set(seen.map((c) => c.serial))];
  assert.equal(outcomes.filter((o) => !o.ok).length, 0, describeFailures(outcomes));
  assert.ok(outcomes.every((o) => o.server === 'backend'));
  assert.equal(seen.length, outcomes.length, 'every call reached the backend handler exactly once');
  assert.ok(
    seen.every((c) => c.allowed && c.spiffe === GW_ID),
    `every call carried the gateway identity: ${JSON.stringify(seen.filter((c) => !c.allowed).slice(0, 3))}`,
  );
  assert.ok(serials.length >= 4, `distinct client certificates seen: ${serials.length}`);
  for (const s of serials) assert.ok(gw.serials.includes(s as string), `serial ${s} is one the rotation wrote`);
  assert.deepEqual(gw.errors, [], 'no renewal failed');
  // The gRPC client reads its certificates from files: meshgate has nothing to push to it for a rotation.
  assert.deepEqual(await grpcNodePushes(), pushesBefore, 'meshgate pushed to the gRPC client during rotations');
  console.log(
    `# ${outcomes.length} calls, 0 failed; ${serials.length} client certificates seen by the backend; ${gw.rotations - rotationsBefore} rotations during the run (${gw.rotations} in all)`,
  );
});

test('the client refuses a backend whose certificate does not carry the expected SPIFFE ID', async () => {
  const n = backend.calls.length;
  const outcomes = await client.calls('xds:///backend-wrong-san', 3, 3000);
  assert.ok(
    outcomes.every((o) => !o.ok && o.code === UNAVAILABLE && /subject alternative name/i.test(o.error ?? '')),
    `expected UNAVAILABLE naming the SAN mismatch: ${JSON.stringify(outcomes)}`,
  );
  assert.equal(backend.calls.length, n, 'no call reached the backend');
});

test('the backend refuses a client certificate from another CA', async () => {
  const n = backend.calls.length;
  const outcomes = await client.calls('xds:///backend-stranger', 3, 3000);
  // The client's side of the handshake went through (no SAN or credential-loading error): the backend hung up.
  assert.ok(
    outcomes.every(
      (o) => !o.ok && o.code === UNAVAILABLE && !/subject alternative name|load credentials/i.test(o.error ?? ''),
    ),
    `expected UNAVAILABLE from a refused handshake: ${JSON.stringify(outcomes)}`,
  );
  assert.equal(backend.calls.length, n, 'no call reached the backend');
  // Controls: the stranger certificate is accepted where its CA is trusted, and the mesh identity still works here.
  const home = await client.calls('xds:///strangers-home', 1, 3000);
  assert.ok(
    home[0].ok && strangersHome.calls.at(-1)?.spiffe === GW_ID,
    `a backend trusting the other CA accepts the same client identity: ${JSON.stringify(home)}`,
  );
  const ok = await client.calls('xds:///backend', 1, 3000);
  assert.ok(ok[0].ok, JSON.stringify(ok));
});

function secretCert(r: AdsResponse, name: string): { serial: string; san: string; keyMatches: boolean } | undefined {
  const s = r.resources.find((x) => x.name === name)?.object as any;
  const chain = s?.tls_certificate?.certificate_chain?.inline_string as string | undefined;
  const key = s?.tls_certificate?.private_key?.inline_string as string | undefined;
  if (!chain || !key) return undefined;
  const cert = new X509Certificate(chain);
  return {
    serial: cert.serialNumber,
    san: cert.subjectAltName ?? '',
    keyMatches: cert.checkPrivateKey(createPrivateKey(key)),
  };
}

test('Envoy profile: a rotation changes only the Secret, under the same name; /debug never shows keys', async () => {
  const ads = await AdsClient.connect({
    address: `127.0.0.1:${mg.xdsPort}`,
    node: { id: 'gw-envoy', cluster: 'gateway', user_agent_name: 'envoy' },
  });
  try {
    ads.subscribe(TYPE.cluster, ['*']);
    ads.subscribe(TYPE.listener, ['*']);
    const cds = await ads.next(TYPE.cluster, 10_000);
    const lds = await ads.next(TYPE.listener, 10_000);
    const cluster = cds.resources.find((r) => r.name === 'backend')?.object as any;
    const tls = cluster?.transport_socket?.typed_config?.common_tls_context;
    assert.deepEqual(
      tls?.tls_certificate_sds_secret_configs?.map((c: any) => c.name),
      ['mesh/gw'],
      `the cluster refers to the identity by its SDS name: ${JSON.stringify(cluster?.transport_socket)}`,
    );
    ads.subscribe(TYPE.secret, ['mesh/gw', 'mesh/roots']);
    let r = await ads.next(TYPE.secret, 10_000);
    while (!secretCert(r, 'mesh/gw')) r = await ads.next(TYPE.secret, 10_000);
    const first = secretCert(r, 'mesh/gw')!;
    assert.equal(first.san, `URI:${GW_ID}`);
    assert.ok(first.keyMatches);
    const clustersHeld = ads.received(TYPE.cluster);
    const listenersHeld = ads.received(TYPE.listener);

    // Two rotations, each a new Secret named mesh/gw whose key matches its certificate.
    const serials = [first.serial];
    const deadline = Date.now() + 20_000;
    while (serials.length < 3) {
      const next = await ads.next(TYPE.secret, Math.max(1, deadline - Date.now()));
      const got = secretCert(next, 'mesh/gw');
      if (!got || got.serial === serials.at(-1)) continue;
      assert.equal(got.san, `URI:${GW_ID}`);
      assert.ok(got.keyMatches, `the Secret pushed for serial ${got.serial} pairs the certificate with its own key`);
      assert.ok(gw.serials.includes(got.serial), 'the Secret carries the certificate the rotation wrote');
      serials.push(got.serial);
    }
    assert.equal(ads.received(TYPE.cluster), clustersHeld, 'no Cluster push during rotations');
    assert.equal(ads.received(TYPE.listener), listenersHeld, 'no Listener push during rotations');
    assert.equal(ads.held(TYPE.cluster).size, cds.resources.length);
    const now = await currentVersions();
    assert.equal(cds.versionInfo, now.cluster, 'the cluster version the client holds is still the one served');
    assert.equal(lds.versionInfo, now.listener, 'the listener version the client holds is still the one served');
    console.log(
      `# Envoy profile: Secret mesh/gw serials ${serials.join(' -> ')}; ${clustersHeld} CDS and ${listenersHeld} LDS responses, none during rotations`,
    );
  } finally {
    ads.close();
  }

  for (const q of [
    'profile=envoy&type=secret&name=mesh%2Fgw',
    'profile=envoy&type=secret',
    'profile=grpc&type=secret',
    'profile=envoy&type=cluster&name=backend',
  ]) {
    const page = await getText(`${mg.adminUrl}/debug/resources?${q}`);
    assert.ok(page.status === 200 || page.status === 404, `/debug/resources?${q}: ${page.status}`);
    assert.doesNotMatch(page.body, /PRIVATE KEY/, `/debug/resources?${q} shows a private key`);
  }
  const secret = JSON.parse(
    (await getText(`${mg.adminUrl}/debug/resources?profile=envoy&type=secret&name=mesh%2Fgw`)).body,
  );
  assert.equal(secret.resource.tls_certificate.private_key, '[redacted]');
  assert.match(secret.resource.tls_certificate.certificate_chain.inline_string, /BEGIN CERTIFICATE/);
  assert.doesNotMatch(mg.logs(200_000), /PRIVATE KEY/, 'meshgate logged a private key');
});

/** The versions meshgate serves now for the Envoy profile's cluster and listener sets (fresh SotW stream). */
async function currentVersions(): Promise<{ cluster: string; listener: string }> {
  const c = await AdsClient.connect({
    address: `127.0.0.1:${mg.xdsPort}`,
    node: { id: 'gw-envoy-probe', user_agent_name: 'envoy' },
  });
  try {
    c.subscribe(TYPE.cluster, ['*']);
    c.subscribe(TYPE.listener, ['*']);
    const [cds, lds] = [await c.next(TYPE.cluster, 10_000), await c.next(TYPE.listener, 10_000)];
    return { cluster: cds.versionInfo, listener: lds.versionInfo };
  } finally {
    c.close();
  }
}

test('a half-replaced identity (new key, old certificate) never reaches Envoy as a mismatched Secret', async () => {
  const versionOf = async () =>
    JSON.parse((await getText(`${mg.adminUrl}/debug/resources?profile=envoy&type=secret&name=mesh%2Ftorn`)).body)
      .version as string;
  const before = await versionOf();
  // A rotator that replaces the two files one after the other, seconds apart: the key is new, the cert is not yet.
  writeAtomic(p('torn', 'key.pem'), tornNext.keyPem);
  await waitFor(async () => (await versionOf()) !== before, 'meshgate to re-read mesh/torn', 3000, 100).catch(
    () => undefined,
  );
  const ads = await AdsClient.connect({
    address: `127.0.0.1:${mg.xdsPort}`,
    node: { id: 'gw-envoy-torn', user_agent_name: 'envoy' },
  });
  try {
    ads.subscribe(TYPE.secret, ['mesh/torn']);
    const got = secretCert(await ads.next(TYPE.secret, 10_000), 'mesh/torn');
    assert.ok(got?.keyMatches, 'the Secret served pairs a certificate with a key that is not its own');
  } finally {
    ads.close();
  }
});
