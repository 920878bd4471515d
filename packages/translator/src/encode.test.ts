import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type protobuf from 'protobufjs';
import { translate } from './translate.ts';
import { PROFILES } from './types.ts';
import { encodeProblems, loadModelYaml, ownEnvoyRoot } from './test-support.ts';

const inDir = new URL('../testdata/in/', import.meta.url).pathname;

/** Prefer xds-core's registry (what the server really encodes with) once it exists. */
async function envoyRoot(): Promise<{ root: protobuf.Root; from: string }> {
  try {
    const spec = '@meshgate/xds-core';
    const core = (await import(spec)) as { envoyRoot?: () => protobuf.Root };
    if (typeof core.envoyRoot === 'function') return { root: core.envoyRoot(), from: 'xds-core' };
  } catch {
    /* xds-core not built yet: fall back to our own load of the same .proto files */
  }
  return { root: ownEnvoyRoot(), from: 'own protobufjs load' };
}

test('every resource of every golden case encodes without losing a field', async (t) => {
  const { root, from } = await envoyRoot();
  t.diagnostic(`proto registry: ${from}`);
  const files = readdirSync(inDir).filter((f) => f.endsWith('.yaml')).sort();
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
