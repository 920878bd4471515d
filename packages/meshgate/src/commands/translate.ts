import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { translate, PROFILES } from '@meshgate/translator';
import type { Profile } from '@meshgate/translator';
import { parseConfigCommand, UsageError } from '../args.ts';
import type { CommandSpec } from '../args.ts';
import { redact, resolveType } from '../debug.ts';
import { externalNotes, loadForOffline, withStandIns } from './load.ts';

export const spec: CommandSpec = {
  name: 'translate',
  summary: 'print the xDS resources a node of a profile would get, offline; secrets are redacted',
  usage: 'meshgate translate --config FILE --profile envoy|grpc [--type cluster] [--output yaml|json]',
  options: {
    config: { type: 'string', short: 'c', value: 'FILE', description: 'YAML config file (required)' },
    profile: { type: 'string', default: 'envoy', value: 'envoy|grpc', description: 'node profile' },
    type: { type: 'string', value: 'TYPE', description: 'only this type: listener, route, cluster, endpoint, secret' },
    output: { type: 'string', default: 'yaml', value: 'yaml|json', description: 'output format' },
  },
};

export async function run(argv: string[]): Promise<number> {
  const v = parseConfigCommand(spec, argv, () => {
    throw new UsageError(spec.name, '--config FILE is required');
  });
  if (typeof v === 'number') return v;
  const profile = String(v.profile) as Profile;
  if (!PROFILES.includes(profile))
    throw new UsageError(spec.name, `--profile must be one of ${PROFILES.join(', ')}, got ${JSON.stringify(profile)}`);
  const output = String(v.output);
  if (output !== 'json' && output !== 'yaml')
    throw new UsageError(spec.name, `--output must be json or yaml, got ${JSON.stringify(output)}`);
  let only: string | undefined;
  if (v.type) {
    try {
      only = resolveType(String(v.type));
    } catch (err) {
      throw new UsageError(spec.name, `--type: ${(err as Error).message}`);
    }
  }
  const file = resolve(String(v.config));
  const { model, errors, external } = loadForOffline(file);
  if (!model) {
    process.stderr.write(`${errors.join('\n')}\n`);
    return 1;
  }
  // As in validate: backends left to Consul become empty stand-ins (a cluster with no endpoints),
  // since only serve knows what Consul defines; stderr says so, stdout stays the resources alone.
  const { resources, problems } = translate(withStandIns(model, external), profile);
  for (const note of externalNotes(file, external, 'shown here as an empty stand-in (no endpoints)'))
    process.stderr.write(`${note}\n`);
  if (problems.length) {
    process.stderr.write(`${problems.map((p) => `${file}: ${p.path}: ${p.message}`).join('\n')}\n`);
    return 1;
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const [typeUrl, byName] of resources) {
    if (only && typeUrl !== only) continue;
    if (byName.size === 0) continue;
    out[typeUrl] = Object.fromEntries([...byName].map(([name, obj]) => [name, redact(obj)]));
  }
  process.stdout.write(
    output === 'json' ? `${JSON.stringify(out, null, 2)}\n` : stringify(out, { aliasDuplicateObjects: false }),
  );
  return 0;
}
