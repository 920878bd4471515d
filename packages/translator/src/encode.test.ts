import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { envoyRoot } from '@meshgate/xds-core';
import { translate } from './translate.ts';
import { PROFILES } from './types.ts';
import { encodeProblems, loadModelYaml } from './test-support.ts';

const inDir = new URL('../testdata/in/', import.meta.url).pathname;

test('every resource of every golden case encodes without losing a field', () => {
  // xds-core's registry: what the server really encodes with (a devDependency; the runtime never imports it).
  const root = envoyRoot();
  const files = readdirSync(inDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  assert.ok(files.length >= 6);
  for (const f of files) {
    for (const profile of PROFILES) {
      const { resources, problems } = translate(loadModelYaml(join(inDir, f)), profile);
      assert.deepEqual(problems, [], `${f} (${profile})`);
      for (const [type, m] of resources) {
        for (const [name, obj] of m) {
          assert.deepEqual(encodeProblems(root, type, obj), [], `${f} ${profile} ${type} ${name}`);
        }
      }
    }
  }
});
