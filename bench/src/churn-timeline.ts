// Diagnostic for S3: churn against one server and print, per second of the run, the p50/p99 lag
// of the changes issued in that second, and each stream's worst lag. A stream that stalls shows
// as a p99 that falls by ~1 s per second until the churn stops.
// Usage: node --conditions=source bench/src/churn-timeline.ts [ours|peer] [sotw|delta] [seconds=20] [streams=100] [services=1000]
import { Loadgen, sleep, type Mode, type Change } from './loadgen.ts';
import { serviceName } from './model.ts';
import { buildPeer, startServer, type Kind } from './servers.ts';
import { percentile } from './scenarios.ts';

const [kind = 'ours', mode = 'delta', secs = '20', nStreams = '100', nServices = '1000'] = process.argv.slice(2);
const seconds = Math.min(600, Number(secs));
const streams = Number(nStreams);
const services = Number(nServices);
const rate = 200;
const server = await startServer(kind as Kind, { peerBinary: kind === 'peer' ? buildPeer().binary : undefined });
try {
  await server.ctl(`/setup?n=${services}`);
  const lg = new Loadgen({
    target: `127.0.0.1:${server.xdsPort}`,
    mode: mode as Mode,
    streams,
    streamsPerChannel: 50,
    expectedServices: services,
    nodePrefix: 'timeline',
  });
  lg.start();
  const full = await lg.waitFull(120_000);
  console.log(`${kind} ${mode}: ${full.full}/${streams} streams converged`);
  const changes: Change[] = [];
  const m0 = lg.totals().messages;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (changes.length < due) {
      const k = changes.length;
      const c = lg.tracker.announce(serviceName(k % services), 20000 + k, streams);
      changes.push(c);
      void server.ctl(`/change?svc=${k % services}&port=${c.port}`).catch(() => undefined);
    }
    await sleep(2);
  }
  await lg.waitChanges(changes, 30_000);
  const line: string[] = [];
  for (let s = 0; s < seconds; s++) {
    const ls = changes.filter((c) => c.t0 - t0 >= s * 1000 && c.t0 - t0 < (s + 1) * 1000).flatMap((c) => c.lags);
    line.push(`${s}s ${percentile(ls, 50)?.toFixed(0)}/${percentile(ls, 99)?.toFixed(0)}`);
  }
  console.log(`lag p50/p99 ms by second issued: ${line.join(', ')}`);
  const worst = lg.streams.map((s) => s.maxLag);
  console.log(
    `per-stream worst lag ms: p50 ${percentile(worst, 50)?.toFixed(0)}, max ${Math.max(...worst).toFixed(0)}, streams > 1 s: ${worst.filter((w) => w > 1000).length}`,
  );
  console.log(
    `responses per stream during churn: ${((lg.totals().messages - m0) / streams).toFixed(0)} for ${changes.length} changes`,
  );
  console.log(`ACKs missing: ${changes.reduce((n, c) => n + c.expected - c.acked, 0)}`);
  lg.close();
} finally {
  await server.stop();
}
