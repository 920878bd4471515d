import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('src/generated is what the generator makes from proto/ today (run `npm run generate -w @meshgate/envoy-api`)', () => {
  const script = new URL('../scripts/generate.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
