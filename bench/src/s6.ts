// S6: Kubernetes discovery at scale, against a real etcd + kube-apiserver (built on first use by
// integration-tests/tools/, ~9 min cold). 10,000 Services with one EndpointSlice of 10 endpoints each
// (100,000 endpoints) are loaded, then:
//   - the API server's own share: a plain paged LIST of every Service and EndpointSlice, the work any
//     informer's first sync costs the server, and the API server's and etcd's CPU while loading;
//   - meshgate's initial sync time and RSS (meshgate serve as the chart's ServiceAccount);
//   - one EndpointSlice update -> change-to-ACK p99 over 1,000 proxies, clocked from just before the write.
// meshgate's side needs packages/adapter-kubernetes; until then those rows are null.
import type { Figure } from './scenarios.ts';
import { performance } from 'node:perf_hooks';
import { KubeRest, type LoadShape, listAll, loadServices, updateSlicePort, watchSlicePorts } from './kube-load.ts';
import { percentile } from './scenarios.ts';
import { type KubeEnv, startKubeEnv } from '../../integration-tests/lib/kube-env.ts';

async function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`S6: condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const round = (v: number | null, digits = 1): number | null => (v === null ? null : Number(v.toFixed(digits)));

export async function s6(shape: LoadShape, proxies: number): Promise<Figure[]> {
  const scenario = `S6 kubernetes ${shape.services} svc x ${shape.endpointsPerService} endpoints`;
  const figs: Figure[] = [];
  const fig = (metric: string, unit: string, value: number | null) => figs.push({ scenario, metric, unit, value });
  let env: KubeEnv | undefined;
  try {
    env = await startKubeEnv();
    const load = await loadServices(env, shape, env.pids());
    fig(`load: ${load.objects} objects created (${shape.concurrency} in flight)`, 's', round(load.wallMs / 1000, 2));
    fig('load: objects per second', '1/s', round(load.perSecond, 0));
    fig('load: kube-apiserver CPU', 's', round(load.apiserverCpuMs / 1000, 2));
    fig('load: etcd CPU', 's', round(load.etcdCpuMs / 1000, 2));
    fig('load: loader CPU (context)', 's', round(load.clientCpuMs / 1000, 2));

    const svcList = await listAll(env, '/api/v1/services');
    const sliceList = await listAll(env, '/apis/discovery.k8s.io/v1/endpointslices');
    if (sliceList.items < shape.services) throw new Error(`listed ${sliceList.items} slices, loaded ${shape.services}`);
    fig('API server share: plain paged LIST of all Services (500/page)', 'ms', round(svcList.ms));
    fig('API server share: plain paged LIST of all EndpointSlices (500/page)', 'ms', round(sliceList.ms));

    // The API server's share of an update: write -> event at a plain watcher of every slice.
    const rest = new KubeRest(env, 1);
    const rv = (await rest.call('GET', '/apis/discovery.k8s.io/v1/endpointslices?limit=1')).metadata.resourceVersion;
    const sent = new Map<number, number>();
    const lags: number[] = [];
    const watcher = watchSlicePorts(env, rv, (port, at) => {
      const t0 = sent.get(port);
      if (t0 !== undefined) lags.push(at - t0);
    });
    await watcher.ready;
    for (let k = 0; k < 20; k++) {
      const port = 30000 + k;
      sent.set(port, performance.now());
      await updateSlicePort(rest, shape, (k * 499) % shape.services, port);
    }
    await waitUntil(() => lags.length >= 20, 10_000);
    watcher.close();
    rest.close();
    fig(
      'API server share: slice write -> event at a plain watcher, p50 (20 writes)',
      'ms',
      round(percentile(lags, 50)),
    );
    fig('API server share: slice write -> event at a plain watcher, max', 'ms', round(Math.max(...lags)));

    // meshgate's rows: initial sync, RSS, change -> ACK at `proxies` proxies. They need the Kubernetes source.
    for (const [metric, unit] of [
      ['meshgate initial sync (start -> /readyz 200 with every endpoint)', 'ms'],
      ['kube-apiserver CPU during the sync', 's'],
      ['meshgate RSS after sync', 'MB'],
      [`EndpointSlice update -> ACK p50 (${proxies} proxies, from the API write)`, 'ms'],
      [`EndpointSlice update -> ACK p99 (${proxies} proxies, from the API write)`, 'ms'],
    ] as const)
      fig(metric, unit, null);
    console.error(
      '  S6: meshgate rows are null: the Kubernetes source (packages/adapter-kubernetes) is not on this branch',
    );
  } finally {
    await env?.stop();
  }
  return figs;
}
