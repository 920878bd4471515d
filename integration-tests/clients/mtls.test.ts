// The client matrix on the mTLS example (examples/mtls.yaml), set up as its header says (`meshgate
// certs issue`), served by a real `meshgate serve`. Each client uses xDS channel credentials and the
// file_watcher certificate providers `meshgate bootstrap --grpc --cert-provider` writes, and calls
// two mTLS backends (two localities) that require a client certificate from the example CA and
// authorize the gateway's SPIFFE ID.
//
// The example also requires mTLS on the xDS port (xds.tls). A gRPC client dials it with the
// bootstrap's `tls` channel credentials (gRFC A65), which only today's grpc-go has: grpc-js-xds
// 1.14, grpc-go v1.53.0 and C-core 1.51 know `insecure` and `google_default` only. So every client
// also runs the example with its xds section left out (upstream mTLS unchanged), and the example
// as shipped is asserted for what each client does with it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess, REPO_ROOT, runCli } from '../lib/meshgate-process.ts';
import { startMtlsBackend, type MtlsBackend } from '../lib/mtls-backend.ts';
import { getJson } from '../lib/wait.ts';
import {
  assertNoDepartedNacks,
  assertShare,
  assertSyncedNoNacks,
  bootstrapFiles,
  countByPort,
  type MatrixClient,
  matrixClients,
  runClient,
} from '../lib/client-matrix.ts';

const GATEWAY_ID = 'spiffe://example.org/ns/default/sa/gateway';
const PAYMENTS_ID = 'spiffe://example.org/ns/default/sa/payments';
/** The clients whose xDS bootstrap takes `tls` channel credentials (gRFC A65). */
const A65 = new Set(['grpc-go']);

const tmp = tempDir('meshgate-clients-mtls-');
const examples = join(tmp.dir, 'examples');
let zoneA: MtlsBackend;
let zoneB: MtlsBackend;
/** The example as shipped (xds.tls), and the same without its xds section. */
let shipped: MeshgateProcess;
let plainXds: MeshgateProcess;
let shippedBootstrap: (nodeId: string) => string;
let plainBootstrap: (nodeId: string) => string;
const clientsReady = matrixClients();
const summary: string[] = [];

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `meshgate ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// The first run builds the grpc-go clients (minutes on two busy cores).
before(
  async () => {
    await clientsReady;
    const example = readFileSync(join(REPO_ROOT, 'examples/mtls.yaml'), 'utf8');
    // The certificate steps of the example's header, with examples/ moved to this test's directory.
    const steps = example
      .split('\n')
      .filter((l) => /^#\s+npx meshgate certs issue /.test(l))
      .map((l) =>
        l
          .replace(/^#\s+npx meshgate /, '')
          .replaceAll('examples/', `${examples}/`)
          .split(/\s+/),
      );
    assert.equal(steps.length, 2, `examples/mtls.yaml still issues the gateway and xDS certificates: ${steps}`);
    for (const s of steps) await cli(s);
    // The upstream's own certificate, from the same CA, with the SPIFFE ID the example expects.
    const up = join(examples, 'certs/payments');
    await cli(['certs', 'issue', '--spiffe', PAYMENTS_ID, '--ca', join(examples, 'certs/ca'), '--out', up]);
    const pem = (f: string) => readFileSync(join(up, f), 'utf8');
    const backend = () =>
      startMtlsBackend({
        name: 'payments',
        caPem: pem('ca.pem'),
        certChainPem: pem('cert.pem'),
        keyPem: pem('key.pem'),
        allowedCaller: GATEWAY_ID,
      });
    zoneA = await backend();
    zoneB = await backend();
    // The example on this run's ports, plus one service that expects another SPIFFE ID from the same
    // upstream: the control that each client really checks the upstream's identity.
    assert.match(example, /\nroutes:\n/);
    assert.match(example, /\nxds:\n {2}tls: .*\n/);
    const onPorts = example
      .replace('port: 50061', `port: ${zoneA.port}`)
      .replace('port: 50062', `port: ${zoneB.port}`)
      .replace(
        '\nroutes:\n',
        `
  - name: payments-wrong-san
    protocol: grpc
    tls:
      expectedSans: [{ uri: spiffe://example.org/ns/default/sa/impostor }]
      trustBundle: example/roots
      clientIdentity: example/gateway
    endpoints: [{ address: 127.0.0.1, port: ${zoneA.port} }]
routes:
`,
      );
    writeAtomic(join(examples, 'mtls.yaml'), onPorts);
    writeAtomic(join(examples, 'mtls-plain-xds.yaml'), onPorts.replace(/\nxds:\n {2}tls: .*\n/, '\n'));
    shipped = new MeshgateProcess(join(examples, 'mtls.yaml'), ['--xds-address', '127.0.0.1']);
    plainXds = new MeshgateProcess(join(examples, 'mtls-plain-xds.yaml'), ['--xds-address', '127.0.0.1']);
    await shipped.start();
    await plainXds.start();
    await shipped.waitReady();
    await plainXds.waitReady();
    // The client's certificate providers, named like the example's identity and trust bundle.
    const gw = join(examples, 'certs/gateway');
    const providers = ['--cert-provider', `example/gateway=${gw}`, '--cert-provider', `example/roots=${gw}`];
    // As the example's own bootstrap step: localhost (the xDS certificate's name) and the gateway certificate.
    shippedBootstrap = await bootstrapFiles(tmp.dir, shipped.xdsPort, [
      '--xds-address',
      'localhost',
      '--xds-tls-dir',
      gw,
      ...providers,
    ]);
    plainBootstrap = await bootstrapFiles(tmp.dir, plainXds.xdsPort, providers);
  },
  { timeout: 900_000 },
);

after(async () => {
  if (summary.length) console.log(`# mTLS example per client\n${summary.map((l) => `#   ${l}`).join('\n')}`);
  await shipped?.stop();
  await plainXds?.stop();
  await zoneA?.close();
  await zoneB?.close();
  tmp.cleanup();
});

