// meshgate's own Istio upstream clusters against the real istiod's: with `kubernetes:` and `istio:` sections,
// `meshgate serve` reaches a Service of the mesh the way an Istio ingress gateway does. The oracle is istiod
// itself (run against the real kube-apiserver): the clusters it generates for a `router` proxy for the same
// Service are compared field by field (SNI, ALPN, SAN match, trust root, tlsMode matching). PeerAuthentication and
// DestinationRule objects written to the API server change what meshgate serves, and STRICT to a pod without a
// sidecar shows on /readyz. Deliberate differences from istiod are listed in docs/istio.md and asserted here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { CertificateAuthority } from '@meshgate/certs';
import { IstioCaClient, tokenRequestSource } from '@meshgate/adapter-istio';
import { tempDir } from '../lib/fixture.ts';
import { type MtlsBackend, startMtlsBackend } from '../lib/mtls-backend.ts';
import { MtlsClientProcess } from '../lib/mtls-client.ts';
import { createBackendNetns } from '../lib/netns.ts';
import {
  adminRequester,
  type IstioEnv,
  istiodRouterClusters,
  istiodUnavailable,
  startIstioEnv,
} from '../lib/istiod.ts';
import { writeKubeconfig } from '../lib/kube-env.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, waitFor } from '../lib/wait.ts';

const skip = istiodUnavailable();
if (skip) console.log(`# istio upstream suite skipped: ${skip}`);

const HTTP = 'k8s/shop/web/80';
const GRPC = 'k8s/shop/web/9090';
const ISTIOD_HTTP = 'outbound|80||web.shop.svc.cluster.local';
const ISTIOD_GRPC = 'outbound|9090||web.shop.svc.cluster.local';
const MESHED = '10.1.0.5';
const PLAIN = '10.1.0.6';

let ie: IstioEnv;
let mg: MeshgateProcess;
const tmp = tempDir('meshgate-istio-upstream-');

type Obj = any;

/** Clusters and assignments an Envoy gateway node gets from meshgate now. */
async function served(): Promise<{ clusters: Map<string, Obj>; endpoints: Map<string, Obj> }> {
  const c = await AdsClient.connect({
    address: `127.0.0.1:${mg.xdsPort}`,
    node: { id: 'gw-1', cluster: 'edge', user_agent_name: 'envoy' },
  });
  try {
    c.subscribe(TYPE.cluster, []);
    c.subscribe(TYPE.endpoint, [HTTP, GRPC]);
    await waitFor(
      () => c.held(TYPE.cluster).has(HTTP) && c.held(TYPE.endpoint).has(HTTP),
      'web over CDS and EDS',
      30_000,
      100,
    );
    await c.quiet(TYPE.endpoint, 300);
    const obj = (m: Map<string, { object: Obj }>) => new Map([...m].map(([k, v]) => [k, v.object]));
    return { clusters: obj(c.held(TYPE.cluster)), endpoints: obj(c.held(TYPE.endpoint)) };
  } finally {
    c.close();
  }
}

/** Polls meshgate until `check` holds for what it serves; returns that view. */
async function until(what: string, check: (s: Awaited<ReturnType<typeof served>>) => boolean) {
  return waitFor(
    async () => {
      const s = await served();
      return check(s) ? s : undefined;
    },
    what,
    30_000,
    250,
  ).catch((err: Error) => {
    const log = mg
      .logs(200_000)
      .split('\n')
      .filter((l) => !l.includes('"xds client '))
      .slice(-20);
    throw new Error(`${err.message}\nmeshgate's log (without client connects):\n${log.join('\n')}`);
  });
}

/** The tlsMode metadata of each endpoint of an assignment, by address. */
function tlsModes(cla: Obj): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const l of cla?.endpoints ?? [])
    for (const e of l.lb_endpoints ?? [])
      out[e.endpoint.address.socket_address.address] =
        e.metadata?.filter_metadata?.['envoy.transport_socket_match']?.fields?.tlsMode?.stringValue;
  return out;
}

const istioMatch = (c: Obj) =>
  c?.transport_socket_matches?.find((m: Obj) => m.match?.fields?.tlsMode?.stringValue === 'istio');

/** The fields the comparison is about, from one UpstreamTlsContext (istiod's or meshgate's). */
function tlsFields(ctx: Obj) {
  const common = ctx?.common_tls_context ?? {};
  const dvc = common.combined_validation_context?.default_validation_context ?? {};
  // istiod writes match_subject_alt_names; meshgate the typed form with san_type URI (a deliberate difference).
  const sans = [
    ...(dvc.match_subject_alt_names ?? []).map((m: Obj) => m.exact),
    ...(dvc.match_typed_subject_alt_names ?? []).map((m: Obj) => m.matcher.exact),
  ].sort();
  const sanTypes = (dvc.match_typed_subject_alt_names ?? []).map((m: Obj) => m.san_type);
  return {
    sni: ctx?.sni,
    alpn: common.alpn_protocols ?? [],
    sans,
    sanTypes,
    clientSecret: common.tls_certificate_sds_secret_configs?.map((s: Obj) => s.name),
    rootSecret: common.combined_validation_context?.validation_context_sds_secret_config?.name,
  };
}

