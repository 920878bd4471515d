// The gateway's Istio identity from a real istiod, with no sidecar: meshgate's Istio CA client asks istiod
// (pilot-discovery, run against the real etcd + kube-apiserver of kube-env.ts) for a certificate with a
// ServiceAccount token from the TokenRequest API, and checks what comes back. `openssl verify` checks the chain
// against istio-ca-root-cert; the refusals (wrong audience, wrong root, wrong server name, another ServiceAccount's
// token) are the real istiod's and the real TLS stack's. Rotation runs through @meshgate/certs' RotationManager.
// First run builds etcd, kube-apiserver (~8 min) and istiod (~4 min) into ~/.cache/meshgate/bin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IstioCaClient,
  IstioError,
  type KubeRequester,
  readIstioRoot,
  type TokenSource,
  tokenRequestSource,
} from '@meshgate/adapter-istio';
import { CertificateAuthority, RotationManager } from '@meshgate/certs';
import type { KubeEnv } from '../lib/kube-env.ts';
import {
  adminRequester,
  type Istiod,
  type IstioEnv,
  istiodRouterClusters,
  istiodUnavailable,
  startIstioEnv,
} from '../lib/istiod.ts';
import { waitFor } from '../lib/wait.ts';

const skip = istiodUnavailable();
if (skip) console.log(`# istio suite skipped: ${skip}`);

const NS = 'gateway';
const SA = 'meshgate';
const ID = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;

let ie: IstioEnv;
let env: KubeEnv;
let istiod: Istiod;
let api: KubeRequester;
let root: string;
let dir: string;

/** A token source that remembers what it handed out, so tests can check no message carries it. */
function recording(src: TokenSource): { source: TokenSource; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    source: async () => {
      const t = await src();
      seen.push(t);
      return t;
    },
  };
}

