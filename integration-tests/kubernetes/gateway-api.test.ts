// Gateway API v1 objects in a real kube-apiserver: routes served to grpc-js-xds clients by hostname, and
// the status meshgate (as the chart's ServiceAccount) writes back, including the failure reasons.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  conditions,
  getObject,
  type KubeMeshgate,
  MESHGATE_NS,
  serviceYaml,
  sliceYaml,
  startKubeMeshgate,
} from '../lib/kube-meshgate.ts';
import type { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, waitFor } from '../lib/wait.ts';
import { share, XdsClientProcess } from '../lib/xds-client.ts';

let k: KubeMeshgate;
let mg: MeshgateProcess;
let client: XdsClientProcess;

const gatewayYaml = (extraListeners = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ${MESHGATE_NS}}
spec:
  gatewayClassName: meshgate
  listeners:
    - name: http
      port: 8080
      protocol: HTTP
      allowedRoutes: {namespaces: {from: All}}
${extraListeners}`;

const routeYaml = (
  name: string,
  host: string,
  backends: string,
  extra = '',
) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: ${MESHGATE_NS}, sectionName: http}]
  hostnames: [${host}]
  rules:
    - backendRefs: [${backends}]
${extra}`;

before(
  async () => {
    k = await startKubeMeshgate(['echo-v1', 'echo-v2']);
    await k.env.apply(serviceYaml('shop', 'v1'));
    await k.env.apply(serviceYaml('shop', 'v2'));
    await k.env.apply(sliceYaml('shop', 'v1', 'v1-a', [{ ip: k.echoes['echo-v1'].ip }]));
    await k.env.apply(sliceYaml('shop', 'v2', 'v2-a', [{ ip: k.echoes['echo-v2'].ip }]));
    await k.env.apply(gatewayYaml());
    mg = k.meshgate();
    await mg.start();
    await mg.waitReady(30_000);
    client = new XdsClientProcess(mg.xdsPort, 'k8s-gateway-api');
  },
  { timeout: 2_400_000 },
);
after(async () => {
  await client?.close();
  await k?.close();
});

type Obj = { metadata: { generation: number; resourceVersion: string }; status?: any };
const route = (name: string) => getObject<Obj>(k.env, ['httproute', '-n', 'shop', name]);
const parent = (o: Obj) => o.status?.parents?.find((p: any) => p.controllerName === 'meshgate.io/gateway-controller');