async function oracle(name: string, check: (c: Obj) => boolean): Promise<Obj> {
  return waitFor(
    async () => {
      const c = (
        await istiodRouterClusters(ie.istiod, { namespace: ie.namespace, serviceAccount: ie.serviceAccount })
      ).get(name);
      return c && check(c) ? c : undefined;
    },
    `istiod's cluster ${name}`,
    30_000,
    500,
  );
}

/**
 * A grpc-js-xds client on meshgate's `grpc` profile. grpc-js reads certificates from files, so its certificate
 * providers are files named like meshgate's SDS Secrets: `identity` as the client certificate, `roots` as the CA.
 * Returns once a first call to `target` succeeded.
 */
async function fileClient(
  name: string,
  identity: { secret: string; chainPem: string; keyPem: string },
  roots: { secret: string; pem: string },
  target: string,
): Promise<MtlsClientProcess> {
  const files = {
    cert: join(tmp.dir, `${name}-cert.pem`),
    key: join(tmp.dir, `${name}-key.pem`),
    ca: join(tmp.dir, `${name}-ca.pem`),
  };
  writeFileSync(files.cert, identity.chainPem);
  writeFileSync(files.key, identity.keyPem, { mode: 0o600 });
  writeFileSync(files.ca, roots.pem);
  const client = new MtlsClientProcess(mg.xdsPort, `${name}-grpc`, {
    [identity.secret]: { certificate_file: files.cert, private_key_file: files.key },
    [roots.secret]: { ca_certificate_file: files.ca },
  });
  await waitFor(async () => (await client.calls(target, 1, 3000))[0].ok, `a call to ${target}`, 60_000, 500).catch(
    async (err: Error) => {
      const logs = client.logs();
      await client.close();
      throw new Error(`${err.message}\n${logs}`);
    },
  );
  return client;
}

async function fiveCallsSucceed(client: MtlsClientProcess, target: string): Promise<void> {
  const outcomes = await client.calls(target, 5, 3000);
  assert.deepEqual(
    outcomes.map((o) => o.ok),
    [true, true, true, true, true],
    JSON.stringify(outcomes),
  );
}

async function readyz(): Promise<Obj> {
  return (await getJson(`${mg.adminUrl}/readyz`)).body;
}

