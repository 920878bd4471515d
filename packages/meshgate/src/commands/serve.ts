import { parseConfigCommand, parsePort } from '../args.ts';
import type { CommandSpec } from '../args.ts';
import { createControlPlane } from '../control-plane.ts';
import { createLogger, LOG_LEVELS } from '../logger.ts';
import { loadSettings } from '../config.ts';

export const spec: CommandSpec = {
  name: 'serve',
  summary:
    'run the control plane: watch the config file (and Consul or Kubernetes when configured), serve xDS and the admin API',
  usage: 'meshgate serve --config FILE [flags]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      value: 'FILE',
      description:
        'YAML config: services, routes, listeners, identities, trustBundles, and the xds/admin/consul/kubernetes/certs/logging sections (required)',
    },
    'xds-port': {
      type: 'string',
      value: 'PORT',
      description: 'xDS (ADS) port; env MESHGATE_XDS_PORT; file xds.port (default 18000)',
    },
    'xds-address': {
      type: 'string',
      value: 'ADDR',
      description: 'xDS bind address; file xds.address (default 0.0.0.0)',
    },
    'admin-port': {
      type: 'string',
      value: 'PORT',
      description:
        'admin HTTP port (/healthz /readyz /metrics /debug); env MESHGATE_ADMIN_PORT; file admin.port (default 19000)',
    },
    'admin-address': {
      type: 'string',
      value: 'ADDR',
      description: 'admin bind address; file admin.address (default 127.0.0.1)',
    },
    kubeconfig: {
      type: 'string',
      value: 'PATH',
      description:
        'read Services, EndpointSlices and Gateway API routes with this kubeconfig; file kubernetes.kubeconfig (default in a pod: its service account)',
    },
    'log-level': {
      type: 'string',
      value: 'LEVEL',
      description: `one of ${LOG_LEVELS.join(', ')}; file logging.level (default info)`,
    },
    'insecure-allow-unauthenticated-secrets': {
      type: 'boolean',
      description:
        'local development only: serve Secrets holding private keys to xDS clients without a verified certificate; file xds.insecureAllowUnauthenticatedSecrets (default: only to clients xds.tls verified)',
    },
  },
};

export async function run(argv: string[]): Promise<number> {
  const v = parseConfigCommand(spec, argv, () => {
    process.stderr.write(
      'error: --config FILE is required (try examples/quickstart.yaml)\nrun `meshgate serve --help` for usage\n',
    );
    return 2;
  });
  if (typeof v === 'number') return v;
  const flags = {
    ...(v['xds-port'] !== undefined ? { xdsPort: parsePort(v['xds-port'], '--xds-port') } : {}),
    ...(v['xds-address'] !== undefined ? { xdsAddress: String(v['xds-address']) } : {}),
    ...(v['admin-port'] !== undefined ? { adminPort: parsePort(v['admin-port'], '--admin-port') } : {}),
    ...(v['admin-address'] !== undefined ? { adminAddress: String(v['admin-address']) } : {}),
    ...(v['log-level'] !== undefined ? { logLevel: String(v['log-level']) } : {}),
    ...(v.kubeconfig !== undefined ? { kubeconfig: String(v.kubeconfig) } : {}),
    ...(v['insecure-allow-unauthenticated-secrets'] === true ? { insecureAllowUnauthenticatedSecrets: true } : {}),
  };
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
