// Security of the xDS port itself (`xds.tls`): the port hands out mesh identities, so only clients
// with a certificate from the configured CA get a stream, and a Secret limited with
// `identities[].allowedNodes` reaches only the nodes it names: by the SPIFFE ID of the verified
// client certificate, and/or by the node id or node cluster the client declares (both must match
// when both are listed). A verified client that allowedNodes does not admit is refused, and
// /debug/nodes says why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson } from '../lib/wait.ts';
import { issueTo, newCa, writeLeaf } from '../lib/mtls-pki.ts';
import type { LeafFiles } from '../lib/mtls-pki.ts';

const tmp = tempDir('meshgate-xds-mtls-');
const p = (...parts: string[]) => join(tmp.dir, ...parts);
let mg: MeshgateProcess;
let caPem: string;
const leaves: Record<string, { certPem: string; keyPem: string }> = {};

const GW_ID = 'spiffe://example.org/ns/default/sa/gw';
const OTHER_ID = 'spiffe://example.org/ns/default/sa/other';
const SECRETS = ['mesh/gw-only', 'mesh/gateways', 'mesh/public', 'mesh/roots'];

before(async () => {
  const ca = await newCa('xds-ca');
  const other = await newCa('stranger-ca');
  caPem = ca.bundlePem;
  const server = await ca.issue({ dns: 'localhost', ttlMs: 3_600_000 });
  const serverFiles: LeafFiles = writeLeaf(p('server'), server);
  for (const [name, issuer, id] of [
    ['gw', ca, GW_ID],
    ['other', ca, OTHER_ID],
    ['stranger', other, GW_ID],
  ] as const) {
    const c = await issueTo(issuer, p(name), id);
    leaves[name] = { certPem: c.chainPem, keyPem: c.keyPem };
  }
  // The Secrets' content does not matter here, only who may fetch them.
  writeAtomic(
    p('meshgate.yaml'),
    `xds:
  tls: { certFile: ${serverFiles.cert}, keyFile: ${serverFiles.key}, caFile: ${serverFiles.ca} }
services:
  - name: web
    endpoints: [{ address: 127.0.0.1, port: 8081 }]
identities:
  - { name: mesh/gw-only, certFile: gw/cert.pem, keyFile: gw/key.pem, allowedNodes: [gw-allowed, ${GW_ID}] }
  - { name: mesh/gateways, certFile: gw/cert.pem, keyFile: gw/key.pem, allowedNodes: [gateway-cluster] }
  - { name: mesh/public, certFile: other/cert.pem, keyFile: other/key.pem }
  - { name: mesh/gw-by-spiffe, certFile: gw/cert.pem, keyFile: gw/key.pem, allowedNodes: [${GW_ID}] }
trustBundles:
  - { name: mesh/roots, caFiles: [gw/ca.pem] }
`,
  );
  mg = new MeshgateProcess(p('meshgate.yaml'), ['--xds-address', '127.0.0.1']);
  await mg.start();
  await mg.waitReady();
});

after(async () => {
  await mg?.stop();
  tmp.cleanup();
});

/** TLS to meshgate (verifying its certificate against the CA), presenting `leaf` when given. */
function creds(leaf?: string): grpc.ChannelCredentials {
  const l = leaf ? leaves[leaf] : undefined;
  return grpc.credentials.createSsl(
    Buffer.from(caPem),
    l ? Buffer.from(l.keyPem) : null,
    l ? Buffer.from(l.certPem) : null,
  );
}

function connect(
  nodeId: string,
  leaf: string | undefined,
  cluster = 'e2e',
  connectTimeoutMs = 5000,
): Promise<AdsClient> {
  return AdsClient.connect({
    address: `localhost:${mg.xdsPort}`,
    node: { id: nodeId, cluster, user_agent_name: 'envoy' },
    credentials: creds(leaf),
    connectTimeoutMs,
  });
}

async function nodeIds(): Promise<string[]> {
  return ((await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as Array<{ id: string }>).map((n) => n.id);
}

test('a client with a certificate from the CA gets resources; its SPIFFE ID is the peer meshgate records', async () => {
  const c = await connect('gw-ok', 'gw');
  try {
    c.subscribe(TYPE.cluster, ['*']);
    const r = await c.next(TYPE.cluster, 10_000);
    assert.deepEqual(
      r.resources.map((x) => x.name),
      ['web'],
    );
    const n = ((await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as any[]).find((x) => x.id === 'gw-ok');
    assert.deepEqual(n?.peer?.uriSans, [GW_ID], JSON.stringify(n));
  } finally {
    c.close();
  }
});

for (const [what, leaf] of [
  ['no client certificate', undefined],
  ['a certificate from another CA', 'stranger'],
] as const) {
  test(`a client with ${what} is refused: its stream fails and it gets nothing`, async () => {
    let refusal = '';
    let received = 0;
    let c: AdsClient | undefined;
    try {
      c = await connect('intruder', leaf, 'e2e', 3000);
      c.subscribe(TYPE.cluster, ['*']);
      c.subscribe(TYPE.secret, SECRETS);
      // The handshake may look complete to a TLS 1.3 client; then the server's refusal ends the stream.
      const status = await Promise.race([
        c.status,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000)),
      ]);
      received = c.received(TYPE.cluster) + c.received(TYPE.secret);
      assert.ok(status, 'the stream was neither answered nor ended within 5 s');
      assert.notEqual(status.code, grpc.status.OK);
      refusal = `stream ended: ${grpc.status[status.code]} ${status.details}`;
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      refusal = (err as Error).message;
    } finally {
      c?.close();
    }
    assert.equal(received, 0, 'the server answered a client it should have refused');
    assert.match(refusal, /cannot reach xDS server|UNAVAILABLE/, refusal);
    assert.ok(!(await nodeIds()).includes('intruder'), 'the refused client shows up as a node');
    // The port still serves good clients: the refusal was about this client's certificate.
    const good = await connect('gw-after-intruder', 'gw');
    try {
      good.subscribe(TYPE.cluster, ['*']);
      assert.equal((await good.next(TYPE.cluster, 10_000)).resources.length, 1);
    } finally {
      good.close();
    }
  });
}