describe('istio: meshgate reaches mesh Services as istiod would have an ingress gateway do', { skip }, () => {
  before(
    async () => {
      ie = await startIstioEnv();
      const { env } = ie;
      // web-1 carries the sidecar label, web-2 does not. No kubelet runs: pod IPs are written into status as the
      // kubelet would (istiod maps endpoints to pods by them).
      await env.apply(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web-sa, namespace: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: legacy-sa, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: grpc, port: 9090, targetPort: 9090, appProtocol: grpc}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web, security.istio.io/tlsMode: istio}}
spec: {serviceAccountName: web-sa, containers: [{name: app, image: unused}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec: {serviceAccountName: legacy-sa, containers: [{name: app, image: unused}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}, {name: grpc, port: 9090, protocol: TCP}]
endpoints:
- {addresses: ["${MESHED}"], conditions: {ready: true}, targetRef: {kind: Pod, name: web-1, namespace: shop}}
- {addresses: ["${PLAIN}"], conditions: {ready: true}, targetRef: {kind: Pod, name: web-2, namespace: shop}}
`);
      for (const [pod, ip] of [
        ['web-1', MESHED],
        ['web-2', PLAIN],
      ])
        await env.kubectl([
          'patch',
          'pod',
          pod,
          '-n',
          'shop',
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({
            status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
          }),
        ]);
      writeKubeconfig(join(tmp.dir, 'kubeconfig.yaml'), env.apiUrl, env.caPem, 'admin', env.adminToken);
      const config = join(tmp.dir, 'meshgate.yaml');
      writeFileSync(
        config,
        `kubernetes:
  kubeconfig: kubeconfig.yaml
  gatewayApi: false
istio:
  address: ${ie.istiod.caAddress}
  namespace: ${ie.namespace}
  serviceAccount: ${ie.serviceAccount}
  kubeconfig: kubeconfig.yaml
`,
      );
      mg = new MeshgateProcess(config);
      await mg.start();
      await mg.waitReady(60_000);
    },
    { timeout: 3_600_000 },
  );
  after(async () => {
    await mg?.stop().catch(() => {});
    await ie?.stop();
    tmp.cleanup();
  });

  test("the oracle: meshgate's cluster agrees with istiod's on SNI, ALPN, SAN match, trust root and tlsMode matching", {
    timeout: 120_000,
  }, async () => {
    const { clusters, endpoints } = await until(
      'web with its Istio profile',
      (s) => !!istioMatch(s.clusters.get(HTTP)),
    );
    const theirs = await oracle(
      ISTIOD_HTTP,
      (c) => !!istioMatch(c)?.transport_socket?.typed_config?.common_tls_context,
    );
    const ours = clusters.get(HTTP);
    const t = tlsFields(istioMatch(theirs).transport_socket.typed_config);
    const m = tlsFields(istioMatch(ours).transport_socket.typed_config);
    assert.deepEqual(istioMatch(ours).match, istioMatch(theirs).match, 'both match endpoints on {tlsMode: istio}');
    assert.equal(m.sni, t.sni, 'SNI');
    assert.equal(m.sni, 'outbound_.80_._.web.shop.svc.cluster.local');
    assert.deepEqual(m.sans, t.sans, 'SAN match: the service accounts behind the Service (secure naming)');
    assert.deepEqual(m.sans, [
      'spiffe://cluster.local/ns/shop/sa/legacy-sa',
      'spiffe://cluster.local/ns/shop/sa/web-sa',
    ]);
    assert.deepEqual(m.sanTypes, ['URI', 'URI'], 'meshgate pins the SAN type (istiod matches any type)');
    // ALPN: istiod puts the in-mesh list on the cluster and its istio.alpn HTTP filter replaces it per request;
    // meshgate puts the final list an Istio client sends on the wire (no metadata exchange, no istio-peer-exchange).
    assert.deepEqual(t.alpn, ['istio-peer-exchange', 'istio']);
    assert.deepEqual(m.alpn, ['istio-http/1.1', 'istio', 'http/1.1']);
    for (const a of t.alpn.filter((x: string) => x !== 'istio-peer-exchange'))
      assert.ok(m.alpn.includes(a), `ALPN ${a}`);
    // Trust root and client certificate: istiod's SDS names are the agent's (ROOTCA, default); meshgate's are its
    // own Secrets, filled from the same istiod: the root is istio-ca-root-cert, the certificate istiod's.
    assert.equal(t.rootSecret, 'ROOTCA');
    assert.deepEqual(t.clientSecret, ['default']);
    assert.equal(m.rootSecret, 'istio/roots');
    assert.deepEqual(m.clientSecret, ['istio/default']);
    const c = await AdsClient.connect({
      address: `127.0.0.1:${mg.xdsPort}`,
      node: { id: 'gw-1', user_agent_name: 'envoy' },
    });
    try {
      c.subscribe(TYPE.secret, ['istio/roots']);
      const roots = (await c.next(TYPE.secret, 20_000)).resources.find((r) => r.name === 'istio/roots')?.object as Obj;
      const ca = roots?.validation_context?.trusted_ca;
      const pem = ca?.inline_string ?? Buffer.from(ca?.inline_bytes ?? '', 'base64').toString();
      assert.equal(pem.trim(), ie.root.trim(), 'istio/roots is the root istiod signs with');
    } finally {
      c.close();
    }
    // Neither sets a cluster-level socket: endpoints without tlsMode get plaintext.
    assert.equal(ours.transport_socket, undefined);
    assert.deepEqual(tlsModes(endpoints.get(HTTP)), { [MESHED]: 'istio', [PLAIN]: undefined });

    // Proxyless gRPC clients take one TLS setting per cluster: they get the meshed pod only, and /readyz says so.
    const notices = (await readyz())?.translation?.notices ?? [];
    assert.ok(
      notices.some((n: Obj) => n.path === `services[${HTTP}]` && n.message.includes(`${PLAIN}:8080`)),
      JSON.stringify(notices),
    );

    // The gRPC port (appProtocol grpc): HTTP/2 ALPN on both sides, same SNI rule.
    const theirsGrpc = await oracle(ISTIOD_GRPC, (x) => !!istioMatch(x));
    const tg = tlsFields(istioMatch(theirsGrpc).transport_socket.typed_config);
    const mgc = tlsFields(istioMatch(clusters.get(GRPC)).transport_socket.typed_config);
    assert.equal(mgc.sni, tg.sni);
    assert.deepEqual(tg.alpn, ['istio-peer-exchange', 'istio', 'h2']);
    assert.deepEqual(mgc.alpn, ['istio-h2', 'istio', 'h2']);
    assert.deepEqual(mgc.sans, tg.sans);
  });

  test('STRICT for the namespace: mTLS to both pods, and the pod without a sidecar is a condition on /readyz', {
    timeout: 120_000,
  }, async () => {
    // A figure, not an assertion: from the start of `kubectl apply` (a process start and an API write included) to an
    // xDS client that stays connected holding the new assignment.
    const watcher = await AdsClient.connect({
      address: `127.0.0.1:${mg.xdsPort}`,
      node: { id: 'gw-timing', cluster: 'edge', user_agent_name: 'envoy' },
    });
    let tookMs: number;
    try {
      watcher.subscribe(TYPE.cluster, []);
      watcher.subscribe(TYPE.endpoint, [HTTP]);
      await waitFor(() => watcher.held(TYPE.endpoint).has(HTTP), 'the assignment before the policy', 30_000, 50);
      const t0 = performance.now();
      await ie.env.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec: {mtls: {mode: STRICT}}
`);
      await waitFor(
        () => tlsModes(watcher.held(TYPE.endpoint).get(HTTP)?.object)[PLAIN] === 'istio',
        'STRICT on the held assignment',
        30_000,
        5,
      );
      tookMs = performance.now() - t0;
    } finally {
      watcher.close();
    }
    console.log(`# PeerAuthentication STRICT applied to served by meshgate in ${Math.round(tookMs)} ms`);
    const s = await until(
      'both endpoints on the istio profile',
      (x) => tlsModes(x.endpoints.get(HTTP))[PLAIN] === 'istio',
    );
    assert.deepEqual(tlsModes(s.endpoints.get(HTTP)), { [MESHED]: 'istio', [PLAIN]: 'istio' });
    const conditions: string[] = await waitFor(
      async () => (await readyz())?.sources?.kubernetes?.details?.meshConditions,
      'meshConditions on /readyz',
      30_000,
      250,
    );
    assert.ok(
      conditions.some((c) =>
        /^StrictWithoutSidecar: shop\/web:80: STRICT mTLS applies to pod web-2 \(10\.1\.0\.6:8080, PeerAuthentication shop\/strict\)/.test(
          c,
        ),
      ),
      JSON.stringify(conditions),
    );
    // istiod keeps tlsMode matching under STRICT (it would send plaintext to web-2): the cluster still agrees.
    const theirs = await oracle(ISTIOD_HTTP, (c) => !!istioMatch(c));
    assert.equal(
      tlsFields(istioMatch(theirs).transport_socket.typed_config).sni,
      tlsFields(istioMatch(s.clusters.get(HTTP)).transport_socket.typed_config).sni,
    );
    await ie.env.kubectl(['delete', 'peerauthentication', 'strict', '-n', 'shop']);
    await until('the plain pod back to plaintext', (x) => tlsModes(x.endpoints.get(HTTP))[PLAIN] === undefined);
    await waitFor(
      async () => (await readyz())?.sources?.kubernetes?.details?.meshConditions === undefined,
      'the condition cleared',
      30_000,
      250,
    );
  });

  test('PeerAuthentication DISABLE: plaintext to every pod, as istiod', { timeout: 120_000 }, async () => {
    await ie.env.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: disable, namespace: shop}
spec: {mtls: {mode: DISABLE}}
`);
    // CDS and EDS are pushed apart: wait for both (a loaded machine can hold EDS back past the quiet period).
    const s = await until(
      'no istio profile',
      (x) => !istioMatch(x.clusters.get(HTTP)) && tlsModes(x.endpoints.get(HTTP))[MESHED] === undefined,
    );
    assert.deepEqual(tlsModes(s.endpoints.get(HTTP)), { [MESHED]: undefined, [PLAIN]: undefined });
    const theirs = await oracle(ISTIOD_HTTP, (c) => !istioMatch(c));
    assert.equal(theirs.transport_socket, undefined);
    assert.equal(s.clusters.get(HTTP).transport_socket, undefined);
    await ie.env.kubectl(['delete', 'peerauthentication', 'disable', '-n', 'shop']);
    await until('the istio profile back', (x) => !!istioMatch(x.clusters.get(HTTP)));
  });

  test('DestinationRule ISTIO_MUTUAL: mTLS to every endpoint at cluster level; DISABLE: plaintext; both as istiod', {
    timeout: 120_000,
  }, async () => {
    await ie.env.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec: {host: web.shop.svc.cluster.local, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
`);
    const s = await until('a cluster-level Istio socket', (x) => !!x.clusters.get(HTTP)?.transport_socket);
    const theirs = await oracle(ISTIOD_HTTP, (c) => !!c.transport_socket);
    const t = tlsFields(theirs.transport_socket.typed_config);
    const m = tlsFields(s.clusters.get(HTTP).transport_socket.typed_config);
    assert.equal(m.sni, t.sni);
    assert.deepEqual(m.sans, t.sans);
    assert.equal(istioMatch(s.clusters.get(HTTP)), undefined);
    assert.equal(istioMatch(theirs), undefined);

    await ie.env.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec: {host: web.shop.svc.cluster.local, trafficPolicy: {tls: {mode: DISABLE}}}
