// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function and by file.
// Usage: node bench/src/prof-top.ts <file.cpuprofile|dir> [top=25]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [target, topArg] = process.argv.slice(2);
if (!target) {
  console.error('usage: prof-top.ts <file.cpuprofile|dir> [top]');
  process.exit(2);
}
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];
const top = Number(topArg ?? 25);

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++)
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|packages|bench)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anon)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fk = url || n.callFrame.functionName;
    byFile.set(fk, (byFile.get(fk) ?? 0) + us);
    total += us;
  }
  const show = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(
        ([name, us]) =>
          `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`,
      )
      .join('\n');
  console.log(`== ${basename(file)}: ${(total / 1000).toFixed(0)} ms sampled`);
  console.log('-- by function (self)');
  console.log(show(fn, top));
  console.log('-- by file (self)');
  console.log(show(byFile, 12));
}
