// The Kubernetes test harness itself, against the real etcd + kube-apiserver it starts: the Gateway API CRDs
// are served, an EndpointSlice takes a backend address from a test network namespace (and refuses loopback,
// which is why the namespace exists), RBAC holds for a TokenRequest ServiceAccount, data survives an API
// server restart, an etcd compaction turns an old resourceVersion into 410 Gone, and stop() leaves nothing.
// First run builds etcd (~1 min) and kube-apiserver (~8 min) into ~/.cache/meshgate/bin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { loadEcho } from '../../examples/backends/echo-proto.ts';
import { applyChartRbac } from '../lib/kube-chart.ts';
import { type KubeEnv, kubeBinaries, startKubeEnv } from '../lib/kube-env.ts';
import { type BackendNetns, createBackendNetns } from '../lib/netns.ts';

let env: KubeEnv;
let ns: BackendNetns;

before(
  async () => {
    await kubeBinaries();
    env = await startKubeEnv();
    ns = await createBackendNetns();
  },
  { timeout: 2_400_000 },
);
after(async () => {
  await ns?.destroy();
  await env?.stop();
});

/** GET as the admin; the watch variant resolves with the first event line (or the non-200 status). */
function adminGet(path: string, opts: { firstLine?: boolean } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${env.apiUrl}${path}`,
      { ca: env.caPem, headers: { authorization: `Bearer ${env.adminToken}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (opts.firstLine && body.includes('\n')) {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, body: body.split('\n')[0] });
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`GET ${path}: no answer in 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

const serviceYaml = (name: string, ip: string, port: number) => `apiVersion: v1
kind: Namespace
metadata: {name: harness}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: harness}
spec:
  ports: [{name: grpc, port: 50051, appProtocol: grpc}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-a
  namespace: harness
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports: [{name: grpc, port: ${port}, protocol: TCP}]
endpoints:
  - addresses: ["${ip}"]
    conditions: {ready: true, serving: true, terminating: false}
`;

describe('kube-env', () => {
  test('the Gateway API standard CRDs are established and served', async () => {
    const out = await env.kubectl(['api-resources', '--api-group=gateway.networking.k8s.io', '-o', 'name']);
    for (const r of ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants']) {
      assert.match(out, new RegExp(`^${r}\\.gateway\\.networking\\.k8s\\.io$`, 'm'), `${r} is served`);
    }
    const list = JSON.parse(await env.kubectl(['get', 'httproutes', '-A', '-o', 'json']));
    assert.deepEqual(list.items, []);
  });

  test('an EndpointSlice takes a network-namespace address the host can reach, and refuses loopback', async () => {
    const echo = await ns.startEcho('echo-k8s');
    await env.apply(serviceYaml('echo', ns.nsIp, echo.port));
    const slice = JSON.parse(await env.kubectl(['get', 'endpointslice', 'echo-a', '-n', 'harness', '-o', 'json']));
    assert.deepEqual(slice.endpoints[0].addresses, [ns.nsIp]);
    assert.equal(slice.ports[0].port, echo.port);

    // What the slice says is where a client really gets an answer.
    const { Client } = loadEcho();
    const client = new Client(`${ns.nsIp}:${echo.port}`, grpc.credentials.createInsecure());
    const reply = await new Promise<any>((resolve, reject) =>
      client.Echo(
        { message: 'hi' },
        new grpc.Metadata(),
        { deadline: Date.now() + 5000 },
        (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r)),
      ),
    );
    client.close();
    assert.equal(reply.server, 'echo-k8s');

    await assert.rejects(env.apply(serviceYaml('loop', '127.0.0.1', echo.port)), /may not be in the loopback range/);
    await echo.stop();
  });

  test('a TokenRequest ServiceAccount kubeconfig is bound by RBAC: nothing until a Role grants it', async () => {
    const kc = await env.serviceAccountKubeconfig('harness', 'reader');
    const asReader = (args: string[]) => env.kubectl(['--kubeconfig', kc, ...args]);
    await assert.rejects(asReader(['get', 'services', '-n', 'harness']), /forbidden/i);
    await env.apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: harness}
rules: [{apiGroups: [""], resources: [services], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: harness}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: reader, namespace: harness}]
`);
    const names = (await asReader(['get', 'services', '-n', 'harness', '-o', 'name'])).trim();
    assert.match(names, /^service\/echo$/m);
    await assert.rejects(asReader(['get', 'secrets', '-n', 'harness']), /forbidden/i);
  });

  test('restartApiserver: the API server comes back on the same URL with the data in etcd', async () => {
    const before = JSON.parse(await env.kubectl(['get', 'service', 'echo', '-n', 'harness', '-o', 'json']));
    const pid = env.pids().apiserver;
    await env.restartApiserver();
    assert.notEqual(env.pids().apiserver, pid, 'a new kube-apiserver process');
    const afterRestart = JSON.parse(await env.kubectl(['get', 'service', 'echo', '-n', 'harness', '-o', 'json']));
    assert.equal(afterRestart.metadata.uid, before.metadata.uid);
    assert.equal(afterRestart.metadata.resourceVersion, before.metadata.resourceVersion);
  });

  test('compactEtcd, then a restart: a watch resumed from an older resourceVersion gets 410 Gone', async () => {
    // The list's own resourceVersion (kubectl get -o json would build a List without one).
    const first = JSON.parse(
      await env.kubectl(['get', '--raw', '/apis/discovery.k8s.io/v1/namespaces/harness/endpointslices']),
    );
    const oldRv = first.metadata.resourceVersion;
    assert.match(oldRv, /^\d+$/);
    const watchFrom = (rv: string) =>
      adminGet(`/apis/discovery.k8s.io/v1/namespaces/harness/endpointslices?watch=1&resourceVersion=${rv}`, {
        firstLine: true,
      });
    for (let i = 0; i < 3; i++) {
      await env.kubectl(['annotate', 'endpointslice', 'echo-a', '-n', 'harness', `bump=${i}`, '--overwrite']);
    }
    // Before: the old resourceVersion is still watchable, and the first event is the first bump.
    const ok = await watchFrom(oldRv);
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).type, 'MODIFIED', ok.body);
    assert.equal(JSON.parse(ok.body).object.metadata.annotations.bump, '0');

    await env.compactEtcd();
    await env.restartApiserver();
    const gone = await watchFrom(oldRv);
    const status = gone.status === 200 ? JSON.parse(gone.body).object : JSON.parse(gone.body);
    assert.equal(status.code, 410, `expected 410 Gone, got HTTP ${gone.status}: ${gone.body}`);
    assert.equal(status.reason, 'Expired');
    // A read at exactly the old resourceVersion falls through the new cache to etcd, which compacted it.
    const exact = await adminGet(
      `/apis/discovery.k8s.io/v1/namespaces/harness/endpointslices?resourceVersion=${oldRv}&resourceVersionMatch=Exact`,
    );
    assert.equal(exact.status, 410, exact.body);
    // Only history is gone: the current object, with every bump, is intact.
    const now = JSON.parse(await env.kubectl(['get', 'endpointslice', 'echo-a', '-n', 'harness', '-o', 'json']));
    assert.equal(now.metadata.annotations.bump, '2');
  });

  test("applyChartRbac: the chart's ServiceAccount may do what the chart grants on the real API server, nothing more", async () => {
    const rbac = await applyChartRbac(env, 'meshgate-system', { set: ['kubernetes.pods=true'] });
    const canI = async (...args: string[]) =>
      (await env.kubectl(['--kubeconfig', rbac.kubeconfig, 'auth', 'can-i', ...args]).catch((e: Error) => e.message))
        .trim()
        .endsWith('yes');
    const gw = 'gateway.networking.k8s.io';
    const yes: string[][] = [
      ['list', 'services', '-A'],
      ['watch', 'endpointslices.discovery.k8s.io', '-A'],
      ['watch', 'pods', '-A'],
      ['list', 'namespaces'],
      ['watch', `gatewayclasses.${gw}`],
      ['watch', `httproutes.${gw}`, '-A'],
      ['list', `referencegrants.${gw}`, '-A'],
      ['patch', `httproutes.${gw}`, '--subresource=status', '-n', 'harness'],
      ['update', `gateways.${gw}`, '--subresource=status', '-n', 'harness'],
      ['update', `gatewayclasses.${gw}`, '--subresource=status'],
      ['create', 'leases.coordination.k8s.io', '-n', 'meshgate-system'],
      ['update', 'leases.coordination.k8s.io/meshgate-leader', '-n', 'meshgate-system'],
      ['watch', 'secrets', '-n', 'meshgate-system'],
    ];
    const no: string[][] = [
      ['list', 'secrets', '-n', 'harness'],
      ['get', 'configmaps', '-n', 'meshgate-system'],
      ['update', `httproutes.${gw}`, '-n', 'harness'],
      ['create', `gateways.${gw}`, '-n', 'harness'],
      ['delete', 'services', '-n', 'harness'],
      ['update', 'endpointslices.discovery.k8s.io', '-n', 'harness'],
      ['create', 'leases.coordination.k8s.io', '-n', 'harness'],
      ['update', 'leases.coordination.k8s.io/someone-else', '-n', 'meshgate-system'],
    ];
    for (const a of yes) assert.equal(await canI(...a), true, `the chart grants: ${a.join(' ')}`);
    for (const a of no) assert.equal(await canI(...a), false, `the chart does not grant: ${a.join(' ')}`);
    // A real read with that token, and the GatewayClass the chart made.
    const slices = JSON.parse(
      await env.kubectl(['--kubeconfig', rbac.kubeconfig, 'get', 'endpointslices', '-A', '-o', 'json']),
    );
    assert.ok(slices.items.some((s: any) => s.metadata.name === 'echo-a'));
    const gc = JSON.parse(await env.kubectl(['get', 'gatewayclass', 'meshgate', '-o', 'json']));
    assert.equal(gc.spec.controllerName, 'meshgate.io/gateway-controller');
    assert.equal((rbac.config.leaderElection as any).leaseName, 'meshgate-leader');
  });

  test('stop: both processes exit and the temp dir is removed', async () => {
    const { etcd, apiserver } = env.pids();
    await env.stop();
    const alive = (pid?: number) => {
      try {
        process.kill(pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.equal(alive(apiserver), false, 'kube-apiserver exited');
    assert.equal(alive(etcd), false, 'etcd exited');
    if (process.env.MESHGATE_KEEP_KUBE_ENV !== '1') assert.equal(existsSync(env.dir), false);
  });
});