`);
    const off = await until(
      'no TLS at all',
      (x) => !x.clusters.get(HTTP)?.transport_socket && !istioMatch(x.clusters.get(HTTP)),
    );
    assert.deepEqual(tlsModes(off.endpoints.get(HTTP)), { [MESHED]: undefined, [PLAIN]: undefined });
    const theirsOff = await oracle(ISTIOD_HTTP, (c) => !c.transport_socket && !istioMatch(c));
    assert.equal(theirsOff.transport_socket, undefined);
    await ie.env.kubectl(['delete', 'destinationrule', 'web', '-n', 'shop']);
    await until('the istio profile back', (x) => !!istioMatch(x.clusters.get(HTTP)));
  });

  test('traffic: a proxyless gRPC client through meshgate reaches a sidecar-like backend over Istio mTLS; another identity is refused', {
    timeout: 180_000,
  }, async () => {
    // Backends act as a sidecar's inbound side: a certificate istiod issued for their own ServiceAccount, a client
    // certificate from the Istio root required, the caller's SPIFFE ID checked. They listen on a host address of a
    // test network namespace (EndpointSlices refuse loopback).
    const netns = await createBackendNetns();
    const api = adminRequester(ie.env);
    const issue = async (namespace: string, serviceAccount: string) => {
      const c = new IstioCaClient({
        address: ie.istiod.caAddress,
        roots: ie.root,
        token: tokenRequestSource(api, { namespace, serviceAccount }),
        namespace,
        serviceAccount,
      });
      try {
        return await c.obtain();
      } finally {
        c.close();
      }
    };
    const backends: MtlsBackend[] = [];
    let client: MtlsClientProcess | undefined;
    try {
      for (const sa of ['pay-sa', 'rogue-sa', 'impostor-sa'])
        await ie.env.kubectl(['create', 'serviceaccount', sa, '-n', 'shop']);
      const gatewayId = `spiffe://cluster.local/ns/${ie.namespace}/sa/${ie.serviceAccount}`;
      const backend = async (name: string, sa: string) => {
        const cert = await issue('shop', sa);
        const b = await startMtlsBackend({
          name,
          caPem: ie.root,
          certChainPem: cert.chainPem,
          keyPem: cert.keyPem,
          allowedCaller: gatewayId,
          host: netns.hostIp,
        });
        backends.push(b);
        return b;
      };
      const pay = await backend('pay-1', 'pay-sa');
      // rogue-1 runs as rogue-sa, but its backend presents impostor-sa's certificate: secure naming must refuse it.
      const rogue = await backend('rogue-1', 'impostor-sa');
      const objects = (svc: string, sa: string, port: number) => `---
apiVersion: v1
kind: Service
metadata: {name: ${svc}, namespace: shop}
spec: {selector: {app: ${svc}}, ports: [{name: grpc, port: 9090, targetPort: ${port}, appProtocol: grpc}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ${svc}-1, namespace: shop, labels: {app: ${svc}, security.istio.io/tlsMode: istio}}
spec: {serviceAccountName: ${sa}, containers: [{name: app, image: unused}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${svc}-1, namespace: shop, labels: {kubernetes.io/service-name: ${svc}}}
addressType: IPv4
ports: [{name: grpc, port: ${port}, protocol: TCP}]
endpoints: [{addresses: ["${netns.hostIp}"], conditions: {ready: true}, targetRef: {kind: Pod, name: ${svc}-1, namespace: shop}}]
`;
      await ie.env.apply(objects('pay', 'pay-sa', pay.port) + objects('rogue', 'rogue-sa', rogue.port));

      // The gRPC client's own Istio identity and root, as certificate-provider files named like meshgate's Secrets.
      const gw = await issue(ie.namespace, ie.serviceAccount);
      const target = 'xds:///pay.shop.svc.cluster.local:9090';
      client = await fileClient(
        'gw',
        { secret: 'istio/default', chainPem: gw.chainPem, keyPem: gw.keyPem },
        { secret: 'istio/roots', pem: ie.root },
        target,
      );
      await fiveCallsSucceed(client, target);
      assert.ok(pay.calls.length >= 6);
      assert.ok(
        pay.calls.every((c) => c.allowed && c.spiffe === gatewayId),
        'the backend saw the gateway istiod identity',
      );

      const refused = await client.calls('xds:///rogue.shop.svc.cluster.local:9090', 3, 3000);
      assert.ok(
        refused.every((o) => !o.ok && o.code === 14 && /subject alternative name/i.test(o.error ?? '')),
        `UNAVAILABLE naming the SAN mismatch (the certificate is not rogue-sa's): ${JSON.stringify(refused)}`,
      );
      assert.equal(rogue.calls.length, 0, 'no request reached the impostor');
    } finally {
      await client?.close();
      for (const b of backends) await b.close();
      await netns.destroy();
    }
  });

  /** What meshgate serves over SDS under `name`: a certificate chain or CA PEMs. */
  async function sdsPem(name: string): Promise<string> {
    const c = await AdsClient.connect({
      address: `127.0.0.1:${mg.xdsPort}`,
      node: { id: 'gw-1', user_agent_name: 'envoy' },
    });
    try {
      c.subscribe(TYPE.secret, [name]);
      const r = (
        await waitFor(
          async () => (await c.next(TYPE.secret, 20_000)).resources.find((x) => x.name === name),
          `SDS ${name}`,
          20_000,
          0,
        )
      ).object as Obj;
      const ds = r?.tls_certificate?.certificate_chain ?? r?.validation_context?.trusted_ca;
      return String(ds?.inline_string ?? Buffer.from(ds?.inline_bytes ?? '', 'base64').toString());
    } finally {
      c.close();
    }
  }

  // The upstream's own PKI, outside the mesh: a partner CA, the gateway's client certificate from it (held in a
  // Secret of the gateway's namespace, as istiod wants it for credentialName), the partner's server certificates.
  let partnerCa: CertificateAuthority;
  let partnerClient: Awaited<ReturnType<CertificateAuthority['issue']>>;
  const PARTNER_CALLER = 'spiffe://partner.example/gateway';
  const credentialSecret = (name: string, data: Record<string, string>) =>
    ie.env.apply(
      `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: ${ie.namespace}}\ntype: Opaque\nstringData:\n${Object.entries(
        data,
      )
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`)
        .join('')}`,
    );

  test('DestinationRule MUTUAL/SIMPLE with credentialName: the Secret becomes SDS identity and CA; SNI, SANs and CA as istiod', {
    timeout: 180_000,
  }, async () => {
    partnerCa = await CertificateAuthority.createInMemory({ commonName: 'partner ca' });
    partnerClient = await partnerCa.issue({ spiffe: PARTNER_CALLER });
    const ns = ie.namespace;
    await credentialSecret('partner-client', {
      'tls.crt': partnerClient.chainPem,
      'tls.key': partnerClient.keyPem,
      'ca.crt': partnerCa.certPem,
    });
    await ie.env.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web.shop.svc.cluster.local
  trafficPolicy:
    tls: {mode: MUTUAL, credentialName: partner-client, sni: api.partner.example, subjectAltNames: [api.partner.example]}
`);
    const sni = (c: Obj) => c?.transport_socket?.typed_config?.sni;
    const s = await until(
      'TLS from the rule',
      (x) =>
        sni(x.clusters.get(HTTP)) === 'api.partner.example' && tlsModes(x.endpoints.get(HTTP))[MESHED] === undefined,
    );
    const theirs = await oracle(ISTIOD_HTTP, (c) => sni(c) === 'api.partner.example');
    const t = tlsFields(theirs.transport_socket.typed_config);
    const m = tlsFields(s.clusters.get(HTTP).transport_socket.typed_config);
    assert.equal(m.sni, t.sni, 'SNI');
    assert.deepEqual(m.sans, t.sans, 'SAN match: the rule subjectAltNames');
    assert.deepEqual(m.sanTypes, ['DNS'], 'a name without a scheme is a DNS SAN');
    assert.deepEqual(m.alpn, t.alpn, 'ALPN (none on an HTTP/1.1 port)');
    // The credential: istiod names it for its agent (kubernetes://<secret>, and -cacert for the CA); meshgate serves
    // the same Secret's certificate and CA itself under its own names.
    assert.deepEqual(t.clientSecret, ['kubernetes://partner-client']);
    assert.equal(t.rootSecret, 'kubernetes://partner-client-cacert');
    assert.deepEqual(m.clientSecret, [`istio/dr/${ns}/partner-client`]);
    assert.equal(m.rootSecret, `istio/dr/${ns}/partner-client/ca`);
    assert.equal((await sdsPem(`istio/dr/${ns}/partner-client/ca`)).trim(), partnerCa.certPem.trim());
    // The client certificate is a key-holding identity: this suite's xDS port does not authenticate clients, so it is
    // in the model but served to no node, and /readyz names it (proxyless clients read it from files, as below).
    const warnings: string[] = (await readyz())?.secrets?.warnings ?? [];
    assert.ok(
      warnings.some((w) => w.includes(`"istio/dr/${ns}/partner-client"`)),
      JSON.stringify(warnings),
    );
    assert.equal(istioMatch(s.clusters.get(HTTP)), undefined, 'one setting for every endpoint, as istiod');
    assert.equal(istioMatch(theirs), undefined);
    assert.deepEqual(tlsModes(s.endpoints.get(HTTP)), { [MESHED]: undefined, [PLAIN]: undefined });

    // SIMPLE, no sni and no subjectAltNames: istiod leaves both to Envoy's auto SNI/SAN validation from the request's
    // Host; meshgate sends the Service's name as SNI and requires it as a DNS SAN. The CA comes from the companion
    // Secret <name>-cacert when there is one, for both.
    await credentialSecret('partner-client-cacert', { cacert: partnerCa.certPem });
    await ie.env.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec: {host: web.shop.svc.cluster.local, trafficPolicy: {tls: {mode: SIMPLE, credentialName: partner-client}}}
