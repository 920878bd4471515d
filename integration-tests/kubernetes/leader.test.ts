// Two meshgate replicas against one API server: both serve xDS, exactly one (the Lease holder) writes
// Gateway API status; when the leader is killed, the other takes the Lease once it runs out and writes
// the status of the next change.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECHO_PORT,
  getObject,
  type KubeMeshgate,
  kubeDetails,
  MESHGATE_NS,
  serviceYaml,
  sliceYaml,
  startKubeMeshgate,
} from '../lib/kube-meshgate.ts';
import type { MeshgateProcess } from '../lib/meshgate-process.ts';
import { waitFor } from '../lib/wait.ts';
import { XdsClientProcess } from '../lib/xds-client.ts';

let k: KubeMeshgate;
let replicas: MeshgateProcess[];
const clients: XdsClientProcess[] = [];
/** Set in kube-meshgate.ts for these tests (the chart's default is 15 s). */
const LEASE_SECONDS = 4;

const routeYaml = (name: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: ${MESHGATE_NS}}]
  hostnames: [${name}.example]
  rules: [{backendRefs: [{name: echo, port: ${ECHO_PORT}}]}]
`;

before(
  async () => {
    k = await startKubeMeshgate(['echo-a']);
    await k.env.apply(serviceYaml('shop', 'echo'));
    await k.env.apply(sliceYaml('shop', 'echo', 'echo-1', [{ ip: k.echoes['echo-a'].ip }]));
    await k.env.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ${MESHGATE_NS}}
spec:
  gatewayClassName: meshgate
  listeners: [{name: http, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
`);
    replicas = [k.meshgate(), k.meshgate()];
    for (const r of replicas) await r.start();
    for (const r of replicas) await r.waitReady(30_000);
    for (const [i, r] of replicas.entries()) clients.push(new XdsClientProcess(r.xdsPort, `k8s-leader-${i}`));
  },
  { timeout: 2_400_000 },
);
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await k?.close();
});

const leaders = async () =>
  Promise.all(replicas.map(async (r) => (await kubeDetails(r).catch(() => ({}))).leader === true));
const routeAccepted = async (name: string) => {
  const o = await getObject(k.env, ['httproute', '-n', 'shop', name]);
  return (o.status?.parents ?? []).some((p: { conditions: { type: string; status: string }[] }) =>
    p.conditions.some((c) => c.type === 'Accepted' && c.status === 'True'),
  );
};

describe('leader election', () => {
  test('two replicas: both serve, one writes status; kill the leader and the other takes over within the lease time', async (t) => {
    const who = await waitFor(async () => {
      const l = await leaders();
      return l.filter(Boolean).length === 1 && l;
    }, 'exactly one leader');
    const leader = who.indexOf(true);
    const follower = 1 - leader;

    await k.env.apply(routeYaml('first'));
    await waitFor(() => routeAccepted('first'), 'status of the first route');
    for (const c of clients)
      await waitFor(async () => (await c.burst('xds:///first.example', 10, 3000)).failures === 0, `${c.nodeId} served`);
    assert.match(replicas[leader].logs(100_000), /status written/);
    assert.doesNotMatch(replicas[follower].logs(100_000), /status written/, 'the follower wrote status');
    const lease = await getObject(k.env, [
      'lease',
      '-n',
      MESHGATE_NS,
      String((k.rbac.config.leaderElection as { leaseName: string }).leaseName),
    ]);
    assert.ok(lease.spec.holderIdentity, JSON.stringify(lease.spec));

    const killedAt = Date.now();
    await replicas[leader].kill();
    await waitFor(
      async () => (await kubeDetails(replicas[follower])).leader === true,
      'the follower to lead',
      (LEASE_SECONDS + 6) * 1000,
    );
    const took = Date.now() - killedAt;
    t.diagnostic(`leader killed -> follower leads after ${took} ms (lease ${LEASE_SECONDS} s)`);
    await k.env.apply(routeYaml('second'));
    await waitFor(() => routeAccepted('second'), 'status written by the new leader');
    assert.match(replicas[follower].logs(100_000), /status written/);
    // The survivor kept serving the whole time.
    const s = await clients[follower].burst('xds:///second.example', 10, 3000);
    assert.equal(s.failures, 0, s.errors.join('; '));
  });
});
