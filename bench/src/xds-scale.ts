// S6's xDS half without the API server, for iterating on the server: N services published by the bench child
// (bench/src/our-server.ts), P SotW proxies on one HTTP/2 connection each (as S6 and Envoy), then U endpoint
// changes one at a time, each clocked to every proxy's ACK. Minutes faster than S6, which first loads a real
// kube-apiserver; S6 stays the figure of record.
//   node --conditions=source bench/src/xds-scale.ts [services=10000] [proxies=1000] [updates=10] [cpuProfDir]
import { performance } from 'node:perf_hooks';
import { Loadgen } from './loadgen.ts';
import { serviceName } from './model.ts';
import { percentile } from './scenarios.ts';
import { startServer } from './servers.ts';

const [services = 10_000, proxies = 1000, updates = 10] = process.argv.slice(2, 5).map(Number);
const cpuProfDir = process.argv[5];
const server = await startServer('ours', cpuProfDir ? { cpuProfDir } : {});
const cpu = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;
try {
  await server.ctl(`/setup?n=${services}`);
  const idle = await server.gc();
  const lg = new Loadgen({
    target: `127.0.0.1:${server.xdsPort}`,
    mode: 'sotw',
    streams: proxies,
    streamsPerChannel: 1,
    expectedServices: services,
    nodePrefix: 'xds-scale',
  });
  const t0 = performance.now();
  lg.start();
  const full = await lg.waitFull(600_000);
  if (!full.done) throw new Error(`${full.full}/${proxies} proxies got every assignment; ${lg.errors()[0] ?? ''}`);
  const fullMs = performance.now() - t0;
  const held = await server.stats();
  const s0 = await server.stats();
  const g0 = process.cpuUsage();
  const lags: number[] = [];
  const worst: number[] = [];
  for (let k = 0; k < updates; k++) {
    const svc = (k * 773 + 11) % services;
    const c = lg.tracker.announce(serviceName(svc), 31000 + k, proxies);
    await server.ctl(`/change?svc=${svc}&port=${c.port}`);
    if (!(await lg.waitChanges([c], 60_000))) throw new Error(`update ${k} ACKed by ${c.acked}/${proxies}`);
    lags.push(...c.lags);
    worst.push(Math.max(...c.lags));
  }
  const s1 = await server.stats();
  const g1 = process.cpuUsage(g0);
  console.log(
    JSON.stringify({
      services,
      proxies,
      updates,
      allHoldMs: Math.round(fullMs),
      holdP99Ms: Math.round(percentile(full.times, 99) ?? Number.NaN),
      rssIdleMB: Math.round(idle.rssKB / 1024),
      rssWithProxiesMB: Math.round(held.rssKB / 1024),
      updateAckP50Ms: Number((percentile(lags, 50) ?? Number.NaN).toFixed(1)),
      updateAckP99Ms: Number((percentile(lags, 99) ?? Number.NaN).toFixed(1)),
      worstPerUpdateMs: worst.map((w) => Math.round(w)),
      serverCpuUpdatesS: Number(((s1.cpuMs - s0.cpuMs) / 1000).toFixed(2)),
      loadgenCpuUpdatesS: Number(cpu(g1).toFixed(2)),
    }),
  );
  lg.close();
} finally {
  await server.stop();
}
