// The gateway's Istio certificate rotates under traffic, and survives istiod going away. `meshgate serve` gets a
// 60 s certificate from a real istiod and renews it; a data-plane stand-in follows SDS as Envoy does (each new
// connection uses the Secret it holds now) and calls a sidecar-like backend every 100 ms over Istio mTLS. No call may
// fail across the renewals, and the backend must see each new certificate. Then istiod stops: meshgate keeps the
// current certificate in service, says why on /readyz, and calls go on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { IstioCaClient, tokenRequestSource } from '@meshgate/adapter-istio';
import { CertificateAuthority } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { loadEcho } from '../../examples/backends/echo-proto.ts';
import { tempDir } from '../lib/fixture.ts';
import { adminRequester, type IstioEnv, istiodUnavailable, startIstioEnv } from '../lib/istiod.ts';
import { writeKubeconfig } from '../lib/kube-env.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { type MtlsBackend, startMtlsBackend } from '../lib/mtls-backend.ts';
import { getJson, waitFor } from '../lib/wait.ts';

const skip = istiodUnavailable();
if (skip) console.log(`# istio rotation suite skipped: ${skip}`);

const NS = 'gateway';
const SA = 'meshgate';
const GATEWAY_ID = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;
const BACKEND_ID = 'spiffe://cluster.local/ns/shop/sa/pay-sa';
const SECRET = 'istio/default';
const ROOTS = 'istio/roots';

let ie: IstioEnv;
let mg: MeshgateProcess;
let backend: MtlsBackend;
let sds: AdsClient;
const tmp = tempDir('meshgate-istio-rotation-');
const p = (...parts: string[]) => join(tmp.dir, ...parts);

type Obj = any;

const text = (f: Obj): string =>
  f?.inline_string ?? (f?.inline_bytes ? Buffer.from(f.inline_bytes, 'base64').toString() : '');

/** What the stand-in holds over SDS right now: the gateway's chain and key, and the Istio root. */
function heldIdentity(): { chain: string; key: string; root: string } | undefined {
  const held = sds.held(TYPE.secret);
  const s = held.get(SECRET)?.object as Obj;
  const r = held.get(ROOTS)?.object as Obj;
  const chain = text(s?.tls_certificate?.certificate_chain);
  const key = text(s?.tls_certificate?.private_key);
  const root = text(r?.validation_context?.trusted_ca);
  return chain && key && root ? { chain, key, root } : undefined;
}

const { Client } = loadEcho();

/**
 * One call on a new connection made with the Secret held now, verifying the backend's SPIFFE ID (secure naming), as
 * Envoy does for each new upstream connection after an SDS update.
 */
async function callOnce(): Promise<{ ok: boolean; error?: string; serial?: string }> {
  const id = heldIdentity();
  if (!id) return { ok: false, error: 'no Secret held' };
  const creds = grpc.credentials.createSsl(Buffer.from(id.root), Buffer.from(id.key), Buffer.from(id.chain), {
    checkServerIdentity: (_host, cert) => {
      const san = new X509Certificate(cert.raw).subjectAltName ?? '';
      return san.split(/,\s*/).includes(`URI:${BACKEND_ID}`)
        ? undefined
        : new Error(`backend presents ${san}, not ${BACKEND_ID}`);
    },
  });
  const c = new Client(`127.0.0.1:${backend.port}`, creds, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    await new Promise<void>((resolve, reject) =>
      c.Echo({ message: 'hi' }, { deadline: Date.now() + 3000 }, (err: Error | null) =>
        err ? reject(err) : resolve(),
      ),
    );
    return { ok: true, serial: new X509Certificate(id.chain).serialNumber };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    c.close();
  }
}

