// A real `meshgate serve` with a `linkerd:` section against Linkerd's real identity controller (and a real
// kube-apiserver reviewing the token): the gateway's Linkerd certificate reaches an xDS client that meshgate verified
// over mutual TLS, chains to the trust anchor (openssl verify), names exactly the gateway's Linkerd identity and is
// ECDSA P-256; a plaintext client gets the anchors but never the key; a token the controller refuses shows on /readyz
// with the reason (no token) while the last good certificate stays in service. Direct mode (`linkerd.services`):
// with Linkerd's real destination controller, proxyless grpc-go and grpc-js-xds clients reach pods whose inbound side
// plays linkerd-proxy's (lib/linkerd-inbound.ts) in a network namespace; what SNI each client sends is asserted, since
// a linkerd-proxy terminates TLS only for its own identity. `linkerd.kubernetesServices`: the Kubernetes source's
// meshed Service reached the same way through its DNS route and an HTTPRoute backendRef, following the controller
// through a scale-up and a restart. Skips only without the linkerd2 source.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { IDENTITY_TOKEN_AUDIENCE } from '@meshgate/adapter-linkerd';
import { CertificateAuthority, parseCertsPem, sansOf } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { gatewayApiCrdDir, type KubeEnv, kubeBinaries, startKubeEnv } from '../lib/kube-env.ts';
import { bootstrapFiles, type Call, currentClients, type MatrixClient, runClient } from '../lib/client-matrix.ts';
import {
  issueServingCert,
  type LinkerdDestination,
  type LinkerdIdentity,
  type LinkerdPki,
  linkerdBinaries,
  linkerdSourceMissing,
  makeLinkerdPki,
  startLinkerdDestination,
  startLinkerdIdentity,
} from '../lib/linkerd-env.ts';
import { type BackendNetns, createBackendNetns } from '../lib/netns.ts';
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

  test('without files: a TokenRequest and the trust-roots ConfigMap through the Kubernetes API; a garbage ConfigMap shows on /readyz; a rotated bundle is served', async (t) => {
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

      // Linkerd's anchor rotation, first step: the bundle gains the new anchor beside the old one. meshgate notices
      // the edit (not only at the next renewal), requests a certificate checked against the new bundle and serves it.
      const next = makeLinkerdPki(p('pki-next'));
      await cm(pki.anchorPem + next.anchorPem);
      const want = [pki.anchorPem, next.anchorPem].map((a) => new X509Certificate(a).fingerprint256).sort();
      await waitFor(
        async () => {
          const roots = (await secretsFor(api, mtlsCreds)).get(ROOTS)?.validation_context?.trusted_ca?.inline_string;
          const got = parseCertsPem(roots ?? '', 'served roots').map((c) => c.fingerprint256);
          return JSON.stringify(got.sort()) === JSON.stringify(want);
        },
        'the served trust bundle to carry both anchors',
        60_000,
      );
      assert.match(
        api.logs(200_000),
        /Linkerd trust anchors changed; requesting a certificate checked against them now/,
      );
      assert.equal((await getJson(`${api.adminUrl}/readyz`)).status, 200);
    } finally {
      await api.stop();
    }
  });

  // Direct mode: no linkerd-proxy in the gateway. meshgate follows the real destination controller for each backend
  // and hands a proxyless client each endpoint's Linkerd server identity; the backends play linkerd-proxy's inbound
  // side in a network namespace (EndpointSlices refuse loopback addresses).
  describe('direct mode: linkerd.services through the real destination controller', () => {
    const NS = 'shop';
    const l5dId = (sa: string) => `${sa}.${NS}.serviceaccount.identity.linkerd.cluster.local`;
    const INBOUND = fileURLToPath(new URL('../lib/linkerd-inbound.ts', import.meta.url));
    let dst: LinkerdDestination;
    let netns: BackendNetns;
    let direct: MeshgateProcess;
    let clients: MatrixClient[];
    let bootstrap: (nodeId: string) => string;
    /** Every connection the stand-in proxies saw, in arrival order. */
    const seen: Array<{ pod: string; sni: string | null; clientSan?: string; accepted: boolean }> = [];
    const since = (i: number, pods: string[]) => seen.slice(i).filter((x) => pods.includes(x.pod));

    const service = (name: string) =>
      `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${NS}}\nspec:\n  ports: [{name: grpc, port: 8080, targetPort: 8080}]\n`;
    // A meshed pod as the proxy injector leaves it: the control-plane label and a linkerd-proxy container.
    const pod = (name: string, sa: string, meshed: boolean, annotations = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${NS}
  labels: {app: ${name}${meshed ? ', linkerd.io/control-plane-ns: linkerd' : ''}}
  ${annotations ? `annotations: {${annotations}}` : ''}
spec:
  serviceAccountName: ${sa}
  containers:
    - {name: app, image: example.invalid/app, ports: [{containerPort: 8080}]}
${
  meshed
    ? `    - name: linkerd-proxy
      image: example.invalid/proxy
      env:
        - {name: LINKERD2_PROXY_INBOUND_LISTEN_ADDR, value: "0.0.0.0:4143"}
        - {name: LINKERD2_PROXY_ADMIN_LISTEN_ADDR, value: "0.0.0.0:4191"}
        - {name: LINKERD2_PROXY_CONTROL_LISTEN_ADDR, value: "0.0.0.0:4190"}
`
    : ''
}`;
    const slice = (svc: string, eps: Array<{ ip: string; pod: string }>) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${svc}-a
  namespace: ${NS}
  labels: {kubernetes.io/service-name: ${svc}}
addressType: IPv4
ports: [{name: grpc, port: 8080, protocol: TCP}]
endpoints:
${eps
  .map(
    (e) => `  - addresses: ["${e.ip}"]
    conditions: {ready: true, serving: true, terminating: false}
    targetRef: {kind: Pod, name: ${e.pod}, namespace: ${NS}}
`,
  )
  .join('')}`;

    /** A pod's inbound proxy stand-in on ip:8080 in front of an echo app named `name` on the namespace's loopback. */
    async function inbound(name: string, ip: string, identity: string, checkSni = true): Promise<void> {
      const echo = await netns.startEcho(name, { ip: '127.0.0.1' });
      const dir = p('pods', name);
      const cert = issueServingCert(pki, dir, identity);
      writeFileSync(join(dir, 'cert.pem'), cert.chainPem);
      writeFileSync(join(dir, 'key.pem'), cert.keyPem);
      writeFileSync(join(dir, 'anchors.pem'), pki.anchorPem);
      const child = netns.spawnInNs(
        process.execPath,
        [INBOUND, JSON.stringify({ listen: `${ip}:8080`, app: echo.port, identity, dir, checkSni })],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve, reject) => {
        let buf = '';
        child.stdout?.on('data', (d) => {
          buf += d;
          for (;;) {
            const i = buf.indexOf('\n');
            if (i < 0) break;
            const line = JSON.parse(buf.slice(0, i));
            buf = buf.slice(i + 1);
            if (line.listening) resolve();
            else seen.push({ pod: name, ...line });
          }
        });
        child.once('exit', (code) => reject(new Error(`inbound stand-in ${name} exited (${code})`)));
      });
    }

    /** The gateway's current Linkerd certificate (from meshgate over SDS) as the client's certificate providers. */
    async function gatewayCertFiles(): Promise<void> {
      const got = await secretsFor(secure, mtlsCreds);
      const tc = got.get(SECRET)?.tls_certificate;
      const dir = p('gateway-cert');
      mkdirSync(dir, { recursive: true });
      writeAtomic(join(dir, 'cert.pem'), tc?.certificate_chain?.inline_string ?? '');
      writeAtomic(join(dir, 'key.pem'), tc?.private_key?.inline_string ?? '');
      writeAtomic(join(dir, 'ca.pem'), pki.anchorPem);
    }

    const directConfig = () => `linkerd:
  identityAddress: ${identity.address}
  transport: plaintext
  serviceAccount: gateway
  namespace: edge
  tokenFile: plain-token
  trustAnchorsFile: anchor.crt
  destinationAddress: ${dst.address}
  # No linkerd-proxy fronts the controllers here.
  destinationTransport: plaintext
  services:
    - { name: api, authority: api.${NS}.svc.cluster.local:8080, protocol: grpc }
    - { name: spoof, authority: spoof.${NS}.svc.cluster.local:8080, protocol: grpc }
    - { name: legacy, authority: legacy.${NS}.svc.cluster.local:8080, protocol: grpc }
routes:
  - { name: api, hosts: [api, ${l5dId('api')}], backends: [{ service: api }] }
  - { name: spoof, hosts: [spoof], backends: [{ service: spoof }] }
`;

    before(
      async () => {
        // grpc-js-xds and today's grpc-go (the old grpc-go has no GRPC_EXPERIMENTAL_XDS_SNI; see the SNI tests).
        const [{ controller, crdDir }, matrix] = await Promise.all([linkerdBinaries(), currentClients()]);
        clients = matrix;
        dst = await startLinkerdDestination({
          controller,
          crdDir,
          kubeconfig: env.adminKubeconfig,
          dir: tmp.dir,
          kubectl: env.kubectl,
        });
        netns = await createBackendNetns({ addresses: 5 });
        const [api1, api2, spoof, plainPod, opaque] = netns.nsIps;
        await env.kubectl(['create', 'namespace', NS]);
        for (const sa of ['api', 'spoof', 'legacy']) await env.kubectl(['create', 'serviceaccount', sa, '-n', NS]);
        await env.apply(
          [
            service('api'),
            service('spoof'),
            service('legacy'),
            pod('api-1', 'api', true),
            pod('api-2', 'api', true),
            pod('api-plain', 'api', false),
            pod('spoof-1', 'spoof', true),
            pod('legacy-1', 'legacy', true, '"config.linkerd.io/opaque-ports": "8080"'),
          ].join('---\n'),
        );
        for (const [name, ip] of [
          ['api-1', api1],
          ['api-2', api2],
          ['api-plain', plainPod],
          ['spoof-1', spoof],
          ['legacy-1', opaque],
        ]) {
          await env.kubectl([
            'patch',
            'pod',
            name,
            '-n',
            NS,
            '--subresource=status',
            '--type=merge',
            '-p',
            JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }),
          ]);
        }
        await env.apply(
          [
            slice('api', [
              { ip: api1, pod: 'api-1' },
              { ip: api2, pod: 'api-2' },
              { ip: plainPod, pod: 'api-plain' },
            ]),
            slice('spoof', [{ ip: spoof, pod: 'spoof-1' }]),
            slice('legacy', [{ ip: opaque, pod: 'legacy-1' }]),
          ].join('---\n'),
        );
        await inbound('api-1', api1, l5dId('api'));
        await inbound('api-2', api2, l5dId('api'));
        // The impostor answers any SNI with a certificate for another identity of the same mesh.
        await inbound('spoof-1', spoof, l5dId('api'), false);

        writeAtomic(p('direct.yaml'), directConfig());
        direct = new MeshgateProcess(p('direct.yaml'), ['--xds-address', '127.0.0.1']);
        await direct.start();
        await direct.waitReady(60_000);
        bootstrap = await bootstrapFiles(tmp.dir, direct.xdsPort, [
          '--cert-provider',
          `${SECRET}=${p('gateway-cert')}`,
          '--cert-provider',
          `${ROOTS}=${p('gateway-cert')}`,
        ]);
      },
      { timeout: 1_200_000 },
    );

    after(async () => {
      await direct?.stop();
      await netns?.destroy();
      await dst?.stop();
    });

    /** Calls through one client after refreshing the gateway certificate files (the issuance lifetime is 1 min). */
    async function calls(
      c: MatrixClient,
      target: string,
      n: number,
      env?: NodeJS.ProcessEnv,
      boot = bootstrap,
    ): Promise<Call[]> {
      await gatewayCertFiles();
      return runClient(c, {
        bootstrapFile: boot(`l5d-direct-${c.id}-${n}-${Date.now()}`),
        targets: [target],
        calls: n,
        timeoutS: n === 1 ? 5 : 20,
        xdsCreds: true,
        ...(env ? { env } : {}),
      });
    }

    test('/readyz: the destination controller’s endpoints are served; the unmeshed and the opaque pod are left out and named', async () => {
      const r = await getJson(`${direct.adminUrl}/readyz`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const l5d = r.body.sources.linkerd.details;
      const bySvc = Object.fromEntries(
        (l5d.services as Array<Record<string, unknown>>).map((x) => [x.name as string, x]),
      );
      assert.equal(bySvc.api.meshed, 2);
      assert.deepEqual(bySvc.api.identities, [l5dId('api')]);
      assert.deepEqual(bySvc.api.unmeshedLeftOut, [`${netns.nsIps[3]}:8080`]);
      assert.deepEqual(bySvc.legacy.opaqueLeftOut, [`${netns.nsIps[4]}:8080`]);
      const warnings = (l5d.warnings as string[]).join('\n');
      assert.match(warnings, /opaque transport .*which meshgate does not speak; they are left out/);
      assert.match(warnings, /no Linkerd identity .*allowPlaintextUnmeshed: true/);
    });

    test('grpc-go (GRPC_EXPERIMENTAL_XDS_SNI=true) reaches both meshed pods: SNI is each pod’s identity, the client certificate the gateway’s', async () => {
      const go = clients.find((c) => c.id === 'grpc-go')!;
      const before = seen.length;
      const got = await calls(go, 'xds:///api', 40, { GRPC_EXPERIMENTAL_XDS_SNI: 'true' });
      assert.ok(
        got.every((c) => c.ok),
        JSON.stringify(got.filter((c) => !c.ok).slice(0, 2)),
      );
      const servers = new Set(got.map((c) => c.fields?.['2']));
      assert.deepEqual([...servers].sort(), ['api-1', 'api-2'], 'both endpoints from the controller are used');
      const conns = since(before, ['api-1', 'api-2']);
      assert.ok(conns.length >= 2, `connections: ${JSON.stringify(conns)}`);
      for (const c of conns) {
        assert.ok(c.accepted, JSON.stringify(c));
        assert.equal(c.sni, l5dId('api'));
        assert.equal(c.clientSan, `DNS:${IDENTITY}`);
      }
    });

    test('grpc-go without GRPC_EXPERIMENTAL_XDS_SNI sends no SNI, so a linkerd-proxy inbound does not terminate its TLS', async () => {
      const go = clients.find((c) => c.id === 'grpc-go')!;
      const before = seen.length;
      const got = await calls(go, 'xds:///api', 1);
      assert.equal(got[0]?.ok, false, JSON.stringify(got));
      const refused = since(before, ['api-1', 'api-2']);
      assert.ok(refused.length > 0 && refused.every((x) => !x.accepted && x.sni === null), JSON.stringify(refused));
    });

    test('grpc-js-xds sends the dial target’s host as SNI: refused under the plain name, accepted when the target is the identity', async () => {
      const js = clients.find((c) => c.id === 'grpc-js-xds')!;
      const n0 = seen.length;
      const plain = await calls(js, 'xds:///api', 1);
      assert.equal(plain[0]?.ok, false, JSON.stringify(plain));
      const refused = since(n0, ['api-1', 'api-2']);
      assert.ok(refused.length > 0 && refused.every((x) => !x.accepted && x.sni === 'api'), JSON.stringify(refused));

      const before = seen.length;
      const named = await calls(js, `xds:///${l5dId('api')}`, 40);
      assert.ok(
        named.every((c) => c.ok),
        JSON.stringify(named.filter((c) => !c.ok).slice(0, 2)),
      );
      assert.deepEqual([...new Set(named.map((c) => c.fields?.['2']))].sort(), ['api-1', 'api-2']);
      for (const c of since(before, ['api-1', 'api-2'])) {
        assert.ok(c.accepted, JSON.stringify(c));
        assert.equal(c.sni, l5dId('api'));
        assert.equal(c.clientSan, `DNS:${IDENTITY}`);
      }
    });

    test('a backend presenting another Linkerd identity than the controller names is refused by the client', async (t) => {
      const before = seen.length;
      for (const c of clients) {
        const got = await calls(c, 'xds:///spoof', 1, { GRPC_EXPERIMENTAL_XDS_SNI: 'true' });
        assert.equal(got[0]?.ok, false, `${c.label}: ${JSON.stringify(got)}`);
      }
      // The client gave up during the handshake: no stream ever reached the impostor's application.
      const log = since(before, ['spoof-1']);
      t.diagnostic(`the impostor saw: ${JSON.stringify(log)}`);
      assert.ok(log.length > 0 && log.every((x) => !x.accepted), JSON.stringify(log));
    });

    test('injected ingress: /readyz warns about a routed Service without a ServiceProfile until one exists', async () => {
      writeAtomic(
        p('ingress.yaml'),
        `kubernetes:
  kubeconfig: ${env.adminKubeconfig}
  namespaces: [${NS}]
  gatewayApi: false
  linkerdIngress: true
routes:
  - { name: via-ingress, hosts: [api-ingress], backends: [{ service: k8s/${NS}/api/8080 }] }
`,
      );
      const ingress = new MeshgateProcess(p('ingress.yaml'), ['--xds-address', '127.0.0.1']);
      const warnings = async () => {
        const r = await getJson(`${ingress.adminUrl}/readyz`);
        return { status: r.status, list: (r.body.linkerdIngress?.warnings ?? []) as string[] };
      };
      try {
        await ingress.start();
        await ingress.waitReady(60_000);
        let seen: { status: number; list: string[] } = { status: 0, list: [] };
        await waitFor(async () => (seen = await warnings()).list.length > 0, 'the ServiceProfile warning', 30_000);
        assert.equal(seen.status, 200, 'advisory: readiness is not affected');
        // Every Service port is a dial target of its own (a route), so each one without a profile is named.
        const missing = (svc: string) =>
          `linkerd injected ingress: service k8s/${NS}/${svc}/8080 is routed, but namespace ${NS} has no ServiceProfile ${svc}.${NS}.svc.cluster.local; recent linkerd-proxies in ingress mode need one to resolve l5d-dst-override (create one, e.g. from \`linkerd profile --template ${svc} -n ${NS}\`)`;
        assert.deepEqual(seen.list, ['api', 'legacy', 'spoof'].map(missing));
        await env.apply(`apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: api.${NS}.svc.cluster.local, namespace: ${NS}}
spec:
  routes: [{name: all, condition: {pathRegex: "/.*"}}]
`);
        await waitFor(
          async () => (await warnings()).list.join('\n') === ['legacy', 'spoof'].map(missing).join('\n'),
          'the warning about api to clear',
          30_000,
        );
      } finally {
        await ingress.stop();
      }
    });

    test('scale down: a pod removed from the EndpointSlice stops getting calls', async () => {
      await env.apply(slice('api', [{ ip: netns.nsIps[1], pod: 'api-2' }]));
      await waitFor(
        async () => {
          const r = await getJson(`${direct.adminUrl}/readyz`);
          const api = r.body.sources.linkerd.details.services.find((x: { name: string }) => x.name === 'api');
          return api?.meshed === 1;
        },
        'the destination controller to drop api-1',
        30_000,
      );
      const go = clients.find((c) => c.id === 'grpc-go')!;
      const got = await calls(go, 'xds:///api', 20, { GRPC_EXPERIMENTAL_XDS_SNI: 'true' });
      assert.deepEqual([...new Set(got.map((c) => (c.ok ? c.fields?.['2'] : c.error)))], ['api-2']);
    });

    describe('linkerd.kubernetesServices: the Kubernetes source’s meshed Services in direct mode', () => {
      let k8s: MeshgateProcess;
      let boot: (nodeId: string) => string;
      const sni = { GRPC_EXPERIMENTAL_XDS_SNI: 'true' };
      const DNS = `xds:///api.${NS}.svc.cluster.local:8080`;
      const ROUTED = 'xds:///api.route.example';
      const conditions = async (): Promise<string[]> =>
        (await getJson(`${k8s.adminUrl}/readyz`)).body?.sources?.kubernetes?.details?.meshConditions ?? [];
      const servers = (got: Call[]) => [...new Set(got.map((c) => (c.ok ? c.fields?.['2'] : c.error)))].sort();
      /** Every connection a stand-in saw since `i` was accepted with the identity's SNI and the gateway's certificate. */
      const checkConns = (i: number) => {
        const conns = since(i, ['api-1', 'api-2']);
        assert.ok(conns.length > 0, 'connections seen');
        for (const c of conns) {
          assert.ok(c.accepted, JSON.stringify(c));
          assert.equal(c.sni, l5dId('api'));
          assert.equal(c.clientSan, `DNS:${IDENTITY}`);
        }
      };

      before(async () => {
        const crds = await gatewayApiCrdDir();
        await env.kubectl(['apply', '--server-side', '--field-manager=meshgate-tests', '-f', crds]);
        await env.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s'], {
          timeoutMs: 130_000,
        });
        await env.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshgate}
spec: {controllerName: meshgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ${NS}}
spec:
  gatewayClassName: meshgate
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: ${NS}}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [api.route.example]
  rules: [{backendRefs: [{name: api, port: 8080}]}]
`);
        // Only the meshed pod api-2 behind api to begin with.
        await env.apply(slice('api', [{ ip: netns.nsIps[1], pod: 'api-2' }]));
        writeAtomic(
          p('k8s-direct.yaml'),
          `kubernetes:
  kubeconfig: ${env.adminKubeconfig}
  namespaces: [${NS}]
  leaderElection: {enabled: false}
linkerd:
  identityAddress: ${identity.address}
  transport: plaintext
  serviceAccount: gateway
  namespace: edge
  tokenFile: plain-token
  trustAnchorsFile: anchor.crt
  destinationAddress: ${dst.address}
  destinationTransport: plaintext
  kubernetesServices: true
`,
        );
        k8s = new MeshgateProcess(p('k8s-direct.yaml'), ['--xds-address', '127.0.0.1']);
        await k8s.start();
        await k8s.waitReady(60_000);
        boot = await bootstrapFiles(tmp.dir, k8s.xdsPort, [
          '--cert-provider',
          `${SECRET}=${p('gateway-cert')}`,
          '--cert-provider',
          `${ROOTS}=${p('gateway-cert')}`,
        ]);
      });

      after(async () => {
        await k8s?.stop();
      });

      test('the DNS route and an HTTPRoute backendRef reach the meshed pod over Linkerd mTLS (SNI = its identity, the gateway’s client certificate)', async () => {
        const go = clients.find((c) => c.id === 'grpc-go')!;
        // The Kubernetes source has the Service at once; its endpoints come with the destination controller's answer.
        for (const target of [DNS, ROUTED])
          await waitFor(
            async () => (await calls(go, target, 1, sni, boot)).every((c) => c.ok),
            `a call to ${target}`,
            60_000,
          );
        for (const target of [DNS, ROUTED]) {
          const before = seen.length;
          const got = await calls(go, target, 20, sni, boot);
          assert.deepEqual(servers(got), ['api-2'], target);
          checkConns(before);
        }
      });

      test('a scale-up is followed: the new meshed pod gets calls, the new unmeshed one is named on /readyz and in the HTTPRoute’s status', async (t) => {
        const go = clients.find((c) => c.id === 'grpc-go')!;
        await env.apply(
          slice('api', [
            { ip: netns.nsIps[0], pod: 'api-1' },
            { ip: netns.nsIps[1], pod: 'api-2' },
            { ip: netns.nsIps[3], pod: 'api-plain' },
          ]),
        );
        await waitFor(
          async () => (await conditions()).some((c) => c.includes(`${netns.nsIps[3]}:8080`)),
          'the unmeshed pod named under meshConditions',
          60_000,
        );
        const before = seen.length;
        const got = await calls(go, ROUTED, 40, sni, boot);
        assert.deepEqual(servers(got), ['api-1', 'api-2']);
        checkConns(before);
        const conds = await conditions();
        t.diagnostic(conds.join('\n'));
        assert.ok(
          conds.some((c) => /k8s\/shop\/api\/8080 .*no Linkerd identity .*mesh those pods/.test(c)),
          conds.join('\n'),
        );
        assert.ok(
          conds.some((c) => /k8s\/shop\/legacy\/8080 .*opaque transport/.test(c)),
          conds.join('\n'),
        );
        // The route's status says the mesh policy is not honoured as written, and why.
        type Cond = { type: string; status: string; message?: string };
        const status = await waitFor(async () => {
          const o = JSON.parse(await env.kubectl(['get', 'httproute', 'api', '-n', NS, '-o', 'json']));
          const parent = o.status?.parents?.find(
            (x: { controllerName: string }) => x.controllerName === 'meshgate.io/gateway-controller',
          );
          const c = (parent?.conditions ?? []).find((x: Cond) => x.type === 'meshgate.io/MeshPolicyHonoured') as
            | Cond
            | undefined;
          return c?.status === 'False' && c;
        }, 'the HTTPRoute’s MeshPolicyHonoured condition');
        assert.match(status.message ?? '', /no Linkerd identity/);
      });

      test('the impostor of another meshed Service is refused', async () => {
        const go = clients.find((c) => c.id === 'grpc-go')!;
        const n0 = seen.length;
        const spoofed = await calls(go, `xds:///spoof.${NS}.svc.cluster.local:8080`, 1, sni, boot);
        assert.equal(spoofed[0]?.ok, false, JSON.stringify(spoofed));
        assert.ok(
          since(n0, ['spoof-1']).every((x) => !x.accepted),
          'no stream reached the impostor',
        );
      });

      test('the destination controller down: the last endpoints stay in service and /readyz says so; back: the condition clears', async () => {
        const go = clients.find((c) => c.id === 'grpc-go')!;
        const { controller, crdDir } = await linkerdBinaries();
        const port = Number(dst.address.split(':')[1]);
        await dst.stop();
        try {
          await waitFor(
            async () =>
              (await conditions()).some((c) => /k8s\/shop\/api\/8080 .*the last known endpoints stay/.test(c)),
            'the stream failure named under meshConditions',
            60_000,
          );
          const got = await calls(go, ROUTED, 20, sni, boot);
          assert.deepEqual(servers(got), ['api-1', 'api-2'], 'still both meshed pods');
        } finally {
          dst = await startLinkerdDestination({
            controller,
            crdDir,
            kubeconfig: env.adminKubeconfig,
            dir: tmp.dir,
            kubectl: env.kubectl,
            port,
          });
        }
        await waitFor(
          async () => !(await conditions()).some((c) => /the last known endpoints stay/.test(c)),
          'the condition to clear after the controller is back',
          60_000,
        );
      });
    });
  });
});
