// mTLS on the xDS port (config `xds.tls`): only clients with a certificate from the configured
// CA get a stream; the node's certificate SANs show on /debug/nodes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { certsIssue } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson } from '../lib/wait.ts';

const tmp = tempDir();
const p = (...parts: string[]) => join(tmp.dir, ...parts);
let mg: MeshgateProcess;

before(async () => {
  // In-process for speed; the same functions back `meshgate certs` (covered in cli.test.ts).
  await certsIssue({ dns: 'localhost', ca: p('ca'), out: p('server') });
  await certsIssue({ spiffe: 'spiffe://example.org/gateway', ca: p('ca'), out: p('gateway') });
  await certsIssue({ spiffe: 'spiffe://example.org/gateway', ca: p('other-ca'), out: p('stranger') });
  writeAtomic(
    p('meshgate.yaml'),
    `xds:
  tls: { certFile: server/cert.pem, keyFile: server/key.pem, caFile: ca/ca.pem }
services:
  - name: web
    endpoints: [{ address: 127.0.0.1, port: 8081 }]
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

const creds = (dir?: string) =>
  grpc.credentials.createSsl(
    readFileSync(p('ca', 'ca.pem')),
    dir ? readFileSync(p(dir, 'key.pem')) : null,
    dir ? readFileSync(p(dir, 'cert.pem')) : null,
  );

test('a client with a certificate from the CA gets config; its SANs show on /debug/nodes', async () => {
  const c = await AdsClient.connect({
    address: `localhost:${mg.xdsPort}`,
    node: { id: 'gw-mtls', user_agent_name: 'envoy' },
    credentials: creds('gateway'),
  });
  try {
    c.subscribe(TYPE.cluster, ['*']);
    const r = await c.next(TYPE.cluster, 10_000);
    assert.deepEqual(
      r.resources.map((x) => x.name),
      ['web'],
    );
    const nodes = (await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as any[];
    const n = nodes.find((x) => x.id === 'gw-mtls');
    assert.deepEqual(n?.peer?.uriSans, ['spiffe://example.org/gateway'], JSON.stringify(nodes));
  } finally {
    c.close();
  }
});

for (const [what, dir] of [
  ['no client certificate', undefined],
  ['a certificate from another CA', 'stranger'],
] as const) {
  test(`a client with ${what} gets no stream`, async () => {
    let c: AdsClient | undefined;
    let received = false;
    try {
      c = await AdsClient.connect({
        address: `localhost:${mg.xdsPort}`,
        node: { id: 'intruder', user_agent_name: 'envoy' },
        credentials: creds(dir),
        connectTimeoutMs: 3000,
      });
      c.subscribe(TYPE.cluster, ['*']);
      await c.next(TYPE.cluster, 3000);
      received = true;
    } catch {
      // Refused during the handshake or the stream: what we want.
    } finally {
      c?.close();
    }
    assert.equal(received, false, 'the server answered a client it should have refused');
    const nodes = (await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as any[];
    assert.equal(
      nodes.find((x) => x.id === 'intruder'),
      undefined,
    );
  });
}
