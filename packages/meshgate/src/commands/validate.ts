import { resolve } from 'node:path';
import { translate, PROFILES } from '@meshgate/translator';
import { parseConfigCommand } from '../args.ts';
import type { CommandSpec } from '../args.ts';
import { readSettings } from '../config.ts';
import { externalNotes, loadForOffline, offlineSecretsWarnings, withStandIns } from './load.ts';

export const spec: CommandSpec = {
  name: 'validate',
  summary: 'check a config file the way serve would load it; errors name file:line:col',
  usage: 'meshgate validate --config FILE',
  options: { config: { type: 'string', short: 'c', value: 'FILE', description: 'YAML config file (required)' } },
};

export async function run(argv: string[]): Promise<number> {
  const v = parseConfigCommand(spec, argv, () => {
    process.stderr.write('error: --config FILE is required\n');
    return 2;
  });
  if (typeof v === 'number') return v;
  const file = resolve(String(v.config));
  const { model, errors, external } = loadForOffline(file);
  if (!model) {
    process.stderr.write(`${errors.join('\n')}\n`);
    process.stderr.write(`${file}: ${errors.length} problem(s); nothing was changed\n`);
    return 1;
  }
  const checked = withStandIns(model, external);
  // The translator knows what data planes reject beyond the model's own rules.
  const problems = new Map<string, string>();
  for (const p of PROFILES)
    for (const pr of translate(checked, p).problems)
      problems.set(`${pr.path}: ${pr.message}`, `${file}: ${pr.path}: ${pr.message} (${p} profile)`);
  if (problems.size) {
    process.stderr.write(`${[...problems.values()].join('\n')}\n`);
    return 1;
  }
  for (const note of externalNotes(file, external)) process.stdout.write(`${note}\n`);
  if (readSettings(file, {}, process.env).settings?.kubernetes?.linkerdIngress)
    process.stdout.write(
      `note: ${file}: kubernetes.linkerdIngress: recent linkerd-proxies in ingress mode need a ServiceProfile <svc>.<ns>.svc.<clusterDomain> for every routed Service; serve checks them through the API and warns on /readyz (linkerdIngress.warnings), validate cannot\n`,
    );
  // Not errors: the config works, but serves private keys unsafely or not at all (see serve's log).
  for (const w of offlineSecretsWarnings(file, model)) process.stderr.write(`warning: ${file}: ${w}\n`);
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  process.stdout.write(
    `ok: ${n(model.services.length, 'service', 'services')}, ${n(model.routes.length, 'route', 'routes')}, ${n(model.listeners.length, 'listener', 'listeners')}\n`,
  );
  return 0;
}
