// `meshgate serve` with an `istio:` section joins a real istiod's mesh with no sidecar: it asks istiod (run against
// the real etcd + kube-apiserver of kube-env.ts) for the gateway's certificate with a TokenRequest token and serves it
// over SDS. The Secret with its key goes to an xDS client that `xds.tls` verified; a plaintext client gets the root but
// no key; a token istiod refuses shows on /readyz as the reason, without the token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tokenRequestSource } from '@meshgate/adapter-istio';
import { CertificateAuthority } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { tempDir } from '../lib/fixture.ts';
import { adminRequester, type Istiod, type IstioEnv, istiodUnavailable, startIstioEnv } from '../lib/istiod.ts';
import { type KubeEnv, writeKubeconfig } from '../lib/kube-env.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, waitFor } from '../lib/wait.ts';

const skip = istiodUnavailable();
if (skip) console.log(`# istio serve suite skipped: ${skip}`);

const NS = 'gateway';
const SA = 'meshgate';
const ID = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;
const SECRET = 'istio/default';
const ROOTS = 'istio/roots';
const CLIENT_ID = 'spiffe://example.org/ns/edge/sa/envoy';

let ie: IstioEnv;
let env: KubeEnv;
let istiod: Istiod;
let root: string;
let xdsCa: CertificateAuthority;
const tmp = tempDir('meshgate-istio-serve-');
const p = (...parts: string[]) => join(tmp.dir, ...parts);
const running: MeshgateProcess[] = [];

