// Runs the test suites with Node's own test runner on the TypeScript sources.
//   node scripts/test.ts unit                  every package's and the benchmark tools' unit tests, and the end-to-end suite
//   node scripts/test.ts e2e                   only the end-to-end suite
//   node scripts/test.ts integration [NAME..]  the real-server suites (all, or only those named)
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [kind = 'unit', ...only] = process.argv.slice(2);
const root = new URL('..', import.meta.url).pathname;

let patterns: string[];
if (kind === 'unit') {
  patterns = ['packages/*/src/**/*.test.ts', 'bench/src/**/*.test.ts', 'integration-tests/e2e/**/*.test.ts'];
} else if (kind === 'e2e') {
  patterns = ['integration-tests/e2e/**/*.test.ts'];
} else if (kind === 'integration') {
  const suitesDir = join(root, 'integration-tests');
  const suites = readdirSync(suitesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !['e2e', 'tools', 'lib', 'node_modules', 'testdata'].includes(d.name))
    .map((d) => d.name);
  const unknown = only.filter((n) => !suites.includes(n));
  if (unknown.length) {
    console.error(`unknown suite(s) ${unknown.join(', ')}; available: ${suites.join(', ')}`);
    process.exit(2);
  }
  patterns = (only.length ? only : suites)
    .filter((s) => existsSync(join(suitesDir, s)))
    .map((s) => `integration-tests/${s}/**/*.test.ts`);
} else {
  console.error('usage: node scripts/test.ts unit|e2e|integration [suite...]');
  process.exit(2);
}

const args = [
  '--conditions=source',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.MESHGATE_TEST_CONCURRENCY ?? 2}`,
  '--test-timeout=300000',
  ...patterns,
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env } });
process.exit(r.status ?? 1);
