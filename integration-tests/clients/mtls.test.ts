// The client matrix on the mTLS example (examples/mtls.yaml, served by a real `meshgate serve`):
// certificates made with the openssl commands the example's own comment gives, each client with
// xDS channel credentials and the file_watcher certificate providers `meshgate bootstrap --grpc
// --cert-provider` writes, calling two mTLS backends (two localities) that require a client
// certificate from the example CA and authorize the gateway's SPIFFE ID.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess, REPO_ROOT } from '../lib/meshgate-process.ts';
import { startMtlsBackend, type MtlsBackend } from '../lib/mtls-backend.ts';
import {
  assertNoDepartedNacks,
  assertShare,
  assertSyncedNoNacks,
  bootstrapFiles,
  countByPort,
  matrixClients,
  runClient,
} from '../lib/client-matrix.ts';

const run = promisify(execFile);
const GATEWAY_ID = 'spiffe://example.org/ns/default/sa/gateway';
const PAYMENTS_ID = 'spiffe://example.org/ns/default/sa/payments';

const tmp = tempDir('meshgate-clients-mtls-');
const certs = join(tmp.dir, 'examples/certs');
let zoneA: MtlsBackend;
let zoneB: MtlsBackend;
let mg: MeshgateProcess;
let bootstrapFor: (nodeId: string) => string;
const clientsReady = matrixClients();
const summary: string[] = [];

/** The shell commands in the example's header comment, as a user would paste them. */
function exampleCommands(yaml: string): string {
  const lines = yaml.split('\n');
  const start = lines.findIndex((l) => /create the files with any CA/.test(l));
  assert.ok(start >= 0, 'examples/mtls.yaml still explains how to create its certificates');
  const cmds = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^#\s{3}(\S.*)$/.exec(l);
    if (!m) break;
    cmds.push(m[1]);
  }
  assert.ok(
    cmds.some((c) => c.startsWith('openssl')),
    cmds.join('\n'),
  );
  return cmds.join('\n');
}

// The first run builds the grpc-go clients (minutes on two busy cores).
before(
  async () => {
    await clientsReady;
    const example = readFileSync(join(REPO_ROOT, 'examples/mtls.yaml'), 'utf8');
    await run('bash', ['-euc', exampleCommands(example)], { cwd: tmp.dir });
    // The upstream's own certificate, from the same CA, with the SPIFFE ID the example expects.
    await run(
      'bash',
      [
        '-euc',
        `openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=payments -keyout payments.key -out payments.csr
printf 'subjectAltName=URI:${PAYMENTS_ID}' > payments.ext
openssl x509 -req -in payments.csr -CA ca.crt -CAkey ca.key -days 30 -extfile payments.ext -out payments.crt`,
      ],
      { cwd: certs },
    );
    const pem = (f: string) => readFileSync(join(certs, f), 'utf8');
    const backend = (name: string) =>
      startMtlsBackend({
        name,
        caPem: pem('ca.crt'),
        certChainPem: pem('payments.crt'),
        keyPem: pem('payments.key'),
        allowedCaller: GATEWAY_ID,
      });
    zoneA = await backend('payments');
    zoneB = await backend('payments');
    // The example on this run's ports, plus one service that expects another SPIFFE ID from the same
    // upstream: the control that each client really checks the upstream's identity.
    const impostorCheck = `  - name: payments-wrong-san
    protocol: grpc
    tls:
      expectedSans: [{ uri: spiffe://example.org/ns/default/sa/impostor }]
      trustBundle: example/roots
      clientIdentity: example/gateway
    endpoints: [{ address: 127.0.0.1, port: ${zoneA.port} }]
`;
    assert.match(example, /\nroutes:\n/);
    writeAtomic(
      join(tmp.dir, 'examples/mtls.yaml'),
      example
        .replace('port: 50061', `port: ${zoneA.port}`)
        .replace('port: 50062', `port: ${zoneB.port}`)
        .replace('\nroutes:\n', `\n${impostorCheck}routes:\n`),
    );
    // The client's certificate providers, named like the example's identity and trust bundle.
    const provider = join(tmp.dir, 'provider');
    mkdirSync(provider);
    copyFileSync(join(certs, 'gateway.crt'), join(provider, 'cert.pem'));
    copyFileSync(join(certs, 'gateway.key'), join(provider, 'key.pem'));
    copyFileSync(join(certs, 'ca.crt'), join(provider, 'ca.pem'));
    mg = new MeshgateProcess(join(tmp.dir, 'examples/mtls.yaml'));
    await mg.start();
    await mg.waitReady();
    bootstrapFor = await bootstrapFiles(tmp.dir, mg.xdsPort, [
      '--cert-provider',
      `example/gateway=${provider}`,
      '--cert-provider',
      `example/roots=${provider}`,
    ]);
  },
  { timeout: 900_000 },
);

after(async () => {
  if (summary.length) console.log(`# mTLS example per client\n${summary.map((l) => `#   ${l}`).join('\n')}`);
  await mg?.stop();
  await zoneA?.close();
  await zoneB?.close();
  tmp.cleanup();
});

describe('client matrix: the mTLS example', { timeout: 900_000 }, async () => {
  for (const c of await clientsReady) {
    test(`${c.label}: mTLS calls with the gateway identity reach both localities, 0 NACKs`, async () => {
      const nodeId = `matrix-${c.id}-mtls`;
      const seenBefore = zoneA.calls.length + zoneB.calls.length;
      const calls = await runClient(c, {
        bootstrapFile: bootstrapFor(nodeId),
        targets: ['xds:///payments'],
        calls: 200,
        xdsCreds: true,
        whileConnected: async () => {
          await assertSyncedNoNacks(mg.adminUrl, nodeId, ['LDS', 'RDS', 'CDS', 'EDS']);
        },
      });
      await assertNoDepartedNacks(mg.adminUrl, nodeId);
      // Every call is a success from zone a or b, so about half each (equal locality weights).
      const ports = countByPort(calls, 'xds:///payments', 'payments');
      const relabeled = calls.map((x) => ({ ...x, fields: { ...x.fields, '2': String(x.fields?.['3']) } }));
      const a = assertShare(relabeled, 'xds:///payments', String(zoneA.port), 1 / 2, c.label);
      const seen = [...zoneA.calls, ...zoneB.calls].slice(seenBefore);
      assert.equal(seen.length, calls.length, 'every call reached a backend handler once');
      assert.ok(
        seen.every((s) => s.allowed && s.spiffe === GATEWAY_ID),
        `every call carried the gateway's certificate: ${JSON.stringify(seen.filter((s) => !s.allowed).slice(0, 3))}`,
      );
      summary.push(`${c.label}: ${calls.length} mTLS calls, zone a share ${a.toFixed(3)} ${JSON.stringify(ports)}`);
    });

    test(`${c.label}: refuses an upstream whose certificate lacks the expected SPIFFE ID`, async () => {
      const nodeId = `matrix-${c.id}-mtls-san`;
      const seenBefore = zoneA.calls.length;
      const calls = await runClient(c, {
        bootstrapFile: bootstrapFor(nodeId),
        targets: ['xds:///payments-wrong-san'],
        calls: 1,
        timeoutS: 5,
        xdsCreds: true,
        whileConnected: async () => {
          await assertSyncedNoNacks(mg.adminUrl, nodeId, ['LDS', 'RDS', 'CDS', 'EDS']);
        },
      });
      assert.equal(calls.length, 1);
      assert.equal(calls[0].ok, false, `the call must fail: ${JSON.stringify(calls[0])}`);
      assert.equal(zoneA.calls.length, seenBefore, 'no call reached the backend');
    });
  }
});