function openssl(args: string[]): { status: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function istioSection(extra = ''): string {
  return `istio:
  address: ${istiod.caAddress}
  namespace: ${NS}
  serviceAccount: ${SA}
  kubeconfig: kubeconfig.yaml
${extra}`;
}

async function serve(name: string, yaml: string): Promise<MeshgateProcess> {
  const config = p(`${name}.yaml`);
  writeFileSync(config, yaml);
  const mg = new MeshgateProcess(config);
  running.push(mg);
  await mg.start();
  return mg;
}

/** The Secrets a client holds once the stream has gone quiet (a refused Secret is never sent). */
async function secretsOf(mg: MeshgateProcess, credentials?: grpc.ChannelCredentials) {
  const c = await AdsClient.connect({
    address: `127.0.0.1:${mg.xdsPort}`,
    node: { id: 'gw-1', cluster: 'edge', user_agent_name: 'envoy' },
    ...(credentials ? { credentials } : {}),
  });
  try {
    c.subscribe(TYPE.secret, [SECRET, ROOTS]);
    await waitFor(() => c.held(TYPE.secret).has(ROOTS), `${ROOTS} over SDS`, 30_000, 100);
    await c.quiet(TYPE.secret, 1000);
    return c.held(TYPE.secret);
  } finally {
    c.close();
  }
}

/** Channel credentials with a client certificate from the xDS CA (what `xds.tls` verifies). */
async function mtlsCredentials(): Promise<grpc.ChannelCredentials> {
  const client = await xdsCa.issue({ spiffe: CLIENT_ID });
  return grpc.credentials.createSsl(
    Buffer.from(xdsCa.bundlePem),
    Buffer.from(client.keyPem),
    Buffer.from(client.chainPem),
    {
      checkServerIdentity: (_host, cert) =>
        new X509Certificate(cert.raw).checkHost('localhost') ? undefined : new Error('xDS server is not localhost'),
    },
  );
}

/** The served certificate chain and key of the istio Secret, if the client holds it. */
function servedIdentity(held: Map<string, { object: Record<string, unknown> | undefined }>) {
  const s = held.get(SECRET)?.object as any;
  const text = (f: any): string | undefined =>
    f?.inline_string ?? (f?.inline_bytes ? Buffer.from(f.inline_bytes, 'base64').toString() : undefined);
  return { chain: text(s?.tls_certificate?.certificate_chain), key: text(s?.tls_certificate?.private_key) };
}

describe('istio: meshgate serve with the gateway certificate from a real istiod', { skip }, () => {
  before(
    async () => {
      ie = await startIstioEnv({ namespace: NS, serviceAccount: SA });
      ({ env, istiod, root } = ie);
      writeFileSync(p('root.pem'), root);
      // meshgate asks for TokenRequest tokens and reads the root ConfigMap with this kubeconfig.
      writeKubeconfig(p('kubeconfig.yaml'), env.apiUrl, env.caPem, 'admin', env.adminToken);
      xdsCa = await CertificateAuthority.createInMemory({ commonName: 'xds test CA' });
      const server = await xdsCa.issue({ dns: 'localhost' });
      for (const [f, pem] of [
        ['xds/cert.pem', server.chainPem],
        ['xds/key.pem', server.keyPem],
        ['xds/ca.pem', xdsCa.bundlePem],
      ]) {
        mkdirSync(dirname(p(f)), { recursive: true });
        writeFileSync(p(f), pem, { mode: 0o600 });
      }
    },
    { timeout: 3_600_000 },
  );
  after(async () => {
    for (const mg of running) await mg.stop().catch(() => {});
    await ie?.stop();
    tmp.cleanup();
  });

  test('an mTLS-verified xDS client gets the istiod certificate and key; it chains to istio-ca-root-cert with the exact SPIFFE ID', {
    timeout: 300_000,
  }, async () => {
    const mg = await serve(
      'mtls',
      `xds:\n  tls: { certFile: xds/cert.pem, keyFile: xds/key.pem, caFile: xds/ca.pem }\n${istioSection()}`,
    );
    await mg.waitReady(60_000);
    const credentials = await mtlsCredentials();
    const held = await secretsOf(mg, credentials);
    const { chain, key } = servedIdentity(held);
    assert.ok(chain && key, `${SECRET} with chain and key: ${JSON.stringify([...held.keys()])}\n${mg.logs()}`);
    writeFileSync(p('chain.pem'), chain);
    const v = openssl(['verify', '-CAfile', p('root.pem'), '-untrusted', p('chain.pem'), p('chain.pem')]);
    assert.equal(v.status, 0, `openssl verify against istio-ca-root-cert: ${v.out}`);
    const leaf = new X509Certificate(chain);
    assert.equal(leaf.subjectAltName, `URI:${ID}`);
    const bundle = held.get(ROOTS)?.object as any;
    const ca = bundle?.validation_context?.trusted_ca;
    const caPem = ca?.inline_string ?? (ca?.inline_bytes ? Buffer.from(ca.inline_bytes, 'base64').toString() : '');
    assert.equal(caPem.trim(), root.trim(), 'the trust bundle is the Istio root');
    const ready = (await getJson(`${mg.adminUrl}/readyz`)).body as any;
    assert.equal(ready.sources.istio.synced, true);
    assert.equal(ready.sources.istio.details.spiffeId, ID);
  });

  test('a plaintext xDS client gets the Istio root but not the key', { timeout: 300_000 }, async () => {
    const mg = await serve('plain', istioSection());
    await waitFor(
      async () => ((await getJson(`${mg.adminUrl}/readyz`)).body as any)?.sources?.istio?.synced === true,
      'the istio source has its certificate',
      60_000,
    );
    const held = await secretsOf(mg);
    assert.ok(held.has(ROOTS), 'the trust bundle is public');
    assert.ok(!held.has(SECRET), `no key to an unauthenticated client: ${JSON.stringify([...held.keys()])}`);
  });

  test('a token istiod refuses (wrong audience) shows on /readyz as the reason, without the token', {
    timeout: 300_000,
  }, async () => {
    const mg = await serve('badtoken', istioSection('  tokenAudience: not-istio-ca\n'));
    const istio: any = await waitFor(
      async () => {
        const r = await getJson(`${mg.adminUrl}/readyz`);
        const s = (r.body as any)?.sources?.istio;
        return r.status === 503 && s?.lastError ? s : undefined;
      },
      '/readyz with the istio source failing',
      60_000,
      250,
    );
    assert.equal(istio.synced, false);
    assert.match(istio.lastError, /refused the ServiceAccount token for gateway\/meshgate/);
    assert.match(istio.lastError, /audience istio-ca/);
    assert.equal(istio.details.lastErrorCode, 'CA_AUTH_REFUSED');
    // No bearer token (a JWT: three base64url parts, the first {"alg":...}) on /readyz or in the log.
    const page = JSON.stringify((await getJson(`${mg.adminUrl}/readyz`)).body);
    for (const text of [page, mg.logs(200_000)])
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
  });

  test('a renewal istiod refuses keeps the last good certificate in service and says why on /readyz', {
    timeout: 300_000,
  }, async () => {
    // A projected-token-file setup: the file holds a good token, then one for another audience.
    const api = adminRequester(env);
    const good = await tokenRequestSource(api, { namespace: NS, serviceAccount: SA })();
    const bad = await tokenRequestSource(api, { namespace: NS, serviceAccount: SA, audience: 'not-istio-ca' })();
    writeFileSync(p('token'), good, { mode: 0o600 });
    // istiod backdates NotBefore by 2 min; a 60 s certificate is renewed about 30 s after it arrives.
    const mg = await serve(
      'renew',
      `xds:\n  tls: { certFile: xds/cert.pem, keyFile: xds/key.pem, caFile: xds/ca.pem }\n${istioSection(
        '  tokenFile: token\n  ttl: 60s\n',
      )}`,
    );
    await mg.waitReady(60_000);
    const credentials = await mtlsCredentials();
    const first = servedIdentity(await secretsOf(mg, credentials));
    assert.ok(first.chain && first.key, mg.logs());
    writeFileSync(p('token'), bad, { mode: 0o600 });
    const istio: any = await waitFor(
      async () => {
        const r = await getJson(`${mg.adminUrl}/readyz`);
        const s = (r.body as any)?.sources?.istio;
        return s?.details?.lastErrorCode === 'CA_AUTH_REFUSED' ? s : undefined;
      },
      'the refused renewal on /readyz',
      120_000,
      500,
    );
    assert.equal(istio.synced, true, 'the certificate in service is kept');
    assert.equal(istio.stale, true);
    assert.match(istio.lastError, /refused the ServiceAccount token/);
    const page = JSON.stringify((await getJson(`${mg.adminUrl}/readyz`)).body);
    for (const t of [good, bad]) {
      assert.ok(!page.includes(t), 'no token on /readyz');
      assert.ok(!mg.logs(200_000).includes(t), 'no token in the log');
    }
    const now = servedIdentity(await secretsOf(mg, credentials));
    assert.equal(now.chain, first.chain, 'the last good certificate is still served');
    assert.equal(now.key, first.key);
    // The fix is picked up at the next retry.
    writeFileSync(p('token'), good, { mode: 0o600 });
    await mg.waitReady(120_000);
    const after = servedIdentity(await secretsOf(mg, credentials));
    assert.notEqual(after.chain, first.chain, 'a new certificate once istiod accepts the token again');
  });
});