describe('gateway api', () => {
  test('GatewayClass and Gateway status: Accepted, Programmed, listener conditions', async () => {
    const gc = await waitFor(async () => {
      const o = await getObject<Obj>(k.env, ['gatewayclass', 'meshgate']);
      return conditions(o.status?.conditions).Accepted === 'True/Accepted' && o;
    }, 'GatewayClass Accepted');
    assert.equal(gc.status.conditions[0].observedGeneration, gc.metadata.generation);
    const gw = await waitFor(async () => {
      const o = await getObject<Obj>(k.env, ['gateway', '-n', MESHGATE_NS, 'gw']);
      return conditions(o.status?.conditions).Programmed === 'True/Programmed' && o;
    }, 'Gateway Programmed');
    assert.deepEqual(conditions(gw.status.conditions), { Accepted: 'True/Accepted', Programmed: 'True/Programmed' });
    assert.deepEqual(conditions(gw.status.listeners[0].conditions), {
      Accepted: 'True/Accepted',
      Conflicted: 'False/NoConflicts',
      ResolvedRefs: 'True/ResolvedRefs',
      Programmed: 'True/Programmed',
    });
  });

  test('HTTPRoute with weights 1:3 splits calls 1:3; status Accepted/ResolvedRefs; an edit bumps observedGeneration', async (t) => {
    await k.env.apply(
      routeYaml('split', 'split.example', '{name: v1, port: 50051, weight: 1}, {name: v2, port: 50051, weight: 3}'),
    );
    const r = await waitFor(async () => {
      const o = await route('split');
      return conditions(parent(o)?.conditions).Accepted === 'True/Accepted' && o;
    }, 'HTTPRoute status');
    assert.deepEqual(conditions(parent(r).conditions), {
      Accepted: 'True/Accepted',
      ResolvedRefs: 'True/ResolvedRefs',
    });
    assert.equal(parent(r).conditions[0].observedGeneration, 1);
    const gw = await waitFor(async () => {
      const o = await getObject<Obj>(k.env, ['gateway', '-n', MESHGATE_NS, 'gw']);
      return o.status?.listeners?.[0]?.attachedRoutes === 1 && o;
    }, 'attachedRoutes 1');
    assert.equal(gw.status.listeners[0].attachedRoutes, 1);

    await waitFor(
      async () => (await client.burst('xds:///split.example', 10, 3000)).failures === 0,
      'xds:///split.example',
    );
    const s = await client.burst('xds:///split.example', 400, 3000);
    assert.equal(s.failures, 0, s.errors.join('; '));
    const v2 = share(s, 'echo-v2');
    t.diagnostic(`share of echo-v2 with weights 1:3: ${v2.toFixed(3)} (expected 0.75)`);
    assert.ok(v2 > 0.65 && v2 < 0.85, `echo-v2 share ${v2}`);

    await k.env.apply(
      routeYaml('split', 'split.example', '{name: v1, port: 50051, weight: 1}, {name: v2, port: 50051, weight: 1}'),
    );
    const edited = await waitFor(async () => {
      const o = await route('split');
      return parent(o)?.conditions?.[0]?.observedGeneration === 2 && o;
    }, 'observedGeneration 2 after the edit');
    assert.equal(edited.metadata.generation, 2);
  });

  test('failure reasons: missing backend, cross-namespace ref without ReferenceGrant, invalid regex; the rest keeps serving', async () => {
    await k.env.apply(serviceYaml('billing', 'pay'));
    await k.env.apply(sliceYaml('billing', 'pay', 'pay-a', [{ ip: k.echoes['echo-v1'].ip }]));
    await k.env.apply(routeYaml('missing', 'missing.example', '{name: nope, port: 50051}'));
    await k.env.apply(routeYaml('cross', 'cross.example', '{name: pay, namespace: billing, port: 50051}'));
    await k.env.apply(
      routeYaml(
        'badregex',
        'bad.example',
        '{name: v1, port: 50051}',
        '      matches: [{path: {type: RegularExpression, value: "/(unclosed"}}]',
      ),
    );
    const reason = async (name: string, type: string) => conditions(parent(await route(name))?.conditions)[type];
    await waitFor(async () => (await reason('missing', 'ResolvedRefs')) === 'False/BackendNotFound', 'BackendNotFound');
    await waitFor(async () => (await reason('cross', 'ResolvedRefs')) === 'False/RefNotPermitted', 'RefNotPermitted');
    await waitFor(async () => (await reason('badregex', 'Accepted')) === 'False/UnsupportedValue', 'UnsupportedValue');
    const msg = parent(await route('badregex')).conditions[0].message as string;
    assert.match(msg, /invalid regular expression/);
    assert.match(mg.logs(100_000), /status written/);
    // Nothing of that broke the good route.
    const s = await client.burst('xds:///split.example', 20, 3000);
    assert.equal(s.failures, 0, s.errors.join('; '));

    await k.env.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: from-shop, namespace: billing}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
  to: [{group: "", kind: Service}]
`);
    await waitFor(async () => (await reason('cross', 'ResolvedRefs')) === 'True/ResolvedRefs', 'resolved by the grant');
    await waitFor(
      async () => (await client.burst('xds:///cross.example', 10, 3000)).failures === 0,
      'cross.example served',
    );
  });

  test('status writes do not loop: an unrelated change leaves a settled route untouched', async () => {
    const before = (await route('split')).metadata.resourceVersion;
    await k.env.apply(routeYaml('later', 'later.example', '{name: v1, port: 50051}'));
    await waitFor(async () => parent(await route('later')) !== undefined, 'status of the new route');
    assert.equal((await route('split')).metadata.resourceVersion, before);
  });

  test('GRPCRoute: a method match routes to its backend by hostname', async () => {
    await k.env.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: ${MESHGATE_NS}}]
  hostnames: [grpc.example]
  rules:
    - matches: [{method: {service: meshgate.examples.echo.Echo, method: Echo}}]
      backendRefs: [{name: v2, port: 50051}]
`);
    await waitFor(async () => {
      const s = await client.burst('xds:///grpc.example', 10, 3000);
      return s.failures === 0 && Object.keys(s.counts).every((c) => c.startsWith('echo-v2'));
    }, 'xds:///grpc.example to reach echo-v2');
    const o = await getObject<Obj>(k.env, ['grpcroute', '-n', 'shop', 'echo']);
    assert.deepEqual(conditions(parent(o).conditions), {
      Accepted: 'True/Accepted',
      ResolvedRefs: 'True/ResolvedRefs',
    });
  });

  test('HTTPS listener: a broken certificate Secret is InvalidCertificateRef; a good one is programmed and served over SDS', async () => {
    const dir = k.dir;
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=tls.example',
        '-keyout',
        join(dir, 'tls.key'),
        '-out',
        join(dir, 'tls.crt'),
      ],
      { stdio: 'ignore' },
    );
    const b64 = (f: string) => readFileSync(join(dir, f)).toString('base64');
    await k.env.apply(`apiVersion: v1
kind: Secret
metadata: {name: broken, namespace: ${MESHGATE_NS}}
type: kubernetes.io/tls
data: {tls.crt: ${Buffer.from('not a certificate').toString('base64')}, tls.key: ${b64('tls.key')}}
---
apiVersion: v1
kind: Secret
metadata: {name: good, namespace: ${MESHGATE_NS}}
type: kubernetes.io/tls
data: {tls.crt: ${b64('tls.crt')}, tls.key: ${b64('tls.key')}}
`);
    await k.env.apply(
      gatewayYaml(`    - name: broken
      port: 8443
      protocol: HTTPS
      hostname: broken.example
      tls: {certificateRefs: [{name: broken}]}
    - name: good
      port: 9443
      protocol: HTTPS
      tls: {certificateRefs: [{name: good}]}
`),
    );
    const listener = async (name: string) => {
      const o = await getObject<Obj>(k.env, ['gateway', '-n', MESHGATE_NS, 'gw']);
      return o.status?.listeners?.find((l: { name: string }) => l.name === name);
    };
    await waitFor(
      async () => conditions((await listener('broken'))?.conditions).ResolvedRefs === 'False/InvalidCertificateRef',
      'broken listener refused',
    );
    const broken = await listener('broken');
    assert.equal(conditions(broken.conditions).Programmed, 'False/Invalid');
    const text = JSON.stringify(broken);
    assert.match(text, /tls\.crt is not a PEM certificate/);
    assert.ok(!text.includes('PRIVATE KEY'), 'no key material in status');
    await waitFor(
      async () => conditions((await listener('good'))?.conditions).Programmed === 'True/Programmed',
      'good listener programmed',
    );
    const l = await waitFor(async () => {
      const r = await getJson(
        `${mg.adminUrl}/debug/resources?profile=envoy&type=listener&name=k8s/${MESHGATE_NS}/gw/9443`,
      );
      return r.status === 200 && r.body;
    }, 'the HTTPS listener in the envoy profile');
    assert.match(JSON.stringify(l), /DownstreamTlsContext/);
    assert.match(JSON.stringify(l), new RegExp(`k8s/${MESHGATE_NS}/good`));
    // The plain listener and its routes are still served.
    const s = await client.burst('xds:///split.example', 10, 3000);
    assert.equal(s.failures, 0, s.errors.join('; '));
  });
});
