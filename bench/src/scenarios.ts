// The benchmark scenarios. Each runs against one server kind and returns named figures; main.ts
// pairs ours with the peer's. Every loop is bounded in count and time and targets 127.0.0.1.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Loadgen, sleep, type Change, type Mode } from './loadgen.ts';
import { serviceName } from './model.ts';
import { BENCH_DIR, startServer, type Kind, type ServerHandle, type StartOptions } from './servers.ts';

const run = promisify(execFile);

export interface Figure {
  scenario: string;
  metric: string;
  unit: string;
  value: number | null;
}

export interface Config {
  quick: boolean;
  s1Sizes: number[];
  fanout: { streams: number; services: number; rounds: number; perChannel: number };
  churn: { streams: number; services: number; rate: number; seconds: number; window: number; perChannel: number };
  modes: Mode[];
}

export const FULL: Config = {
  quick: false,
  s1Sizes: [1000, 10000],
  fanout: { streams: 1000, services: 1000, rounds: 5, perChannel: 100 },
  churn: { streams: 100, services: 1000, rate: 200, seconds: 60, window: 30, perChannel: 50 },
  modes: ['sotw', 'delta'],
};

export const QUICK: Config = {
  quick: true,
  s1Sizes: [1000],
  fanout: { streams: 200, services: 200, rounds: 3, perChannel: 50 },
  churn: { streams: 50, services: 200, rate: 200, seconds: 12, window: 6, perChannel: 25 },
  modes: ['sotw', 'delta'],
};

export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return Number(((d.user + d.system) / 1e6).toFixed(2));
}

const round = (v: number | null, digits = 1): number | null => (v === null ? null : Number(v.toFixed(digits)));

// ---- S1 ----

export async function s1(kind: Kind, n: number, peerBinary: string | undefined): Promise<Figure[]> {
  const scenario = `S1 translate ${n}x10`;
  let out: { ms: number; cpuMs: number; warmMs: number; hwmKB: number; loadMs?: number };
  if (kind === 'ours') {
    const { stdout } = await run(
      process.execPath,
      ['--conditions=source', '--max-semi-space-size=16', join(BENCH_DIR, 'src', 's1-ours.ts'), String(n)],
      {
        timeout: 300_000,
        maxBuffer: 1 << 20,
      },
    );
    out = JSON.parse(stdout.trim().split('\n').pop()!);
  } else {
    if (!peerBinary) throw new Error('peer not built');
    const { stdout } = await run(peerBinary, ['s1', String(n)], { timeout: 300_000 });
    out = JSON.parse(stdout.trim());
  }
  return [
    { scenario, metric: 'time (first run, fresh process)', unit: 'ms', value: round(out.ms) },
    { scenario, metric: 'CPU time (first run, all threads)', unit: 'ms', value: round(out.cpuMs) },
    { scenario, metric: 'time (warm, best of 2 more)', unit: 'ms', value: round(out.warmMs) },
    { scenario, metric: 'peak RSS (VmHWM after first run)', unit: 'MB', value: round(out.hwmKB / 1024) },
    {
      scenario,
      metric: 'proto registry load, once per process (not in time)',
      unit: 'ms',
      value: out.loadMs === undefined ? null : round(out.loadMs),
    },
  ];
}

// ---- shared: connect a fleet ----

async function connect(
  server: ServerHandle,
  mode: Mode,
  streams: number,
  perChannel: number,
  services: number,
  tag: string,
): Promise<{ lg: Loadgen; times: number[]; done: boolean }> {
  const lg = new Loadgen({
    target: `127.0.0.1:${server.xdsPort}`,
    mode,
    streams,
    streamsPerChannel: perChannel,
    expectedServices: services,
    nodePrefix: `bench-${tag}-${process.pid}`,
  });
  lg.start();
  const { done, times, full } = await lg.waitFull(180_000);
  if (!done) {
    const errs = lg.errors();
    console.error(
      `  ${server.kind} ${mode}: only ${full}/${streams} streams got the full config${errs.length ? `; first error: ${errs[0]}` : ''}`,
    );
  }
  return { lg, times, done };
}

// ---- S2 + S4 + S5: one fleet per server and mode ----

