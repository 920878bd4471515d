import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { translate } from './translate.ts';
import { PROFILES } from './types.ts';
import { loadModelYaml, resourcesToYaml } from './test-support.ts';

// testdata/in/<case>.yaml (a Model as YAML) -> testdata/out/<case>.<profile>.yaml.
// MESHGATE_UPDATE_GOLDEN=1 rewrites the outputs instead of comparing.
const inDir = new URL('../testdata/in/', import.meta.url).pathname;
const outDir = new URL('../testdata/out/', import.meta.url).pathname;
const update = process.env.MESHGATE_UPDATE_GOLDEN === '1';
const cases = readdirSync(inDir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

for (const c of cases) {
  for (const profile of PROFILES) {
    test(`golden ${c} (${profile})`, () => {
      const { resources, problems } = translate(loadModelYaml(join(inDir, `${c}.yaml`)), profile);
      assert.deepEqual(problems, []);
      const got = resourcesToYaml(resources);
      const file = join(outDir, `${c}.${profile}.yaml`);
      if (update) {
        writeFileSync(file, got);
        return;
      }
      assert.ok(existsSync(file), `${file} is missing; run with MESHGATE_UPDATE_GOLDEN=1 to create it`);
      assert.equal(
        got,
        readFileSync(file, 'utf8'),
        `${c}.${profile}.yaml differs; if the change is intended, regenerate with MESHGATE_UPDATE_GOLDEN=1 and review the diff`,
      );
    });
  }
}

test('every golden output has an input', () => {
  const orphans = readdirSync(outDir)
    .filter((f) => f.endsWith('.yaml'))
    .filter((f) => {
      const m = /^(.*)\.(envoy|grpc)\.yaml$/.exec(f);
      return !m || !cases.includes(m[1]);
    });
  assert.deepEqual(orphans, [], 'golden files without an input in testdata/in (delete them or add the input)');
});
