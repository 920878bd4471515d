// A real `meshgate serve` with a `linkerd:` section against Linkerd's real identity controller (and a real
// kube-apiserver reviewing the token): the gateway's Linkerd certificate reaches an xDS client that meshgate verified
// over mutual TLS, chains to the trust anchor (openssl verify), names exactly the gateway's Linkerd identity and is
// ECDSA P-256; a plaintext client gets the anchors but never the key; a token the controller refuses shows on /readyz
// with the reason (no token) while the last good certificate stays in service. Skips only without the linkerd2 source.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { IDENTITY_TOKEN_AUDIENCE } from '@meshgate/adapter-linkerd';
import { CertificateAuthority, parseCertsPem, sansOf } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { type KubeEnv, kubeBinaries, startKubeEnv } from '../lib/kube-env.ts';
import {
  type LinkerdIdentity,
  type LinkerdPki,
  linkerdBinaries,
  linkerdSourceMissing,
  makeLinkerdPki,
  startLinkerdIdentity,
} from '../lib/linkerd-env.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, waitFor } from '../lib/wait.ts';

const skip = linkerdSourceMissing();
const IDENTITY = 'gateway.edge.serviceaccount.identity.linkerd.cluster.local';
const SECRET = 'linkerd/identity';
const ROOTS = 'linkerd/roots';
const GATEWAY_NODE = 'spiffe://example.org/ns/edge/sa/gateway';

type SecretObject = {
  tls_certificate?: { certificate_chain?: { inline_string?: string }; private_key?: { inline_string?: string } };
  validation_context?: { trusted_ca?: { inline_string?: string } };
};