/** The Secrets a node ends up holding after asking for all of them. */
async function secretsFor(nodeId: string, cluster: string, leaf: string, names = SECRETS): Promise<string[]> {
  const c = await connect(nodeId, leaf, cluster);
  try {
    c.subscribe(TYPE.secret, names);
    await c.next(TYPE.secret, 10_000);
    // SotW SDS sends changed Secrets only, possibly over several responses: wait for the stream to go quiet.
    while (!(await c.quiet(TYPE.secret, 1000))) await c.next(TYPE.secret, 1000);
    return [...c.held(TYPE.secret).keys()].sort();
  } finally {
    c.close();
  }
}

test('allowedNodes: a restricted Secret reaches the node it names (by id or by cluster) and no other', async () => {
  assert.deepEqual(await secretsFor('gw-allowed', 'e2e', 'gw'), ['mesh/gw-only', 'mesh/public', 'mesh/roots']);
  assert.deepEqual(await secretsFor('gw-other', 'gateway-cluster', 'gw'), [
    'mesh/gateways',
    'mesh/public',
    'mesh/roots',
  ]);
  assert.deepEqual(await secretsFor('bystander', 'e2e', 'gw'), ['mesh/public', 'mesh/roots']);
});

test('allowedNodes binds to the client certificate, not only to the node id the client claims', async () => {
  // The "other" workload's certificate is valid, but it is not the gateway's; it claims the gateway's node id.
  assert.deepEqual(await secretsFor('gw-allowed', 'e2e', 'other'), ['mesh/public', 'mesh/roots']);
  // Claiming the SPIFFE ID itself as node id or cluster does not help either.
  assert.deepEqual(await secretsFor(GW_ID, GW_ID, 'other', ['mesh/gw-by-spiffe', 'mesh/roots']), ['mesh/roots']);
});

test('allowedNodes can name a SPIFFE ID, matched against the verified client certificate', async () => {
  const names = ['mesh/gw-by-spiffe', 'mesh/roots'];
  assert.deepEqual(await secretsFor('any-node-id', 'e2e', 'gw', names), names.slice().sort());
  assert.deepEqual(await secretsFor('any-node-id', 'e2e', 'other', names), ['mesh/roots']);
});

test('a verified client that allowedNodes does not admit sees the refusal and its reason on /debug/nodes', async () => {
  const c = await connect('not-admitted', 'other');
  try {
    c.subscribe(TYPE.secret, ['mesh/gw-by-spiffe', 'mesh/public', 'mesh/roots']);
    await c.next(TYPE.secret, 10_000);
    while (!(await c.quiet(TYPE.secret, 1000))) await c.next(TYPE.secret, 1000);
    assert.deepEqual([...c.held(TYPE.secret).keys()].sort(), ['mesh/public', 'mesh/roots']);
    const n = ((await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as any[]).find((x) => x.id === 'not-admitted');
    assert.deepEqual(
      n?.refusedSecrets?.map((r: { name: string }) => r.name),
      ['mesh/gw-by-spiffe'],
      JSON.stringify(n),
    );
    assert.equal(
      n.refusedSecrets[0].reason,
      `allowedNodes ["${GW_ID}"] does not admit this node (client certificate URI SANs ["${OTHER_ID}"], DNS SANs [], node id "not-admitted", cluster "e2e"); add the gateway's SPIFFE ID to the identity's allowedNodes`,
    );
  } finally {
    c.close();
  }
  const ready = (await getJson(`${mg.adminUrl}/readyz`)).body;
  assert.equal(ready.secrets.clientAuthentication, 'mtls');
  // Without allowedNodes, any holder of a certificate from xds.tls.caFile may fetch the key: said at start and on /readyz.
  assert.ok(
    ready.secrets.warnings.some((w: string) =>
      /^identity "mesh\/public" has no allowedNodes: every client with a certificate from xds\.tls\.caFile/.test(w),
    ),
    JSON.stringify(ready.secrets),
  );
});

test('plain allowedNodes entries under xds.tls are flagged at start-up as self-declared, naming no secret content', async () => {
  const logs = mg.logs(200_000);
  const warned = logs.split('\n').filter((l) => /are node ids or clusters the client declares itself/.test(l));
  // mesh/gateways lists only a cluster; mesh/gw-only is bound to a SPIFFE ID as well.
  assert.equal(warned.length, 1, warned.join('\n') || logs.slice(-2000));
  assert.match(warned[0], /identity \\?"mesh\/gateways\\?"/);
  assert.match(warned[0], /spiffe:\/\//);
  assert.doesNotMatch(logs, /PRIVATE KEY|BEGIN CERTIFICATE/);
});
