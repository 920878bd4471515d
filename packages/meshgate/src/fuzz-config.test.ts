// Fuzz of the config parser with a fixed seed: the examples and a file with every meshgate section, mutated byte by
// byte and with YAML fragments, through both readers a reload runs (readSettings for meshgate's own sections, the
// file source's parseConfig for the model). `npm test` tries 2,000 inputs (about 3 ms each); `npm run fuzz` 1,000,000 (figures in
// docs/reliability.md). A crash is a throw (a bad file must come back as located errors, never an exception) or a
// result that is neither a config nor a list of located errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@meshgate/adapter-file';
import { fuzz, fuzzSettings } from '@meshgate/xds-core/testing';
import { readSettings } from './config.ts';
import { CONFIG_SCHEMA } from './config-schema.ts';

const examples = new URL('../../../examples/', import.meta.url);
const EVERY_SECTION = `services:
  - name: echo-v1
    endpoints: [{ address: 127.0.0.1, port: 50051, weight: 2 }]
routes:
  - name: echo
    hosts: [echo, "echo.example:8080"]
    match: { prefix: /, headers: { x-env: canary } }
    timeout: 2s
    backends: [{ service: echo-v1, weight: 1 }, { service: consul/dc1/shop, weight: 3 }]
listeners: [{ name: http, port: 8080, routes: [echo] }]
xds: { port: 0, address: 127.0.0.1, debounce: 50ms, maxDelay: 2s, nackRetention: 1m, maxRequestBytes: 65536, stalledStreamTimeout: 30s }
admin: { port: 0 }
logging: { level: debug }
consul: { address: "http://127.0.0.1:8500", datacenter: dc1, services: [shop] }
kubernetes: { namespaces: [demo] }
`;

const SEEDS = [
  ...['quickstart.yaml', 'mtls.yaml', 'kubernetes.yaml'].map((f) => readFileSync(new URL(f, examples))),
  Buffer.from(EVERY_SECTION),
];
const TOKENS = [
  ': ',
  '- ',
  '\n',
  '\n  ',
  '\t',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '#',
  '&a ',
  '*a',
  '<<: *a',
  '!!binary ',
  '!!str ',
  '!!map ',
  '? ',
  '|\n',
  '>-\n',
  '---\n',
  '...\n',
  '~',
  'null',
  'true',
  '1e309',
  '-0',
  '0x10',
  '99999999999999999999',
  '-1',
  '1.5',
  '0s',
  '5h',
  '__proto__: {}',
  'constructor: 1',
  'x'.repeat(300),
  '%YAML 1.1\n',
].map((s) => Buffer.from(s));

test('fuzz: the config readers return a config or located errors for any file, never throw', (t) => {
  const { inputs, seed } = fuzzSettings(2000);
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'meshgate.yaml');
  const result = fuzz({ seed, inputs, seeds: SEEDS, tokens: TOKENS }, (buf) => {
    writeFileSync(file, buf);
    const s = readSettings(file, {}, {});
    for (const e of s.errors)
      if (typeof e.message !== 'string' || !e.message) throw new Error('readSettings: an error without a message');
    if (!s.settings) throw new Error('readSettings: no settings for a readable file');
    const m = parseConfig(buf.toString('utf8'), file, { schema: CONFIG_SCHEMA, externalReferences: true });
    if (!m.model && m.errors.length === 0) throw new Error('parseConfig: neither a model nor errors');
    for (const e of m.errors)
      if (typeof e.message !== 'string' || !e.message) throw new Error('parseConfig: an error without a message');
    return `settings ${s.errors.length ? 'rejected' : 'accepted'}, model ${m.model ? 'accepted' : 'rejected'}`;
  });
  console.log(`fuzz config: ${JSON.stringify({ ...result, crashes: result.crashes.length })}`);
  assert.deepEqual(result.crashes, [], `crashes (seed ${seed}); first: ${result.crashes[0]?.error}`);
});