`);
    const simple = await until('one-way TLS', (x) => sni(x.clusters.get(HTTP)) === 'web.shop.svc.cluster.local');
    const theirsSimple = await oracle(
      ISTIOD_HTTP,
      (c) =>
        !!c.transport_socket &&
        !c.transport_socket.typed_config?.common_tls_context?.tls_certificate_sds_secret_configs,
    );
    const ts = tlsFields(theirsSimple.transport_socket.typed_config);
    const ms = tlsFields(simple.clusters.get(HTTP).transport_socket.typed_config);
    assert.equal(ts.rootSecret, 'kubernetes://partner-client-cacert');
    assert.equal(ts.clientSecret, undefined);
    assert.equal(ms.clientSecret, undefined, 'SIMPLE sends no client certificate');
    assert.equal(ms.rootSecret, `istio/dr/${ns}/partner-client/ca`);
    assert.equal(ts.sni ?? '', '');
    assert.deepEqual(ts.sans, []);
    assert.deepEqual(ms.sans, ['web.shop.svc.cluster.local']);

    // The Secret goes away: nothing is sent to the Service and /readyz says why; it comes back: served again.
    await ie.env.kubectl(['delete', 'secret', 'partner-client', 'partner-client-cacert', '-n', ns]);
    const gone = await until(
      'the endpoints left out',
      (x) => !x.endpoints.get(HTTP)?.endpoints?.[0]?.lb_endpoints?.length && !x.clusters.get(HTTP).transport_socket,
    );
    assert.equal(gone.clusters.get(HTTP).transport_socket, undefined, 'no TLS either: nothing to send it to');
    const conditions: string[] = await waitFor(
      async () => (await readyz())?.sources?.kubernetes?.details?.meshConditions,
      'meshConditions on /readyz',
      30_000,
      250,
    );
    assert.ok(
      conditions.some((c) =>
        c.startsWith(
          `DestinationRuleCredential: shop/web:80: DestinationRule shop/web asks for tls.mode SIMPLE, but neither Secret ${ns}/partner-client nor ${ns}/partner-client-cacert exists`,
        ),
      ),
      JSON.stringify(conditions),
    );
    await credentialSecret('partner-client', {
      'tls.crt': partnerClient.chainPem,
      'tls.key': partnerClient.keyPem,
      'ca.crt': partnerCa.certPem,
    });
    await until('served again', (x) => sni(x.clusters.get(HTTP)) === 'web.shop.svc.cluster.local');
    await ie.env.kubectl(['delete', 'destinationrule', 'web', '-n', 'shop']);
    await until('the istio profile back', (x) => !!istioMatch(x.clusters.get(HTTP)));
  });

  test('traffic: DestinationRule MUTUAL to a TLS backend outside the mesh with the Secret client certificate; a wrong server name is refused', {
    timeout: 180_000,
  }, async () => {
    const ns = ie.namespace;
    const netns = await createBackendNetns();
    const backends: MtlsBackend[] = [];
    let client: MtlsClientProcess | undefined;
    try {
      const backend = async (name: string, dns: string) => {
        const cert = await partnerCa.issue({ dns });
        const b = await startMtlsBackend({
          name,
          caPem: partnerCa.certPem,
          certChainPem: cert.chainPem,
          keyPem: cert.keyPem,
          allowedCaller: PARTNER_CALLER,
          host: netns.hostIp,
        });
        backends.push(b);
        return b;
      };
      const api = await backend('api-1', 'api.partner.example');
      // Same CA, another name: chaining to the CA alone must not be enough.
      const wrong = await backend('wrong-1', 'other.partner.example');
      const objects = (svc: string, port: number) => `---
