// The API server goes away and comes back (restart; etcd compacted first, so resuming watches get
// 410 Gone and must relist) while clients keep calling through meshgate: no call fails, no endpoint
// is dropped on the way, and the watches resume (a later change still arrives).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECHO_PORT,
  type KubeMeshgate,
  kubeDetails,
  serviceYaml,
  sliceYaml,
  startKubeMeshgate,
} from '../lib/kube-meshgate.ts';
import type { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, waitFor } from '../lib/wait.ts';
import { XdsClientProcess } from '../lib/xds-client.ts';

let k: KubeMeshgate;
let mg: MeshgateProcess;
let client: XdsClientProcess;
const TARGET = `k8s/shop/echo/${ECHO_PORT}`;
/** grpc-js sends the target as the HTTP/2 authority, so it dials the Service's DNS-style name (no `/`). */
const DIAL = `xds:///echo.shop.svc.cluster.local:${ECHO_PORT}`;

before(
  async () => {
    k = await startKubeMeshgate(['echo-a', 'echo-b', 'echo-c']);
    await k.env.apply(serviceYaml('shop', 'echo'));
    await k.env.apply(
      sliceYaml('shop', 'echo', 'echo-1', [{ ip: k.echoes['echo-a'].ip }, { ip: k.echoes['echo-b'].ip }]),
    );
    mg = k.meshgate();
    await mg.start();
    await mg.waitReady(30_000);
    client = new XdsClientProcess(mg.xdsPort, 'k8s-resilience');
    await waitFor(async () => Object.keys((await client.burst(DIAL, 20, 3000)).counts).length === 2, 'both endpoints');
  },
  { timeout: 2_400_000 },
);
after(async () => {
  await client?.close();
  await k?.close();
});

/** Endpoint addresses meshgate serves for the service (from the envoy profile's assignment). */
async function servedEndpoints(): Promise<string[]> {
  const r = await getJson(
    `${mg.adminUrl}/debug/resources?profile=grpc&type=endpoint&name=${encodeURIComponent(TARGET)}`,
  );
  const eps = (r.body?.resource?.endpoints ?? []) as {
    lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[];
  }[];
  return eps.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)).sort();
}

describe('kubernetes resilience', () => {
  test('kube-apiserver restarts, then etcd is compacted and it restarts again (410 Gone): 0 failed calls, no endpoint lost, watches resumed', async (t) => {
    const both = [k.echoes['echo-a'].ip, k.echoes['echo-b'].ip].sort();
    assert.deepEqual(await servedEndpoints(), both);
    await client.start(DIAL, 10, 3000);
    const seen: string[][] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.push(await servedEndpoints());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    await k.env.restartApiserver();
    await waitFor(
      async () => (await kubeDetails(mg)).failing.length === 0,
      'watches healthy after the restart',
      30_000,
    );
    const relistsBefore = Number((await kubeDetails(mg)).relists);

    await k.env.compactEtcd();
    await k.env.restartApiserver();
    // A change made after the restart must arrive: the watches resumed (after relisting).
    await k.env.apply(
      sliceYaml('shop', 'echo', 'echo-1', [
        { ip: k.echoes['echo-a'].ip },
        { ip: k.echoes['echo-b'].ip },
        { ip: k.echoes['echo-c'].ip },
      ]),
    );
    await waitFor(async () => (await servedEndpoints()).length === 3, 'the endpoint added after the restart', 30_000);
    const d = await kubeDetails(mg);
    t.diagnostic(`relists: ${relistsBefore} after the plain restart, ${d.relists} after compaction + restart`);
    assert.ok(Number(d.relists) > relistsBefore, `a 410 Gone made meshgate relist (${JSON.stringify(d)})`);

    watching = false;
    await watcher;
    const summary = await client.stop(DIAL);
    t.diagnostic(`${summary.total} calls during the restarts`);
    assert.equal(summary.failures, 0, summary.errors.join('; '));
    assert.ok(summary.total > 0);
    const lost = seen.filter((s) => !both.every((ip) => s.includes(ip)));
    assert.deepEqual(lost, [], 'an endpoint disappeared while the API server was away or relisting');
  });
});