export async function fanout(kind: Kind, mode: Mode, cfg: Config, o: StartOptions): Promise<Figure[]> {
  const { streams, services, rounds, perChannel } = cfg.fanout;
  const server = await startServer(kind, o);
  const figs: Figure[] = [];
  try {
    await server.ctl(`/setup?n=${services}`);
    await sleep(200);
    const before = await server.gc();
    const g0 = process.cpuUsage();
    const { lg, times, done } = await connect(server, mode, streams, perChannel, services, `fan-${mode}`);
    const s4 = `S4 cold start ${streams} streams x ${services} svc, ${mode}`;
    figs.push(
      {
        scenario: s4,
        metric: 'time until all hold full config',
        unit: 'ms',
        value: done ? round(Math.max(...times)) : null,
      },
      { scenario: s4, metric: 'p50 per stream', unit: 'ms', value: round(percentile(times, 50)) },
      {
        scenario: s4,
        metric: 'bytes received per stream',
        unit: 'KB',
        value: round(lg.totals().bytes / streams / 1024),
      },
      { scenario: s4, metric: 'load generator CPU (context, not the server)', unit: 's', value: cpuSeconds(g0) },
    );
    await sleep(500);
    const after = await server.gc();
    const s5 = `S5 memory per proxy (${streams} streams), ${mode}`;
    figs.push(
      {
        scenario: s5,
        metric: 'RSS delta per connected proxy',
        unit: 'KB',
        value: round((after.rssKB - before.rssKB) / streams, 2),
      },
      {
        scenario: s5,
        metric: 'heap delta per connected proxy',
        unit: 'KB',
        value: round((after.heapKB - before.heapKB) / streams, 2),
      },
      {
        scenario: s5,
        metric: 'V8 committed heap delta per proxy (ours; context for the RSS row)',
        unit: 'KB',
        value:
          after.heapCommittedKB === undefined || before.heapCommittedKB === undefined
            ? null
            : round((after.heapCommittedKB - before.heapCommittedKB) / streams, 2),
      },
    );

    const s2 = `S2 fan-out ${streams} streams x ${services} svc, ${mode}`;
    const lags: number[] = [];
    const allAcked: number[] = [];
    const bytes0 = lg.totals().bytes;
    const g1 = process.cpuUsage();
    let missing = 0;
    if (done) {
      for (let r = 0; r < rounds; r++) {
        const svc = (r * 37 + 11) % services;
        const c: Change = lg.tracker.announce(serviceName(svc), 20000 + r, streams);
        await server.ctl(`/change?svc=${svc}&port=${c.port}`);
        const ok = await lg.waitChanges([c], 30_000);
        if (!ok) missing += c.expected - c.acked;
        lags.push(...c.lags);
        allAcked.push(ok ? Math.max(...c.lags) : Number.NaN);
        await sleep(300);
      }
    }
    figs.push(
      {
        scenario: s2,
        metric: 'change -> ACK p50 (all streams, all rounds)',
        unit: 'ms',
        value: round(percentile(lags, 50)),
      },
      { scenario: s2, metric: 'change -> ACK p99', unit: 'ms', value: round(percentile(lags, 99)) },
      {
        scenario: s2,
        metric: 'until every stream ACKed (median of rounds)',
        unit: 'ms',
        value: round(percentile(allAcked, 50)),
      },
      {
        scenario: s2,
        metric: 'bytes received per stream per change',
        unit: 'B',
        value: done ? Math.round((lg.totals().bytes - bytes0) / streams / rounds) : null,
      },
      { scenario: s2, metric: 'load generator CPU over all rounds (context)', unit: 's', value: cpuSeconds(g1) },
    );
    if (missing) console.error(`  ${kind} ${mode}: ${missing} stream ACKs never arrived in S2`);

    // S5, marginal: what half as many proxies again cost a server that already serves the fleet. One-time growth
    // (memory the allocator keeps after the first cold start's transient response buffers) is paid by then, so this
    // is the cost of one more proxy; the figure above from zero includes it.
    const extra = Math.max(1, Math.floor(streams / 2));
    const before2 = await server.gc();
    const more = await connect(server, mode, extra, perChannel, services, `fan2-${mode}`);
    await sleep(500);
    const after2 = await server.gc();
    // Pushed after S2's rows: main.ts orders the table by scenario, keeping each scenario's rows in this order.
    figs.push(
      {
        scenario: s5,
        metric: `RSS per proxy, marginal (${extra} more on top)`,
        unit: 'KB',
        value: more.done ? round((after2.rssKB - before2.rssKB) / extra, 2) : null,
      },
      {
        scenario: s5,
        metric: `heap per proxy, marginal (${extra} more on top)`,
        unit: 'KB',
        value: more.done ? round((after2.heapKB - before2.heapKB) / extra, 2) : null,
      },
    );
    more.lg.close();
    lg.close();
  } finally {
    await server.stop();
  }
  return figs;
}

