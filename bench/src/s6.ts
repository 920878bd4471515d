// S6: Kubernetes discovery at scale, against a real etcd + kube-apiserver (built on first use by
// integration-tests/tools/, ~9 min cold). 10,000 Services with one EndpointSlice of 10 endpoints each
// (100,000 endpoints) are loaded, then:
//   - the API server's own share: a plain paged LIST of every Service and EndpointSlice, the work any
//     informer's first sync costs the server, and the API server's and etcd's CPU while loading;
//   - meshgate's initial sync time and RSS (meshgate serve as the chart's ServiceAccount);
//   - one EndpointSlice update -> change-to-ACK p99 over 1,000 proxies, clocked from just before the write.
import type { Figure } from './scenarios.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import {
  KubeRest,
  type LoadShape,
  benchServiceName,
  listAll,
  loadServices,
  namespaceOf,
  procCpuMs,
  procMemKB,
  updateSlicePort,
  watchSlicePorts,
} from './kube-load.ts';
import { Loadgen } from './loadgen.ts';
import { percentile } from './scenarios.ts';
import { applyChartRbac } from '../../integration-tests/lib/kube-chart.ts';
import { type KubeEnv, startKubeEnv } from '../../integration-tests/lib/kube-env.ts';
import { MeshgateProcess } from '../../integration-tests/lib/meshgate-process.ts';

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

    // meshgate's rows: `meshgate serve` as the chart's ServiceAccount (its RBAC rendered by helm and applied),
    // from process start to /readyz 200 (the source's first list of every Service and EndpointSlice done).
    const rbac = await applyChartRbac(env, 'meshgate');
    const dir = mkdtempSync(join(tmpdir(), 'meshgate-s6-'));
    const config = join(dir, 'meshgate.yaml');
    writeFileSync(config, stringify({ services: [], routes: [], listeners: [], kubernetes: rbac.config }));
    const mg = new MeshgateProcess(config, ['--kubeconfig', rbac.kubeconfig, '--log-level', 'warn']);
    let lg: Loadgen | undefined;
    try {
      const api0 = procCpuMs(env.pids().apiserver!);
      const t0 = performance.now();
      await mg.start();
      await mg.waitReady(300_000);
      const syncMs = performance.now() - t0;
      const apiCpu = procCpuMs(env.pids().apiserver!) - api0;
      const syncedMB = procMemKB(mg.pid!).rssKB / 1024;
      // Ready means synced; a proxy holding every cluster and assignment shows that nothing was left out.
      lg = new Loadgen({
        target: `127.0.0.1:${mg.xdsPort}`,
        mode: 'sotw', // wildcard SotW streams share one encoded set; delta keeps per-name state per stream
        streams: proxies,
        // One connection per proxy, as Envoy has. Node's HTTP/2 stops reading a socket while its own write is pending,
        // so 50 streams' 300 KB ACKs on one connection against 3 MB responses deadlocked the loadgen and server.
        streamsPerChannel: 1,
        expectedServices: shape.services,
        nodePrefix: 's6',
      });
      lg.start();
      const full = await lg.waitFull(300_000);
      if (!full.done)
        throw new Error(
          `S6: ${full.full}/${proxies} proxies got every assignment in 300 s; first stream: ${lg.streams[0]?.progress()}; ` +
            `error: ${lg.errors()[0] ?? 'none'}`,
        );
      const rssMB = procMemKB(mg.pid!).rssKB / 1024;
      fig('meshgate initial sync (start -> /readyz 200 with every endpoint)', 'ms', round(syncMs, 0));
      fig('kube-apiserver CPU during the sync', 's', round(apiCpu / 1000, 2));
      fig('meshgate RSS after sync, no proxies', 'MB', round(syncedMB, 0));
      fig(`meshgate RSS after sync, ${proxies} proxies connected`, 'MB', round(rssMB, 0));
      fig(
        `proxies holding all ${shape.services} assignments, p99 after connecting`,
        'ms',
        round(percentile(full.times, 99), 0),
      );

      // One EndpointSlice update at a time, clocked from just before the API write to each proxy's ACK.
      const updates = new KubeRest(env, 1);
      const lags: number[] = [];
      for (let k = 0; k < 10; k++) {
        const i = (k * 773 + 11) % shape.services;
        const name = `k8s/${namespaceOf(i, shape)}/${benchServiceName(i)}/8080`;
        const c = lg.tracker.announce(name, 31000 + k, proxies);
        await updateSlicePort(updates, shape, i, c.port);
        if (!(await lg.waitChanges([c], 30_000))) throw new Error(`S6: update ${k} ACKed by ${c.acked}/${proxies}`);
        lags.push(...c.lags);
      }
      updates.close();
      fig(
        `EndpointSlice update -> ACK p50 (${proxies} proxies, 10 updates, from the API write)`,
        'ms',
        round(percentile(lags, 50)),
      );
      fig(
        `EndpointSlice update -> ACK p99 (${proxies} proxies, 10 updates, from the API write)`,
        'ms',
        round(percentile(lags, 99)),
      );
    } finally {
      lg?.close();
      await mg.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await env?.stop();
  }
  return figs;
}
