import { readText } from '@meshgate/config-schema';
import { parseConfigCommand, UsageError } from '../args.ts';
import type { CommandSpec, OptionSpec, ParsedValues } from '../args.ts';
import { createControlPlane } from '../control-plane.ts';
import { createLogger } from '../logger.ts';
import { fieldAt, loadSettings, OVERRIDE_PATHS } from '../config.ts';
import type { Overrides } from '../config.ts';

/** The settings that have a flag, from the one schema: flag name -> override key and schema path. */
const FLAGS = Object.entries(OVERRIDE_PATHS).map(([key, path]) => {
  const field = fieldAt(path);
  if (!field.flag) throw new Error(`config key ${path} is an override but has no flag`);
  return { key: key as keyof Overrides, path, field, flag: field.flag };
});

function flagOption(f: (typeof FLAGS)[number]): OptionSpec {
  const { field, path } = f;
  const bool = field.spec.kind === 'bool';
  const placeholder = field.spec.kind === 'int' ? 'PORT' : path.endsWith('address') ? 'ADDR' : 'LEVEL';
  const enumText = field.spec.kind === 'string' && field.spec.enum ? `one of ${field.spec.enum.join(', ')}; ` : '';
  return {
    type: bool ? 'boolean' : 'string',
    ...(bool ? {} : { value: placeholder }),
    description: `${enumText}${field.doc.replace(/`/g, '')}${field.env ? `; env ${field.env}` : ''}; file ${path}${field.default !== undefined && !bool ? ` (default ${field.default})` : ''}`,
  };
}

export const spec: CommandSpec = {
  name: 'serve',
  summary: 'run the control plane: watch the config file (and Consul when configured), serve xDS and the admin API',
  usage: 'meshgate serve --config FILE [flags]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      value: 'FILE',
      description:
        'YAML config: services, routes, listeners, identities, trustBundles, and the xds/admin/consul/certs/logging sections (required)',
    },
    ...Object.fromEntries(FLAGS.map((f) => [f.flag, flagOption(f)])),
    kubeconfig: {
      type: 'string',
      value: 'PATH',
      description:
        'read Services, EndpointSlices and Gateway API routes with this kubeconfig; file kubernetes.kubeconfig (default in a pod: its service account)',
    },
  },
};

/** Flag values as overrides, each read by its setting's own rules (the file's, the env's). */
export function flagOverrides(v: ParsedValues): Overrides {
  const out: Record<string, unknown> = {};
  for (const f of FLAGS) {
    const raw = v[f.flag];
    if (raw === undefined) continue;
    if (typeof raw === 'boolean') {
      out[f.key] = raw;
      continue;
    }
    const got = readText(String(raw), f.field.spec);
    if (!('value' in got))
      throw new UsageError('serve', `--${f.flag} must be ${got.expected}, got ${JSON.stringify(raw)}`);
    out[f.key] = got.value;
  }
  if (v.kubeconfig !== undefined) out.kubeconfig = String(v.kubeconfig);
  return out as Overrides;
}

export async function run(argv: string[]): Promise<number> {
  const v = parseConfigCommand(spec, argv, () => {
    process.stderr.write(
      'error: --config FILE is required (try examples/quickstart.yaml)\nrun `meshgate serve --help` for usage\n',
    );
    return 2;
  });
  if (typeof v === 'number') return v;
  const flags = flagOverrides(v);
  const settings = loadSettings(String(v.config), flags);
  const log = createLogger(settings.logLevel);
  const cp = await createControlPlane({ configPath: String(v.config), ...flags, logger: log });
  log.info({ xdsPort: cp.xdsPort, adminPort: cp.adminPort, config: cp.settings.configPath }, 'meshgate serving');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      // A second signal while draining exits at once.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      cp.close().then(resolve, (err) => {
        log.error({ err }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
