// The long fuzz run (docs/reliability.md): the request decoder and the config parser, 1,000,000 inputs each by
// default, with the fixed seed of the short runs in `npm test`.
//   node scripts/fuzz.ts [INPUTS] [SEED]
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const [inputs = '1000000', seed] = process.argv.slice(2);
const r = spawnSync(
  process.execPath,
  [
    '--conditions=source',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=0',
    'packages/xds-core/src/fuzz-decoder.test.ts',
    'packages/meshgate/src/fuzz-config.test.ts',
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MESHGATE_FUZZ_INPUTS: inputs, ...(seed ? { MESHGATE_FUZZ_SEED: seed } : {}) },
  },
);
process.exit(r.status ?? 1);