function openssl(args: string[]): { status: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

describe('istio: a real istiod', { skip }, () => {
  before(
    async () => {
      ie = await startIstioEnv({ namespace: NS, serviceAccount: SA });
      ({ env, istiod, root } = ie);
      await env.kubectl(['create', 'serviceaccount', 'other', '-n', NS]);
      api = adminRequester(env);
      dir = mkdtempSync(join(tmpdir(), 'meshgate-istio-'));
    },
    { timeout: 3_600_000 },
  );
  after(async () => {
    await ie?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const client = (o: Partial<ConstructorParameters<typeof IstioCaClient>[0]> = {}) =>
    new IstioCaClient({
      address: istiod.caAddress,
      roots: root,
      token: tokenRequestSource(api, { namespace: NS, serviceAccount: SA }),
      namespace: NS,
      serviceAccount: SA,
      ...o,
    });

  test("the gateway's certificate from istiod verifies against istio-ca-root-cert and names exactly its ServiceAccount", async () => {
    assert.equal(await readIstioRoot(api, NS), root, 'the adapter reads the same root-cert.pem');
    const c = client({ validitySeconds: 3600 });
    try {
      const cert = await c.obtain();
      writeFileSync(join(dir, 'root.pem'), root);
      writeFileSync(join(dir, 'chain.pem'), cert.chainPem);
      writeFileSync(join(dir, 'key.pem'), cert.keyPem);
      const v = openssl([
        'verify',
        '-CAfile',
        join(dir, 'root.pem'),
        '-untrusted',
        join(dir, 'chain.pem'),
        join(dir, 'chain.pem'),
      ]);
      assert.equal(v.status, 0, v.out);
      const san = openssl(['x509', '-in', join(dir, 'chain.pem'), '-noout', '-ext', 'subjectAltName']);
      assert.match(san.out, new RegExp(`URI:${ID.replace(/[/.]/g, '\\$&')}\\s*$`));
      // The certificate is for the key meshgate made (istiod signs the CSR's public key).
      const pub = (args: string[]) => openssl(args).out;
      assert.equal(
        pub(['pkey', '-in', join(dir, 'key.pem'), '-pubout']),
        pub(['x509', '-in', join(dir, 'chain.pem'), '-noout', '-pubkey']),
      );
      const leaf = new X509Certificate(cert.chainPem);
      assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      const life = (leaf.validToDate.getTime() - Date.now()) / 1000;
      assert.ok(life > 0 && life <= 3600 + 5, `asked for 1 h, got ${life} s left`);
    } finally {
      c.close();
    }
  });

  test('a token for another audience is refused by istiod, with a clear error that does not carry the token', async () => {
    const tok = recording(tokenRequestSource(api, { namespace: NS, serviceAccount: SA, audience: 'not-istio-ca' }));
    const c = client({ token: tok.source });
    try {
      await assert.rejects(c.obtain(), (err: unknown) => {
        assert.ok(err instanceof IstioError);
        assert.equal(err.code, 'CA_AUTH_REFUSED', err.message);
        assert.match(err.message, /refused the ServiceAccount token for gateway\/meshgate/);
        assert.match(err.message, /audience istio-ca/);
        assert.equal(tok.seen.length, 1);
        assert.ok(!err.message.includes(tok.seen[0]), 'the token is not in the message');
        assert.ok(!err.message.includes(tok.seen[0].split('.')[1]), 'nor its payload');
        return true;
      });
    } finally {
      c.close();
    }
  });

  test("istiod's serving certificate is verified: another root, or another server name, refuses the connection", async () => {
    const other = await CertificateAuthority.createInMemory({ commonName: 'not the mesh root' });
    for (const [what, opts] of [
      ['another root', { roots: other.bundlePem }],
      ['another server name', { serverName: 'istiod.elsewhere.svc' }],
    ] as const) {
      const tok = recording(tokenRequestSource(api, { namespace: NS, serviceAccount: SA }));
      const c = client({ ...opts, token: tok.source });
      try {
        await assert.rejects(c.obtain(), (err: unknown) => {
          assert.ok(err instanceof IstioError, what);
          assert.equal(err.code, 'CA_SERVER_UNTRUSTED', `${what}: ${err.message}`);
          assert.match(err.message, /does not verify as "istiod\./);
          for (const t of tok.seen) assert.ok(!err.message.includes(t));
          return true;
        });
      } finally {
        c.close();
      }
    }
  });

  test("another ServiceAccount's token gets that account's identity from istiod, which the gateway refuses", async () => {
    const c = client({ token: tokenRequestSource(api, { namespace: NS, serviceAccount: 'other' }) });
    try {
      await assert.rejects(c.obtain(), (err: unknown) => {
        assert.ok(err instanceof IstioError);
        assert.equal(err.code, 'CHAIN_INVALID', err.message);
        assert.match(err.message, /SANs are \[spiffe:\/\/cluster\.local\/ns\/gateway\/sa\/other\]; expected exactly/);
        return true;
      });
    } finally {
      c.close();
    }
  });

  test('RotationManager renews the short-lived certificate from istiod before it expires', {
    timeout: 180_000,
  }, async () => {
    // istiod backdates NotBefore by 2 min, more than half of this certificate's life: renew from its arrival.
    const c = client({ validitySeconds: 60 });
    const serials: string[] = [];
    const rm = new RotationManager({
      mesh: 'istio',
      identity: ID,
      expectedSan: ID,
      keyType: 'ec-p256',
      measureFromReceipt: true,
      trustBundle: () => root,
      obtain: async () => {
        const cert = await c.obtain();
        return { chainPem: cert.chainPem, keyPem: cert.keyPem, bundlePem: cert.bundlePem };
      },
      onRotate: (cert) => serials.push(cert.serialNumber),
    });
    try {
      await rm.start();
      assert.equal(rm.status().lastError, undefined);
      assert.ok(rm.status().ready);
      const first = rm.current()!;
      await waitFor(() => serials.length >= 2, 'a second certificate from istiod', 150_000, 250);
      const s = rm.status();
      assert.equal(serials.length, 2, 'one renewal, not a loop');
      assert.notEqual(serials[0], serials[1]);
      assert.ok(Date.now() < first.notAfter.getTime(), 'renewed before the first certificate expired');
      assert.equal(s.consecutiveFailures, 0);
      assert.ok(s.ready, 'still ready after the renewal');
      assert.equal(s.san, ID);
    } finally {
      rm.stop();
      c.close();
    }
  });

  test('the oracle: istiod gives an ingress gateway Istio mTLS to sidecar endpoints (SNI, ALPN, exact SAN, ROOTCA)', async () => {
    // A Service whose one endpoint is a pod with the sidecar's tlsMode label and its own ServiceAccount. No kubelet
    // runs, so the pod's IP is written into its status as the kubelet would.
    await env.apply(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web-sa, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{name: http, port: 80, targetPort: 8080}], selector: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web, security.istio.io/tlsMode: istio}}
spec: {serviceAccountName: web-sa, containers: [{name: app, image: unused}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: ["10.1.0.5"], conditions: {ready: true}, targetRef: {kind: Pod, name: web-1, namespace: shop}}]
`);
    await env.kubectl([
      'patch',
      'pod',
      'web-1',
      '-n',
      'shop',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          phase: 'Running',
          podIP: '10.1.0.5',
          podIPs: [{ ip: '10.1.0.5' }],
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      }),
    ]);
    const name = 'outbound|80||web.shop.svc.cluster.local';
    const mtls = await waitFor(
      async () => {
        const cluster = (await istiodRouterClusters(istiod, { namespace: NS, serviceAccount: SA })).get(name) as any;
        const m = cluster?.transport_socket_matches?.find((t: any) => t.name === 'tlsMode-istio');
        return m?.transport_socket?.typed_config?.common_tls_context?.combined_validation_context ? m : undefined;
      },
      `istiod's cluster ${name} with its tlsMode-istio transport socket`,
      30_000,
      500,
    );
    assert.deepEqual(mtls.match, { fields: { tlsMode: { stringValue: 'istio' } } });
    const tls = mtls.transport_socket.typed_config;
    assert.equal(tls.sni, 'outbound_.80_._.web.shop.svc.cluster.local');
    const ctx = tls.common_tls_context;
    assert.deepEqual(ctx.alpn_protocols, ['istio-peer-exchange', 'istio']);
    assert.deepEqual(
      ctx.tls_certificate_sds_secret_configs.map((s: { name: string }) => s.name),
      ['default'],
    );
    assert.deepEqual(ctx.combined_validation_context.default_validation_context.match_subject_alt_names, [
      { exact: 'spiffe://cluster.local/ns/shop/sa/web-sa' },
    ]);
    assert.equal(ctx.combined_validation_context.validation_context_sds_secret_config.name, 'ROOTCA');
  });
});
