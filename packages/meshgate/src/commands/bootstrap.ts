import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { helpText, parseCommand, parsePort, UsageError } from '../args.ts';
import type { CommandSpec } from '../args.ts';
import { envoyBootstrap, grpcBootstrap } from '../bootstrap.ts';

export const spec: CommandSpec = {
  name: 'bootstrap',
  summary: 'print an Envoy bootstrap (or, with --grpc, a gRPC xDS bootstrap) that points at meshgate',
  options: {
    'xds-address': {
      type: 'string',
      default: '127.0.0.1',
      value: 'HOST',
      description:
        "address of meshgate's xDS port as the node sees it (an IP gives a STATIC cluster, a name STRICT_DNS)",
    },
    'xds-port': { type: 'string', default: '18000', value: 'PORT', description: "meshgate's xDS port" },
    'node-id': {
      type: 'string',
      value: 'ID',
      description: 'node id (default: <hostname>-gateway, or <hostname>-grpc with --grpc)',
    },
    cluster: { type: 'string', default: 'meshgate-gateway', value: 'NAME', description: 'node cluster' },
    sotw: {
      type: 'boolean',
      default: false,
      description: 'state-of-the-world ADS (api_type GRPC) instead of delta (DELTA_GRPC)',
    },
    'admin-port': {
      type: 'string',
      default: '9901',
      value: 'PORT',
      description: 'Envoy admin port, bound to 127.0.0.1',
    },
    output: {
      type: 'string',
      default: 'yaml',
      value: 'json|yaml',
      description: 'output format (gRPC bootstraps are always JSON)',
    },
    'xds-tls-dir': {
      type: 'string',
      value: 'DIR',
      description: 'mTLS to the xDS port with DIR/cert.pem, DIR/key.pem, DIR/ca.pem',
    },
    grpc: {
      type: 'boolean',
      default: false,
      description: 'print a gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP) instead of an Envoy one',
    },
    'cert-provider': {
      type: 'string',
      multiple: true,
      value: 'NAME=DIR',
      description:
        'with --grpc: a file_watcher certificate provider NAME reading DIR/{cert,key,ca}.pem; NAME is the identity or trust bundle name in the config (repeatable)',
    },
  },
};

export async function run(argv: string[]): Promise<number> {
  const { values: v, help } = parseCommand(spec, argv);
  if (help) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const output = String(v.output);
  if (output !== 'json' && output !== 'yaml')
    throw new UsageError(spec.name, `--output must be json or yaml, got ${JSON.stringify(output)}`);
  const xdsPort = parsePort(v['xds-port'], '--xds-port');
  const xdsAddress = String(v['xds-address']);
  const tlsDir = v['xds-tls-dir'] ? resolve(String(v['xds-tls-dir'])) : undefined;
  if (v.grpc) {
    const certProviders = ((v['cert-provider'] as string[] | undefined) ?? []).map((s) => {
      const i = s.indexOf('=');
      if (i <= 0 || i === s.length - 1)
        throw new UsageError(spec.name, `--cert-provider wants NAME=DIR, got ${JSON.stringify(s)}`);
      return { name: s.slice(0, i), dir: resolve(s.slice(i + 1)) };
    });
    const doc = grpcBootstrap({
      xdsAddress,
      xdsPort,
      nodeId: String(v['node-id'] ?? `${hostname()}-grpc`),
      cluster: String(v.cluster),
      certProviders,
      ...(tlsDir ? { xdsTlsDir: tlsDir } : {}),
    });
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  if (v['cert-provider'])
    throw new UsageError(spec.name, '--cert-provider applies only to gRPC bootstraps; add --grpc');
  const doc = envoyBootstrap({
    xdsAddress,
    xdsPort,
    nodeId: String(v['node-id'] ?? `${hostname()}-gateway`),
    cluster: String(v.cluster),
    sotw: Boolean(v.sotw),
    adminPort: parsePort(v['admin-port'], '--admin-port'),
    ...(tlsDir
      ? { xdsTls: { certFile: `${tlsDir}/cert.pem`, keyFile: `${tlsDir}/key.pem`, caFile: `${tlsDir}/ca.pem` } }
      : {}),
  });
  process.stdout.write(output === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc));
  return 0;
}
