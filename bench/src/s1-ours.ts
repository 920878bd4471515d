// S1 for meshgate, run in a fresh process per N so its peak RSS is its own: build the model
// (untimed), then translate + XdsCache.publish (timed). Prints one JSON line.
import { translate } from '@meshgate/translator';
import { envoyRoot, XdsCache } from '@meshgate/xds-core';
import { benchModel } from './model.ts';
import { procStatusKB } from './proc.ts';

const n = Number(process.argv[2]);
if (!Number.isInteger(n) || n < 1) {
  console.error(`usage: s1-ours.ts <N services>, got ${process.argv[2]}`);
  process.exit(2);
}

// The .proto registry loads once per process (the Go peer's descriptors are compiled in and
// initialised before main); it is timed on its own line, not inside the translation figure.
const l0 = performance.now();
envoyRoot();
const loadMs = performance.now() - l0;

let cpuMs = 0;
function once(): number {
  const model = benchModel(n);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { resources, problems } = translate(model, 'envoy');
  if (problems.length) throw new Error(`translate reported problems: ${JSON.stringify(problems[0])}`);
  new XdsCache().publish('envoy', resources);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpuMs = (c.user + c.system) / 1000;
  return ms;
}

const ms = once();
const firstCpuMs = cpuMs;
const hwmKB = procStatusKB('VmHWM');
let warmMs = ms;
for (let i = 0; i < 2; i++) warmMs = Math.min(warmMs, once());
console.log(JSON.stringify({ n, ms, cpuMs: firstCpuMs, warmMs, hwmKB, loadMs }));