function openssl(args: string[]): { status: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

describe('istio: the gateway certificate rotates under traffic and outlives istiod', { skip }, () => {
  before(
    async () => {
      ie = await startIstioEnv({ namespace: NS, serviceAccount: SA });
      writeKubeconfig(p('kubeconfig.yaml'), ie.env.apiUrl, ie.env.caPem, 'admin', ie.env.adminToken);
      // The xDS port is mutual TLS: only a verified client receives the Secret with the key.
      const xdsCa = await CertificateAuthority.createInMemory({ commonName: 'xds test CA' });
      const server = await xdsCa.issue({ dns: 'localhost' });
      const client = await xdsCa.issue({ spiffe: 'spiffe://example.org/ns/edge/sa/envoy' });
      for (const [f, pem] of [
        ['xds/cert.pem', server.chainPem],
        ['xds/key.pem', server.keyPem],
        ['xds/ca.pem', xdsCa.bundlePem],
      ] as const) {
        mkdirSync(dirname(p(f)), { recursive: true });
        writeFileSync(p(f), pem, { mode: 0o600 });
      }
      await ie.env.kubectl(['create', 'namespace', 'shop']);
      await ie.env.kubectl(['create', 'serviceaccount', 'pay-sa', '-n', 'shop']);
      const ca = new IstioCaClient({
        address: ie.istiod.caAddress,
        roots: ie.root,
        token: tokenRequestSource(adminRequester(ie.env), { namespace: 'shop', serviceAccount: 'pay-sa' }),
        namespace: 'shop',
        serviceAccount: 'pay-sa',
      });
      const pay = await ca.obtain().finally(() => ca.close());
      // A sidecar's inbound side: istiod's certificate for pay-sa, the caller must be the gateway. Connections are
      // closed after 1 s, so the stand-in keeps making handshakes with whatever certificate it holds.
      backend = await startMtlsBackend({
        name: 'pay-1',
        caPem: ie.root,
        certChainPem: pay.chainPem,
        keyPem: pay.keyPem,
        allowedCaller: GATEWAY_ID,
        maxConnectionAgeMs: 1000,
      });
      writeFileSync(
        p('meshgate.yaml'),
        `xds:
  tls: { certFile: xds/cert.pem, keyFile: xds/key.pem, caFile: xds/ca.pem }
istio:
  address: ${ie.istiod.caAddress}
  namespace: ${NS}
  serviceAccount: ${SA}
  kubeconfig: kubeconfig.yaml
  ttl: 60s
`,
      );
      mg = new MeshgateProcess(p('meshgate.yaml'));
      await mg.start();
      await mg.waitReady(60_000);
      sds = await AdsClient.connect({
        address: `127.0.0.1:${mg.xdsPort}`,
        node: { id: 'gw-1', cluster: 'edge', user_agent_name: 'envoy' },
        credentials: grpc.credentials.createSsl(
          Buffer.from(xdsCa.bundlePem),
          Buffer.from(client.keyPem),
          Buffer.from(client.chainPem),
          {
            checkServerIdentity: (_h, cert) =>
              new X509Certificate(cert.raw).checkHost('localhost')
                ? undefined
                : new Error('xDS server is not localhost'),
          },
        ),
      });
      sds.subscribe(TYPE.secret, [SECRET, ROOTS]);
      await waitFor(() => heldIdentity(), 'the Istio Secret and root over SDS', 30_000, 100);
    },
    { timeout: 3_600_000 },
  );
  after(async () => {
    sds?.close();
    await backend?.close();
    await mg?.stop().catch(() => {});
    await ie?.stop();
    tmp.cleanup();
  });

  test('two renewals under calls every 100 ms: no call fails, and the backend sees each new certificate', {
    timeout: 240_000,
  }, async () => {
    const served = new Map<string, X509Certificate>();
    const arrived: number[] = [];
    const outcomes: { ok: boolean; error?: string }[] = [];
    const started = Date.now();
    // 60 s certificates renewed at half their life: three certificates within about 75 s.
    while (served.size < 3 && Date.now() - started < 200_000) {
      const id = heldIdentity();
      if (id) {
        const leaf = new X509Certificate(id.chain);
        if (!served.has(leaf.serialNumber)) {
          served.set(leaf.serialNumber, leaf);
          arrived.push(Date.now());
          writeFileSync(p(`chain-${served.size}.pem`), id.chain);
          writeFileSync(p('root.pem'), id.root);
        }
      }
      outcomes.push(await callOnce());
      await new Promise((r) => setTimeout(r, 100));
    }
    const failed = outcomes.filter((o) => !o.ok);
    assert.equal(served.size, 3, `three certificates served over SDS within 200 s\n${mg.logs()}`);
    assert.deepEqual(failed, [], `${failed.length} of ${outcomes.length} calls failed`);
    const seen = new Set(backend.serials());
    for (const serial of served.keys()) assert.ok(seen.has(serial), `the backend saw certificate ${serial}`);
    assert.ok(
      backend.calls.every((c) => c.allowed && c.spiffe === GATEWAY_ID),
      'every call came as the gateway',
    );
    const leaves = [...served.values()];
    for (let i = 0; i < leaves.length; i++) {
      assert.equal(leaves[i].subjectAltName, `URI:${GATEWAY_ID}`);
      const v = openssl([
        'verify',
        '-CAfile',
        p('root.pem'),
        '-untrusted',
        p(`chain-${i + 1}.pem`),
        p(`chain-${i + 1}.pem`),
      ]);
      assert.equal(v.status, 0, `certificate ${i + 1} verifies against the Istio root: ${v.out}`);
      if (i > 0)
        assert.ok(
          arrived[i] < new Date(leaves[i - 1].validTo).getTime(),
          `certificate ${i + 1} arrived before certificate ${i} expired`,
        );
    }
    console.log(`# ${outcomes.length} calls, 0 failed, ${served.size} certificates in ${Date.now() - started} ms`);
  });

  test('istiod stops: the current certificate stays in service, /readyz says why, calls go on', {
    timeout: 240_000,
  }, async () => {
    const before = heldIdentity()!;
    await ie.istiod.stop();
    // The next renewal (at half of 60 s) fails; meshgate reports it and keeps what it has.
    const istio: Obj = await waitFor(
      async () => {
        const s = ((await getJson(`${mg.adminUrl}/readyz`)).body as Obj)?.sources?.istio;
        return s?.lastError ? s : undefined;
      },
      'the failed renewal on /readyz',
      90_000,
      500,
    );
    assert.match(istio.lastError, /istiod|unavailable|connect|ECONNREFUSED/i);
    assert.equal(istio.synced, true, 'the certificate in service is kept');
    assert.equal(istio.stale, true);
    const now = heldIdentity()!;
    const leaf = new X509Certificate(now.chain);
    assert.equal(leaf.serialNumber, new X509Certificate(before.chain).serialNumber, 'the same certificate is served');
    assert.ok(new Date(leaf.validTo).getTime() > Date.now(), 'and it has not expired');
    const outcomes = [];
    for (let i = 0; i < 10; i++) outcomes.push(await callOnce());
    assert.deepEqual(
      outcomes.filter((o) => !o.ok),
      [],
      'calls still succeed with the last good certificate',
    );
  });
});