apiVersion: v1
kind: Service
metadata: {name: ${svc}, namespace: shop}
spec: {ports: [{name: grpc, port: 9090, targetPort: ${port}, appProtocol: grpc}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${svc}-1, namespace: shop, labels: {kubernetes.io/service-name: ${svc}}}
addressType: IPv4
ports: [{name: grpc, port: ${port}, protocol: TCP}]
endpoints: [{addresses: ["${netns.hostIp}"], conditions: {ready: true}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${svc}, namespace: shop}
spec:
  host: ${svc}.shop.svc.cluster.local
  trafficPolicy:
    portLevelSettings:
    - port: {number: 9090}
      tls: {mode: MUTUAL, credentialName: partner-client, sni: api.partner.example}
`;
      await ie.env.apply(objects('partner', api.port) + objects('wrongname', wrong.port));

      // The Secret's client certificate, and the CA as meshgate serves it.
      const target = 'xds:///partner.shop.svc.cluster.local:9090';
      client = await fileClient(
        'partner',
        { secret: `istio/dr/${ns}/partner-client`, chainPem: partnerClient.chainPem, keyPem: partnerClient.keyPem },
        { secret: `istio/dr/${ns}/partner-client/ca`, pem: await sdsPem(`istio/dr/${ns}/partner-client/ca`) },
        target,
      );
      await fiveCallsSucceed(client, target);
      assert.ok(
        api.calls.every((c) => c.allowed && c.spiffe === PARTNER_CALLER),
        "the backend saw the Secret's client certificate",
      );
      const refused = await client.calls('xds:///wrongname.shop.svc.cluster.local:9090', 3, 3000);
      assert.ok(
        refused.every((o) => !o.ok && o.code === 14 && /subject alternative name/i.test(o.error ?? '')),
        `UNAVAILABLE naming the SAN mismatch: ${JSON.stringify(refused)}`,
      );
      assert.equal(wrong.calls.length, 0, 'no request reached the backend with the wrong name');
    } finally {
      await client?.close();
      for (const b of backends) await b.close();
      await netns.destroy();
    }
  });

  test('trust domain aliases from the mesh config widen secure naming, as istiod; a bad mesh config keeps the last good one', {
    timeout: 120_000,
  }, async () => {
    const meshConfig = (mesh: string) =>
      ie.env.apply(
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: ${JSON.stringify(mesh)}\n`,
      );
    const sansOf = (c: Obj) => tlsFields(istioMatch(c)?.transport_socket?.typed_config).sans;
    const ALIAS = 'spiffe://old-td.example/ns/shop/sa/web-sa';
    await meshConfig('trustDomain: cluster.local\ntrustDomainAliases: [old-td.example]\n');
    const s = await until('alias SANs', (x) => sansOf(x.clusters.get(HTTP)).includes(ALIAS));
    const theirs = await oracle(ISTIOD_HTTP, (c) => !!istioMatch(c) && sansOf(c).includes(ALIAS));
    assert.deepEqual(sansOf(s.clusters.get(HTTP)), sansOf(theirs), 'the same SANs as istiod, aliases included');
    assert.deepEqual(sansOf(theirs), [
      'spiffe://cluster.local/ns/shop/sa/legacy-sa',
      'spiffe://cluster.local/ns/shop/sa/web-sa',
      'spiffe://old-td.example/ns/shop/sa/legacy-sa',
      ALIAS,
    ]);

    await meshConfig('trustDomainAliases: old-td.example\n');
    const conditions: string[] = await waitFor(
      async () => (await readyz())?.sources?.kubernetes?.details?.meshConditions,
      'meshConditions on /readyz',
      30_000,
      250,
    );
    assert.ok(
      conditions.some((c) =>
        c.startsWith(
          'MeshConfig: ConfigMap istio-system/istio key mesh trustDomainAliases must be a list of trust domain names; meshgate keeps the last good mesh config (trustDomainAliases ["old-td.example"])',
        ),
      ),
      JSON.stringify(conditions),
    );
    assert.ok(sansOf((await served()).clusters.get(HTTP)).includes(ALIAS), 'the last good aliases stay');

    await ie.env.kubectl(['delete', 'configmap', 'istio', '-n', 'istio-system']);
    const back = await until('no alias SANs', (x) => !sansOf(x.clusters.get(HTTP)).includes(ALIAS));
    assert.deepEqual(sansOf(back.clusters.get(HTTP)), [
      'spiffe://cluster.local/ns/shop/sa/legacy-sa',
      'spiffe://cluster.local/ns/shop/sa/web-sa',
    ]);
    assert.equal((await readyz())?.sources?.kubernetes?.details?.meshConditions, undefined);
  });

  test('a changed istio-ca-root-cert reaches istio/roots without a certificate request', {
    timeout: 120_000,
  }, async () => {
    // istiod rewrites the ConfigMap in every namespace it manages; kube-public is one it leaves alone, so the test
    // can change the root there (istiod's root plus a second CA, as during a root rotation).
    const NS = 'kube-public';
    await ie.env.kubectl(['create', 'serviceaccount', 'meshgate', '-n', NS]);
    const extra = (await CertificateAuthority.createInMemory({ commonName: 'next mesh root' })).bundlePem;
    const configMap = (pem: string) =>
      ie.env.apply(
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio-ca-root-cert, namespace: ${NS}}\ndata:\n  root-cert.pem: ${JSON.stringify(pem)}\n`,
      );
    await configMap(ie.root);
    const config = join(tmp.dir, 'root-watch.yaml');
    writeFileSync(
      config,
      `istio:\n  address: ${ie.istiod.caAddress}\n  namespace: ${NS}\n  serviceAccount: meshgate\n  kubeconfig: kubeconfig.yaml\n`,
    );
    const other = new MeshgateProcess(config);
    try {
      await other.start();
      await other.waitReady(60_000);
      const roots = async () => {
        const c = await AdsClient.connect({
          address: `127.0.0.1:${other.xdsPort}`,
          node: { id: 'gw-2', user_agent_name: 'envoy' },
        });
        try {
          c.subscribe(TYPE.secret, ['istio/roots']);
          const r = (await c.next(TYPE.secret, 20_000)).resources.find((x) => x.name === 'istio/roots')?.object as Obj;
          const ca = r?.validation_context?.trusted_ca;
          return String(ca?.inline_string ?? Buffer.from(ca?.inline_bytes ?? '', 'base64').toString());
        } finally {
          c.close();
        }
      };
      assert.equal((await roots()).trim(), ie.root.trim());
      const rotations = async () =>
        ((await getJson(`${other.adminUrl}/readyz`)).body as Obj).sources.istio.details.rotations;
      const before = await rotations();
      await configMap(`${ie.root.trim()}\n${extra.trim()}\n`);
      const now = await waitFor(
        async () => {
          const pem = await roots();
          return pem.includes(extra.trim()) ? pem : undefined;
        },
        'the new root over SDS',
        30_000,
        250,
      );
      assert.ok(now.includes(ie.root.trim()), 'the old root stays next to the new one');
      assert.equal(await rotations(), before, 'no new certificate was needed');
    } finally {
      await other.stop().catch(() => {});
    }
  });
});
