// One duration grammar everywhere. Before it, five parsers disagreed: `1h30m` worked for
// `meshgate certs issue --ttl` but not for `certs.identities[].ttl`, `7d` worked for the ttl but
// not for `services[].connectTimeout`, `0s` was a valid ttl in the file but not on the command
// line. Each input goes through every entry point here; what differs is only each setting's own
// bounds (whether `0s` is allowed, Consul's 10m cap), and the refusal says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '@meshgate/adapter-file';
import { certsIssue } from '@meshgate/certs';
import { readText } from '@meshgate/config-schema';
import { fieldAt, readSettings } from './config.ts';
import { CONFIG_SCHEMA } from './config-schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'meshgate-durations-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

type Outcome = number | RegExp; // accepted as ms, or refused with a message matching
type Entry = (d: string) => Promise<number>;

let n = 0;
/** Writes a config file, reads it the way serve and validate do, and throws the problems (if any). */
function settingsOf(yaml: string) {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, yaml);
  const r = readSettings(file, {}, {});
  if (r.errors.length) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.settings!;
}
function modelOf(yaml: string) {
  const file = join(dir, `m${n++}.yaml`);
  writeFileSync(file, yaml);
  const r = loadConfigFile(file, { schema: CONFIG_SCHEMA });
  if (r.errors.length) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.model!;
}
const service = (extra: string) => `services:\n  - name: web\n    endpoints: []\n${extra}`;
const route = (extra: string) =>
  `${service('')}routes:\n  - name: web\n    hosts: [web]\n    backends: [{ service: web }]\n${extra}`;

const ENTRIES: Record<string, Entry> = {
  // The certs CLI (`meshgate certs issue --ttl` calls it): the certificate's real lifetime.
  'certs issue --ttl': async (d) => {
    const now = new Date('2030-01-01T00:00:00Z');
    const out = join(dir, `issue${n++}`);
    await certsIssue({ dns: 'gw.example.org', ca: join(dir, 'ca'), ttl: d, out, now });
    const { X509Certificate } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const cert = new X509Certificate(readFileSync(join(out, 'cert.pem')));
    return Date.parse(cert.validTo) - now.getTime();
  },
  'certs.identities[].ttl': async (d) =>
    settingsOf(`certs:\n  dir: ${dir}/ca\n  identities:\n    - { name: gw, dns: gw.example.org, ttl: ${d} }\n`).certs!
      .identities[0].ttlMs,
  'services[].connectTimeout': async (d) =>
    modelOf(service(`    connectTimeout: ${d}\n`)).services[0].connectTimeoutMs!,
  'routes[].timeout': async (d) => modelOf(route(`    timeout: ${d}\n`)).routes[0].timeoutMs!,
  'routes[].retries.perTryTimeout': async (d) =>
    modelOf(route(`    retries: { perTryTimeout: ${d} }\n`)).routes[0].retries!.perTryTimeoutMs!,
  'xds.debounce': async (d) => settingsOf(`xds: { debounce: ${d}, maxDelay: ${d} }\n`).xds.debounceMs,
  'consul.rateLimit.minInterval': async (d) =>
    settingsOf(`consul: { rateLimit: { minInterval: ${d}, maxInterval: ${d} } }\n`).consul!.rateLimit!.minIntervalMs!,
  'consul.wait': async (d) => settingsOf(`consul: { wait: ${d} }\n`).consul!.waitMs!,
  // What every flag and environment variable goes through (serve's flags, MESHGATE_* variables).
  'flag/env text (xds.maxDelay rules)': async (d) => {
    const r = readText(d, fieldAt('xds.maxDelay').spec);
    if (!('value' in r)) throw new Error(`must be ${r.expected}`);
    return r.value as number;
  },
};

const GREATER_THAN_ZERO = /greater than zero/;
const CAPPED = /from 1ms to 10m/;
const H1M30 = 5_400_000;
const D7 = 604_800_000;

const TABLE: Record<string, Record<'1h30m' | '7d' | '0s', Outcome>> = {
  'certs issue --ttl': { '1h30m': H1M30, '7d': D7, '0s': GREATER_THAN_ZERO },
  'certs.identities[].ttl': { '1h30m': H1M30, '7d': D7, '0s': GREATER_THAN_ZERO },
  'services[].connectTimeout': { '1h30m': H1M30, '7d': D7, '0s': GREATER_THAN_ZERO },
  'routes[].timeout': { '1h30m': H1M30, '7d': D7, '0s': 0 },
  'routes[].retries.perTryTimeout': { '1h30m': H1M30, '7d': D7, '0s': GREATER_THAN_ZERO },
  'xds.debounce': { '1h30m': H1M30, '7d': D7, '0s': 0 },
  'consul.rateLimit.minInterval': { '1h30m': H1M30, '7d': D7, '0s': 0 },
  'consul.wait': { '1h30m': CAPPED, '7d': CAPPED, '0s': CAPPED },
  'flag/env text (xds.maxDelay rules)': { '1h30m': H1M30, '7d': D7, '0s': 0 },
};

for (const [entry, row] of Object.entries(TABLE))
  for (const [input, want] of Object.entries(row))
    test(`${input} through ${entry}`, async () => {
      const run = ENTRIES[entry](input);
      if (typeof want === 'number') assert.equal(await run, want);
      else await assert.rejects(run, want);
    });

test('a bare number is refused everywhere, with both readings offered', async () => {
  await assert.rejects(
    ENTRIES['xds.debounce']('100'),
    /xds\.debounce: expected a duration such as .*got 100 \(write 100ms or 100s\)/,
  );
  await assert.rejects(ENTRIES['certs.identities[].ttl']('24'), /ttl: expected a duration .*\(write 24ms or 24s\)/);
  await assert.rejects(ENTRIES['certs issue --ttl']('24'), /invalid --ttl "24": use a duration such as/);
});