// ---- S3 ----

export async function churn(kind: Kind, mode: Mode, cfg: Config, o: StartOptions): Promise<Figure[]> {
  const { streams, services, rate, seconds, window, perChannel } = cfg.churn;
  const server = await startServer(kind, o);
  const scenario = `S3 churn ${rate}/s x ${seconds}s, ${streams} streams x ${services} svc, ${mode}`;
  try {
    await server.ctl(`/setup?n=${services}`);
    const { lg, done } = await connect(server, mode, streams, perChannel, services, `churn-${mode}`);
    if (!done) throw new Error(`${kind} ${mode}: fleet never converged`);
    const cpu0 = (await server.stats()).cpuMs;
    const g0 = process.cpuUsage();
    const m0 = lg.totals().messages;
    const rss: number[] = [];
    const total = rate * seconds;
    const changes: Change[] = [];
    const inflight = new Set<Promise<unknown>>();
    let failures = 0;
    const t0 = performance.now();
    let nextSample = 0;
    let sampling: Promise<unknown> = Promise.resolve();
    while (changes.length < total) {
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed > seconds + 30) break; // the server cannot keep up; stop rather than run on
      if (elapsed >= nextSample) {
        nextSample++;
        sampling = server.stats().then((s) => rss.push(s.rssKB));
      }
      const due = Math.min(total, Math.floor(elapsed * rate));
      while (changes.length < due && inflight.size < 256) {
        const k = changes.length;
        const svc = k % services;
        const c = lg.tracker.announce(serviceName(svc), 20000 + k, streams);
        changes.push(c);
        const p = server.ctl(`/change?svc=${svc}&port=${c.port}`).catch(() => failures++);
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await sleep(2);
    }
    await Promise.all(inflight);
    await lg.waitChanges(changes, 10_000);
    await sampling;
    const cpu1 = (await server.stats()).cpuMs;
    const gen = cpuSeconds(g0);
    const perStream = (lg.totals().messages - m0) / streams;
    const lags = changes.flatMap((c) => c.lags);
    const expected = changes.length * streams;
    // RSS over the last `window` seconds of the run: first and last sample in it.
    const last = rss.slice(-window - 1);
    const start = last[0] ?? null;
    const end = last[last.length - 1] ?? null;
    lg.close();
    if (failures) console.error(`  ${kind} ${mode}: ${failures} change requests failed`);
    return [
      { scenario, metric: 'lag change -> ACK p50', unit: 'ms', value: round(percentile(lags, 50)) },
      { scenario, metric: 'lag change -> ACK p99', unit: 'ms', value: round(percentile(lags, 99)) },
      { scenario, metric: 'ACKs missing at the end', unit: 'count', value: expected - lags.length },
      {
        scenario,
        metric: 'responses received per stream (changes coalesced when fewer)',
        unit: 'count',
        value: Math.round(perStream),
      },
      {
        scenario,
        metric: 'worst stream: its largest lag',
        unit: 'ms',
        value: round(Math.max(0, ...lg.streams.map((s) => s.maxLag))),
      },
      {
        scenario,
        metric: 'streams whose largest lag > 1 s',
        unit: 'count',
        value: lg.streams.filter((s) => s.maxLag > 1000).length,
      },
      { scenario, metric: 'server CPU during churn', unit: 's', value: round((cpu1 - cpu0) / 1000, 2) },
      { scenario, metric: 'load generator CPU (context)', unit: 's', value: gen },
      {
        scenario,
        metric: `RSS at start of last ${window}s`,
        unit: 'MB',
        value: start === null ? null : round(start / 1024),
      },
      { scenario, metric: `RSS at end of last ${window}s`, unit: 'MB', value: end === null ? null : round(end / 1024) },
      {
        scenario,
        metric: `RSS growth over last ${window}s`,
        unit: '%',
        value: start && end ? round(((end - start) / start) * 100) : null,
      },
    ];
  } finally {
    await server.stop();
  }
}
