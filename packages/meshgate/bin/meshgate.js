#!/usr/bin/env -S node --max-semi-space-size=16
// --max-semi-space-size=16: a smaller V8 young generation; on large machines V8's default makes translating
// 10,000 services ~30 % slower and ~90 MB larger at peak (BENCHMARKS.md, fix 8).
// Runs the built CLI when `npm run build` has produced dist/; otherwise runs the TypeScript
// sources directly (Node 24 strips types), resolving workspace packages to their sources.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli.js', import.meta.url);
if (existsSync(fileURLToPath(dist))) {
  // cli.js runs main() only when it is the entry module, so call it here.
  const { main } = await import(dist.href);
  const code = await main(process.argv.slice(2));
  if (code !== -1) process.exitCode = code;
} else {
  const src = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const r = spawnSync(
    process.execPath,
    ['--conditions=source', '--max-semi-space-size=16', src, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(r.status ?? 1);
}