/** 200 mTLS calls through `mg`: both localities about half each, every call with the gateway's identity, 0 NACKs. */
async function upstreamMtls(c: MatrixClient, mg: MeshgateProcess, bootstrap: string, nodeId: string): Promise<string> {
  const seenBefore = zoneA.calls.length + zoneB.calls.length;
  const calls = await runClient(c, {
    bootstrapFile: bootstrap,
    targets: ['xds:///payments'],
    calls: 200,
    xdsCreds: true,
    whileConnected: async () => {
      await assertSyncedNoNacks(mg.adminUrl, nodeId, ['LDS', 'RDS', 'CDS', 'EDS']);
    },
  });
  await assertNoDepartedNacks(mg.adminUrl, nodeId);
  const byPort = calls.map((x) => ({ ...x, fields: { ...x.fields, '2': String(x.fields?.['3']) } }));
  const a = assertShare(byPort, 'xds:///payments', String(zoneA.port), 1 / 2, c.label);
  const seen = [...zoneA.calls, ...zoneB.calls].slice(seenBefore);
  assert.equal(seen.length, calls.length, 'every call reached a backend handler once');
  assert.ok(
    seen.every((s) => s.allowed && s.spiffe === GATEWAY_ID),
    `every call carried the gateway's certificate: ${JSON.stringify(seen.filter((s) => !s.allowed).slice(0, 3))}`,
  );
  return `${calls.length} calls, zone a share ${a.toFixed(3)} ${JSON.stringify(countByPort(calls, 'xds:///payments', 'payments'))}`;
}

describe('client matrix: the mTLS example', { timeout: 900_000 }, async () => {
  for (const c of await clientsReady) {
    test(`${c.label}: upstream mTLS with the gateway identity reaches both localities, 0 NACKs`, async () => {
      const nodeId = `matrix-${c.id}-mtls`;
      summary.push(`${c.label}, xDS in plaintext: ${await upstreamMtls(c, plainXds, plainBootstrap(nodeId), nodeId)}`);
    });

    test(`${c.label}: refuses an upstream whose certificate lacks the expected SPIFFE ID`, async () => {
      const nodeId = `matrix-${c.id}-mtls-san`;
      const seenBefore = zoneA.calls.length;
      const calls = await runClient(c, {
        bootstrapFile: plainBootstrap(nodeId),
        targets: ['xds:///payments-wrong-san'],
        calls: 1,
        timeoutS: 5,
        xdsCreds: true,
        whileConnected: async () => {
          await assertSyncedNoNacks(plainXds.adminUrl, nodeId, ['LDS', 'RDS', 'CDS', 'EDS']);
        },
      });
      assert.equal(calls.length, 1);
      assert.equal(calls[0].ok, false, `the call must fail: ${JSON.stringify(calls[0])}`);
      assert.equal(zoneA.calls.length, seenBefore, 'no call reached the backend');
    });

    if (A65.has(c.id)) {
      test(`${c.label}: the example as shipped, xDS over mTLS too (gRFC A65 tls channel credentials)`, async () => {
        const nodeId = `matrix-${c.id}-mtls-xds`;
        const r = await upstreamMtls(c, shipped, shippedBootstrap(nodeId), nodeId);
        summary.push(`${c.label}, xDS over mTLS (as shipped): ${r}`);
      });
    } else {
      test(`${c.label}: cannot dial the example's mTLS xDS port (no gRFC A65 tls channel credentials)`, async () => {
        const nodeId = `matrix-${c.id}-mtls-xds`;
        const seenBefore = zoneA.calls.length + zoneB.calls.length;
        const outcome = await runClient(c, {
          bootstrapFile: shippedBootstrap(nodeId),
          targets: ['xds:///payments'],
          calls: 1,
          timeoutS: 5,
          xdsCreds: true,
        }).then(
          (calls) => ({ calls, error: '' }),
          (err: Error) => ({ calls: [], error: err.message }),
        );
        // Either the client refuses the bootstrap outright or its one call fails: no xDS stream, no traffic.
        assert.ok(
          outcome.error || (outcome.calls.length === 1 && !outcome.calls[0].ok),
          `expected no successful call: ${JSON.stringify(outcome)}`,
        );
        const page = (await getJson(`${shipped.adminUrl}/debug/nodes`)).body;
        assert.ok(!page.nodes.some((n: { id: string }) => n.id === nodeId), 'meshgate never saw the node');
        assert.equal(zoneA.calls.length + zoneB.calls.length, seenBefore);
        summary.push(
          `${c.label}, xDS over mTLS (as shipped): not supported; ${(outcome.error || outcome.calls[0]?.error || '').replace(/\s+/g, ' ').slice(0, 200)}`,
        );
      });
    }
  }
});
