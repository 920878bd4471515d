// The docs and the chart's values schema are generated from the one config schema; these tests fail
// when a committed file is not what the schema generates (run `npm run gen:config-docs`), and when
// the chart's own config (values.yaml, examples) does not pass the schema meshgate checks with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { checkValue } from '@meshgate/config-schema';
import { generatedFiles } from './config-docs.ts';
import { CONFIG_SCHEMA } from './config-schema.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

for (const f of generatedFiles(ROOT))
  test(`${f.path} is what the config schema generates`, () => {
    const committed = readFileSync(join(ROOT, f.path), 'utf8');
    assert.ok(committed === f.content, `${f.path} differs from the config schema: run \`npm run gen:config-docs\``);
  });

test("the chart's config (values.yaml and every example) passes the one schema", () => {
  const files = [
    'charts/meshgate/values.yaml',
    ...readdirSync(join(ROOT, 'charts/meshgate/examples')).map((n) => `charts/meshgate/examples/${n}`),
  ];
  for (const file of files) {
    const values = parse(readFileSync(join(ROOT, file), 'utf8')) as {
      config?: Record<string, Record<string, unknown>>;
      istio?: { identity?: { enabled?: boolean } };
      linkerd?: { identity?: { enabled?: boolean } };
    };
    if (values.config === undefined) continue;
    // What the chart fills in itself (the rendered result is checked by `meshgate validate` in the helm suite).
    if (values.istio?.identity?.enabled && values.config.istio)
      Object.assign(values.config.istio, {
        serviceAccount: 'meshgate',
        namespace: 'meshgate',
        tokenFile: '/var/run/secrets/tokens/istio-token',
        rootCertFile: '/var/run/secrets/istio/root-cert.pem',
      });
    if (values.linkerd?.identity?.enabled && values.config.linkerd)
      Object.assign(values.config.linkerd, {
        serviceAccount: 'meshgate',
        namespace: 'meshgate',
        tokenFile: '/var/run/secrets/linkerd/tokens/linkerd-identity-token',
      });
    const { reader } = checkValue(values.config, CONFIG_SCHEMA, 'config');
    assert.deepEqual(
      reader.errors.map((e) => e.message),
      [],
      file,
    );
  }
});
