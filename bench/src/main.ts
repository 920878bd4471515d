// `npm run bench [-- --quick] [-- --only S1,S2,S3,S6] [-- --kinds ours,peer] [-- --modes sotw,delta] [-- --no-peer] [-- --profile]`
// Runs the scenarios against meshgate and the go-control-plane peer, prints one table and writes
// bench/results/latest.json: [{ scenario, metric, unit, ours, peer, ratio }], ratio = ours / peer
// (lower is better for every time, byte and memory figure).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { churn, fanout, FULL, QUICK, s1, type Config, type Figure } from './scenarios.ts';
import { BENCH_DIR, buildPeer, type Kind, type StartOptions } from './servers.ts';
import { S6_FULL, S6_QUICK } from './kube-load.ts';
import { s6 } from './s6.ts';

interface Row {
  scenario: string;
  metric: string;
  unit: string;
  ours: number | null;
  peer: number | null;
  ratio: number | null;
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    kinds: { type: 'string', default: 'ours,peer' },
    modes: { type: 'string', default: 'sotw,delta' },
  },
  allowPositionals: false,
});

const cfg: Config = { ...(values.quick ? QUICK : FULL) };
cfg.modes = cfg.modes.filter((m) => values.modes.split(',').includes(m));
const only = values.only ? new Set(values.only.toUpperCase().split(',')) : undefined;
const kinds = new Set(values.kinds.split(','));
const want = (s: string) => !only || only.has(s);

function machine(): string {
  let goVersion = 'go: not found';
  try {
    goVersion = execFileSync('go', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as not found */
  }
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    /* keep os.cpus() */
  }
  return `${cpus().length} CPUs (${model}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${goVersion}`;
}

const started = Date.now();
console.log(`meshgate benchmarks${cfg.quick ? ' (QUICK: smaller N, fewer streams, shorter churn)' : ''}`);
console.log(`machine: ${machine()}`);

let peerBinary: string | undefined;
let peerReason: string | undefined;
if (values['no-peer']) peerReason = '--no-peer';
else {
  console.log('peer: finding or building bench/peer (a first build takes 1-3 min on 2 cores)');
  const b = buildPeer();
  peerBinary = b.binary;
  peerReason = b.reason;
  if (b.binary)
    console.log(
      `peer: ${b.binary} (ready in ${b.seconds.toFixed(1)} s; the first build on a clean machine takes minutes)`,
    );
  else console.log(`peer: unavailable, ${b.reason}; its column is null`);
}

// Outside the repository so profiles never show up in git status.
const profDir = values.profile ? join(tmpdir(), `meshgate-bench-prof-${Date.now()}`) : undefined;
if (profDir) {
  mkdirSync(profDir, { recursive: true });
  console.log(`CPU profiles of our server child go to ${profDir} (summarise: node bench/src/prof-top.ts ${profDir})`);
}
const oursOpts: StartOptions = { cpuProfDir: profDir };
const peerOpts: StartOptions = { peerBinary };

const rows = new Map<string, Row>();
function add(kind: Kind, figs: Figure[]): void {
  for (const f of figs) {
    const key = `${f.scenario}\u0000${f.metric}`;
    let row = rows.get(key);
    if (!row)
      rows.set(
        key,
        (row = { scenario: f.scenario, metric: f.metric, unit: f.unit, ours: null, peer: null, ratio: null }),
      );
    row[kind] = f.value;
  }
}

async function both(label: string, fn: (kind: Kind) => Promise<Figure[]>): Promise<void> {
  for (const kind of ['ours', 'peer'] as Kind[]) {
    if (kind === 'peer' && !peerBinary) continue;
    if (!kinds.has(kind)) continue;
    const t0 = Date.now();
    try {
      add(kind, await fn(kind));
    } catch (err) {
      console.error(`  ${label} ${kind} failed: ${(err as Error).message}`);
    }
    console.log(`  ${label} ${kind}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

if (want('S1')) for (const n of cfg.s1Sizes) await both(`S1 N=${n}`, (k) => s1(k, n, peerBinary));
if (want('S2') || want('S4') || want('S5')) {
  for (const mode of cfg.modes)
    await both(`S2/S4/S5 ${mode}`, (k) => fanout(k, mode, cfg, k === 'ours' ? oursOpts : peerOpts));
}
if (want('S3'))
  for (const mode of cfg.modes)
    await both(`S3 ${mode}`, (k) => churn(k, mode, cfg, k === 'ours' ? oursOpts : peerOpts));
// S6 is meshgate's alone (the Go peer has no Kubernetes source): its peer column stays null.
if (want('S6')) {
  const t0 = Date.now();
  try {
    add(
      'ours',
      await s6(cfg.quick ? S6_QUICK : S6_FULL, cfg.quick ? 200 : Number(process.env.MESHGATE_S6_PROXIES ?? 1000)),
    );
  } catch (err) {
    console.error(`  S6 failed: ${(err as Error).message}`);
  }
  console.log(`  S6 ours: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const result: Row[] = [...rows.values()].sort((a, b) =>
  a.scenario < b.scenario ? -1 : a.scenario > b.scenario ? 1 : 0,
);
for (const r of result) {
  r.ratio = r.ours !== null && r.peer !== null && r.peer !== 0 ? Number((r.ours / r.peer).toFixed(2)) : null;
}

function table(rs: Row[]): string {
  const head = ['scenario', 'metric', 'unit', 'ours', 'peer', 'ours/peer'];
  const cells = rs.map((r) => [
    r.scenario,
    r.metric,
    r.unit,
    fmt(r.ours),
    fmt(r.peer),
    r.ratio === null ? '-' : `${r.ratio}x`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => (i >= 3 ? x.padStart(w[i]) : x.padEnd(w[i]))).join(' | ')} |`;
  return [
    line(head),
    `|${w.map((n, i) => (i >= 3 ? `${'-'.repeat(n + 1)}:` : '-'.repeat(n + 2))).join('|')}|`,
    ...cells.map(line),
  ].join('\n');
}

function fmt(v: number | null): string {
  return v === null ? 'null' : String(v);
}

console.log('');
console.log(
  `meshgate vs go-control-plane${cfg.quick ? ' (QUICK run: smaller N, fewer streams, shorter churn)' : ''}; ratio = ours / peer, lower is better`,
);
if (!peerBinary) console.log(`peer = null: ${peerReason}`);
console.log(table(result));
mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
writeFileSync(join(BENCH_DIR, 'results', 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwrote bench/results/latest.json; total ${((Date.now() - started) / 1000).toFixed(0)} s`);