describe('meshgate serve with a linkerd: section', { skip, timeout: 900_000 }, () => {
  const tmp = tempDir('meshgate-linkerd-serve-');
  const p = (...parts: string[]) => join(tmp.dir, ...parts);
  let env: KubeEnv;
  let pki: LinkerdPki;
  let identity: LinkerdIdentity;
  let xdsCa: CertificateAuthority;
  let mtlsCreds: grpc.ChannelCredentials;
  let secure: MeshgateProcess;
  let plain: MeshgateProcess;
  let goodToken = '';

  const token = (audience: string) =>
    env.kubectl(['create', 'token', 'gateway', '-n', 'edge', '--audience', audience]).then((t) => t.trim());

  const config = (withTls: boolean, tokenFile: string) =>
    `${withTls ? 'xds:\n  tls: { certFile: xds/cert.pem, keyFile: xds/key.pem, caFile: xds/ca.pem }\n' : ''}` +
    `linkerd:
  identityAddress: ${identity.address}
  # No linkerd-proxy fronts the controller here.
  transport: plaintext
  serviceAccount: gateway
  namespace: edge
  tokenFile: ${tokenFile}
  trustAnchorsFile: anchor.crt
  allowedNodes: [${GATEWAY_NODE}]
services:
  - name: web
    endpoints: [{ address: 127.0.0.1, port: 50051 }]
routes:
  - { name: web, hosts: [web], backends: [{ service: web }] }
listeners:
  - { name: http, port: 8080, routes: [web] }
`;

  before(
    async () => {
      const [{ controller }] = await Promise.all([linkerdBinaries(), kubeBinaries()]);
      env = await startKubeEnv({ gatewayApiCrds: false });
      pki = makeLinkerdPki(tmp.dir);
      await env.kubectl(['create', 'namespace', 'linkerd']);
      await env.kubectl(['create', 'namespace', 'edge']);
      await env.kubectl(['create', 'serviceaccount', 'gateway', '-n', 'edge']);
      // A short issuance lifetime, so a refused renewal happens within the test while the last certificate is valid.
      identity = await startLinkerdIdentity({
        controller,
        kubeconfig: env.adminKubeconfig,
        pki,
        dir: tmp.dir,
        issuanceLifetime: '1m0s',
        clockSkewAllowance: '1s',
      });
      goodToken = await token(IDENTITY_TOKEN_AUDIENCE);
      writeAtomic(p('secure-token'), goodToken);
      writeAtomic(p('plain-token'), goodToken);

      // The xDS port's mutual TLS: a server certificate for localhost and a client certificate for the gateway node.
      xdsCa = await CertificateAuthority.createInMemory({
        commonName: 'linkerd-serve-xds',
        trustDomain: 'example.org',
      });
      const server = await xdsCa.issue({ dns: 'localhost' });
      mkdirSync(p('xds'), { recursive: true });
      writeFileSync(p('xds', 'cert.pem'), server.chainPem);
      writeFileSync(p('xds', 'key.pem'), server.keyPem, { mode: 0o600 });
      writeFileSync(p('xds', 'ca.pem'), xdsCa.bundlePem);
      const client = await xdsCa.issue({ spiffe: GATEWAY_NODE });
      mtlsCreds = grpc.credentials.createSsl(
        Buffer.from(xdsCa.bundlePem),
        Buffer.from(client.keyPem),
        Buffer.from(client.chainPem),
      );

      writeAtomic(p('secure.yaml'), config(true, 'secure-token'));
      writeAtomic(p('plain.yaml'), config(false, 'plain-token'));
      secure = new MeshgateProcess(p('secure.yaml'), ['--xds-address', '127.0.0.1']);
      plain = new MeshgateProcess(p('plain.yaml'), ['--xds-address', '127.0.0.1']);
      await Promise.all([secure.start(), plain.start()]);
      await Promise.all([secure.waitReady(60_000), plain.waitReady(60_000)]);
    },
    { timeout: 2_400_000 },
  );

  after(async () => {
    await secure?.stop();
    await plain?.stop();
    await identity?.stop();
    await env?.stop();
    tmp.cleanup();
  });

  /** The Secrets a client holds once meshgate has gone quiet. */
  async function secretsFor(
    m: MeshgateProcess,
    credentials: grpc.ChannelCredentials | undefined,
    whileConnected?: () => Promise<void>,
  ): Promise<Map<string, SecretObject>> {
    const c = await AdsClient.connect({
      address: `localhost:${m.xdsPort}`,
      node: { id: GATEWAY_NODE, cluster: 'edge', user_agent_name: 'envoy' },
      ...(credentials ? { credentials } : {}),
    });
    try {
      c.subscribe(TYPE.secret, [SECRET, ROOTS]);
      await c.next(TYPE.secret, 15_000);
      while (!(await c.quiet(TYPE.secret, 1000))) await c.next(TYPE.secret, 1000);
      await whileConnected?.();
      return new Map([...c.held(TYPE.secret)].map(([k, v]) => [k, (v.object ?? {}) as SecretObject]));
    } finally {
      c.close();
    }
  }

  test('an mTLS-verified client gets the Linkerd certificate: it chains to the anchor, names exactly the gateway, P-256', async () => {
    const got = await secretsFor(secure, mtlsCreds);
    assert.deepEqual([...got.keys()].sort(), [SECRET, ROOTS]);
    const tc = got.get(SECRET)!.tls_certificate;
    const chainPem = tc?.certificate_chain?.inline_string ?? '';
    const keyPem = tc?.private_key?.inline_string ?? '';
    const chain = parseCertsPem(chainPem, 'served chain');
    const leaf = chain[0];
    assert.deepEqual(sansOf(leaf), { dns: [IDENTITY], uris: [], other: [] });
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)), 'the served key is the leaf certificate’s');
    // The trust bundle is the anchor itself.
    const roots = parseCertsPem(got.get(ROOTS)!.validation_context?.trusted_ca?.inline_string ?? '', 'served roots');
    assert.deepEqual(
      roots.map((r) => r.fingerprint256),
      [new X509Certificate(pki.anchorPem).fingerprint256],
    );

    writeFileSync(p('served-leaf.pem'), leaf.toString());
    writeFileSync(
      p('served-intermediates.pem'),
      chain
        .slice(1)
        .map((c) => c.toString())
        .join(''),
    );
    const out = execFileSync('openssl', [
      'verify',
      '-CAfile',
      pki.anchorFile,
      '-untrusted',
      p('served-intermediates.pem'),
      '-purpose',
      'sslclient',
      p('served-leaf.pem'),
    ]).toString();
    assert.match(out, /served-leaf\.pem: OK/);
  });

  test('a plaintext client (no xds.tls, the default) gets the trust anchors but no key', async () => {
    let nodes: Array<{ id: string; refusedSecrets?: Array<{ name: string }> }> = [];
    const got = await secretsFor(plain, undefined, async () => {
      nodes = (await getJson(`${plain.adminUrl}/debug/nodes`)).body.nodes;
    });
    assert.deepEqual([...got.keys()], [ROOTS]);
    const me = nodes.find((n) => n.id === GATEWAY_NODE);
    assert.ok(
      me?.refusedSecrets?.some((r) => r.name === SECRET),
      `the refusal shows on /debug/nodes: ${JSON.stringify(nodes)}`,
    );
  });

  test('a token the controller refuses: /readyz says why (no token in it), the last good certificate stays served', async (t) => {
    const before = await secretsFor(secure, mtlsCreds);
    const servedLeaf = (m: Map<string, SecretObject>) =>
      parseCertsPem(m.get(SECRET)?.tls_certificate?.certificate_chain?.inline_string ?? '', 'served chain')[0]
        .fingerprint256;
    const badToken = await token('vault.example.com');
    writeAtomic(p('secure-token'), badToken);
    // The next renewal (about half the 1 min lifetime) reads the new token.
    let body: Record<string, unknown> = {};
    await waitFor(
      async () => {
        const r = await getJson(`${secure.adminUrl}/readyz`);
        body = r.body as Record<string, unknown>;
        return r.status === 503 && /refused/.test(JSON.stringify(body));
      },
      '/readyz 503 naming the refused Certify',
      90_000,
    );
    const text = JSON.stringify(body);
    t.diagnostic(JSON.stringify((body.sources as Record<string, { lastError?: string }>)?.linkerd?.lastError));
    assert.match(text, /refused to certify \\"gateway\.edge\.serviceaccount\.identity\.linkerd\.cluster\.local\\"/);
    assert.match(text, /audience identity\.l5d\.io/);
    assert.ok(!text.includes(badToken) && !text.includes(goodToken), 'no token on /readyz');
    assert.ok(!secure.logs(200_000).includes(badToken), 'no token in the log');

    // Still the certificate issued before the refusal, with its key.
    const afterRefusal = await secretsFor(secure, mtlsCreds);
    assert.ok(afterRefusal.get(SECRET)?.tls_certificate?.private_key?.inline_string, 'the identity is still served');
    assert.equal(servedLeaf(afterRefusal), servedLeaf(before), 'the last good certificate');

    // Fixed token: the next retry succeeds and readiness comes back.
    writeAtomic(p('secure-token'), goodToken);
    await secure.waitReady(90_000);
  });

  test('without files: a TokenRequest and the trust-roots ConfigMap through the Kubernetes API; a garbage ConfigMap shows on /readyz', async (t) => {
    const cm = (bundle: string) =>
      env.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'linkerd-identity-trust-roots', namespace: 'linkerd' },
          data: { 'ca-bundle.crt': bundle },
        }),
      });
    await cm(pki.anchorPem);
    writeAtomic(
      p('api.yaml'),
      config(true, 'unused')
        .replace(/ {2}tokenFile: .*\n/, '')
        .replace(/ {2}trustAnchorsFile: .*\n/, `  kubeconfig: ${env.adminKubeconfig}\n`),
    );
    const api = new MeshgateProcess(p('api.yaml'), ['--xds-address', '127.0.0.1']);
    try {
      await api.start();
      await api.waitReady(60_000);
      const got = await secretsFor(api, mtlsCreds);
      const chainPem = got.get(SECRET)?.tls_certificate?.certificate_chain?.inline_string ?? '';
      const leaf = parseCertsPem(chainPem, 'served chain')[0];
      assert.deepEqual(sansOf(leaf), { dns: [IDENTITY], uris: [], other: [] });
      writeFileSync(p('api-chain.pem'), chainPem);
      const out = execFileSync('openssl', [
        'verify',
        '-CAfile',
        pki.anchorFile,
        '-untrusted',
        p('api-chain.pem'),
        p('api-chain.pem'),
      ]).toString();
      assert.match(out, /api-chain\.pem: OK/);

      await cm('not a certificate');
      let text = '';
      let lastError = '';
      await waitFor(
        async () => {
          const r = await getJson(`${api.adminUrl}/readyz`);
          text = JSON.stringify(r.body);
          lastError = r.body?.sources?.linkerd?.lastError ?? '';
          return r.status === 503 && /linkerd-identity-trust-roots/.test(text);
        },
        '/readyz 503 naming the trust-roots ConfigMap',
        90_000,
      );
      t.diagnostic(lastError);
      assert.match(text, /ConfigMap linkerd\/linkerd-identity-trust-roots key ca-bundle\.crt/);
      const still = await secretsFor(api, mtlsCreds);
      assert.equal(
        parseCertsPem(still.get(SECRET)?.tls_certificate?.certificate_chain?.inline_string ?? '', 'chain')[0]
          .fingerprint256,
        leaf.fingerprint256,
        'the last good certificate stays served',
      );
      await cm(pki.anchorPem);
      await api.waitReady(90_000);
    } finally {
      await api.stop();
    }
  });
});
