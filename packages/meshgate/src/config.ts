import { readFileSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { LineCounter, parseDocument, isMap } from 'yaml';
import { parseDuration, parsePort } from './args.ts';
import { LOG_LEVELS } from './logger.ts';

/** Top-level keys of the config file that belong to meshgate itself, not to the file source. */
export const MESHGATE_KEYS = ['xds', 'admin', 'consul', 'kubernetes', 'certs', 'logging'] as const;

export interface MeshgateSettings {
  configPath: string;
  xds: {
    port: number;
    address: string;
    /** Quiet period of the debouncer (ms). */
    debounceMs: number;
    /** Longest a burst may delay a publish (ms). */
    maxDelayMs: number;
    tls?: { certFile: string; keyFile: string; caFile: string };
    /** Serve Secrets holding private keys to clients without a verified certificate (local development only). */
    insecureAllowUnauthenticatedSecrets: boolean;
  };
  admin: { port: number; address: string };
  logLevel: string;
  /** The raw `consul:` section, handed to adapter-consul's parseConsulConfig. */
  consul?: unknown;
  /**
   * The raw `kubernetes:` section (handed to adapter-kubernetes' parseKubernetesConfig), or null when
   * only --kubeconfig turned the source on. `kubeconfig` is the flag's or the file's path, resolved.
   */
  kubernetes?: unknown;
  kubeconfig?: string;
  /** The raw `certs:` section (built-in CA state). */
  certs?: { dir: string; [k: string]: unknown };
}

/** A config-file mistake in a meshgate section; the message names the file, line and key. */
export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
}

export interface Overrides {
  xdsPort?: number;
  xdsAddress?: string;
  adminPort?: number;
  adminAddress?: string;
  logLevel?: string;
  /** --kubeconfig: read Kubernetes with this kubeconfig file (turns the kubernetes source on). */
  kubeconfig?: string;
  /** `--insecure-allow-unauthenticated-secrets`: turns the file's setting on (a flag never turns it off). */
  insecureAllowUnauthenticatedSecrets?: boolean;
}

const DEFAULTS = {
  xdsPort: 18000,
  xdsAddress: '0.0.0.0',
  adminPort: 19000,
  adminAddress: '127.0.0.1',
  debounceMs: 100,
  maxDelayMs: 1000,
  logLevel: 'info',
};

/**
 * The kubernetes source is on with a `kubernetes:` section (even an empty one) or --kubeconfig. The
 * flag wins over the section's kubeconfig; a relative path in the file is relative to the file.
 */
function kubernetesSettings(
  section: unknown,
  flag: string | undefined,
  rel: (p: string) => string,
): Pick<MeshgateSettings, 'kubernetes' | 'kubeconfig'> {
  if (section === undefined && flag === undefined) return {};
  const fromFile = (section as { kubeconfig?: unknown } | null)?.kubeconfig;
  const path =
    flag !== undefined ? resolve(flag) : typeof fromFile === 'string' && fromFile ? rel(fromFile) : undefined;
  return { kubernetes: section ?? null, ...(path ? { kubeconfig: path } : {}) };
}

/**
 * Reads meshgate's own sections from the config file. Precedence: flags, then env
 * (MESHGATE_XDS_PORT, MESHGATE_ADMIN_PORT), then the file, then defaults. A file that does not
 * parse as YAML yields defaults here; the file source reports the syntax error with its position.
 */
export function loadSettings(
  configPath: string,
  flags: Overrides = {},
  env: NodeJS.ProcessEnv = process.env,
): MeshgateSettings {
  const file = resolve(configPath);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; pass an existing YAML file with --config`,
    );
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const root = doc.errors.length === 0 && isMap(doc.contents) ? (doc.toJS() as Record<string, unknown>) : {};
  const where = (path: (string | number)[], atKey = false) => {
    let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    if (atKey) {
      const parent = doc.getIn(path.slice(0, -1), true);
      const pair = isMap(parent)
        ? parent.items.find((it) => (it.key as { value?: unknown })?.value === path.at(-1))
        : undefined;
      node = (pair?.key as typeof node) ?? node;
    }
    const pos = node?.range ? lc.linePos(node.range[0]) : undefined;
    return pos ? `${file}:${pos.line}:${pos.col}` : file;
  };
  const fail = (path: (string | number)[], msg: string, atKey = false): never => {
    throw new ConfigError(`${where(path, atKey)}: ${path.join('.')}: ${msg}`);
  };
  const section = (key: string): Record<string, unknown> => {
    const v = root[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) fail([key], 'must be a mapping');
    return v as Record<string, unknown>;
  };
  const allowOnly = (key: string, sec: Record<string, unknown>, allowed: string[]) => {
    for (const k of Object.keys(sec))
      if (!allowed.includes(k)) fail([...key.split('.'), k], `unknown key; valid keys are ${allowed.join(', ')}`, true);
  };
  const xds = section('xds');
  allowOnly('xds', xds, ['port', 'address', 'debounce', 'maxDelay', 'tls', 'insecureAllowUnauthenticatedSecrets']);
  const admin = section('admin');
  allowOnly('admin', admin, ['port', 'address']);
  const logging = section('logging');
  allowOnly('logging', logging, ['level']);

  const port = (v: unknown, path: string[]) => {
    try {
      return parsePort(v, path.join('.'));
    } catch (err) {
      return fail(path, (err as Error).message);
    }
  };
  const dur = (v: unknown, path: string[], def: number) => {
    if (v === undefined) return def;
    if (typeof v === 'number' && v >= 0) return v;
    try {
      return parseDuration(String(v), path.join('.'));
    } catch (err) {
      return fail(path, (err as Error).message);
    }
  };
  const str = (v: unknown, path: string[]) =>
    v === undefined ? undefined : typeof v === 'string' && v ? v : fail(path, 'must be a non-empty string');
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p));

  let tls: MeshgateSettings['xds']['tls'];
  if (xds.tls !== undefined) {
    const t = xds.tls as Record<string, unknown>;
    if (typeof t !== 'object' || t === null) fail(['xds', 'tls'], 'must be a mapping with certFile, keyFile, caFile');
    allowOnly('xds.tls', t, ['certFile', 'keyFile', 'caFile']);
    const need = (k: string) =>
      rel(
        str(t[k], ['xds', 'tls', k]) ??
          fail(['xds', 'tls'], `${k} is required (PEM file path, relative to the config file)`),
      );
    tls = { certFile: need('certFile'), keyFile: need('keyFile'), caFile: need('caFile') };
  }

  const insecure = xds.insecureAllowUnauthenticatedSecrets;
  if (insecure !== undefined && typeof insecure !== 'boolean')
    fail(
      ['xds', 'insecureAllowUnauthenticatedSecrets'],
      `must be true or false, got ${JSON.stringify(insecure)}; leave it out (false) unless this is a local development setup: it serves private keys to xDS clients that present no certificate`,
    );

  const envPort = (name: string) => (env[name] ? parsePort(env[name], `environment variable ${name}`) : undefined);
  const logLevel = flags.logLevel ?? str(logging.level, ['logging', 'level']) ?? DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new ConfigError(`log level ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);

  let certs: MeshgateSettings['certs'];
  if (root.certs !== undefined && root.certs !== null) {
    const c = section('certs');
    const dir =
      str(c.dir, ['certs', 'dir']) ??
      fail(
        ['certs'],
        'dir is required: the built-in CA state directory (create it with `meshgate certs init-ca --out DIR`)',
      );
    certs = { ...c, dir: rel(dir) };
  }

  return {
    configPath: file,
    xds: {
      port:
        flags.xdsPort ??
        envPort('MESHGATE_XDS_PORT') ??
        (xds.port !== undefined ? port(xds.port, ['xds', 'port']) : DEFAULTS.xdsPort),
      address: flags.xdsAddress ?? str(xds.address, ['xds', 'address']) ?? DEFAULTS.xdsAddress,
      debounceMs: dur(xds.debounce, ['xds', 'debounce'], DEFAULTS.debounceMs),
      maxDelayMs: dur(xds.maxDelay, ['xds', 'maxDelay'], DEFAULTS.maxDelayMs),
      ...(tls ? { tls } : {}),
      insecureAllowUnauthenticatedSecrets: flags.insecureAllowUnauthenticatedSecrets === true || insecure === true,
    },
    admin: {
      port:
        flags.adminPort ??
        envPort('MESHGATE_ADMIN_PORT') ??
        (admin.port !== undefined ? port(admin.port, ['admin', 'port']) : DEFAULTS.adminPort),
      address: flags.adminAddress ?? str(admin.address, ['admin', 'address']) ?? DEFAULTS.adminAddress,
    },
    logLevel,
    ...(root.consul !== undefined && root.consul !== null ? { consul: root.consul } : {}),
    ...kubernetesSettings(root.kubernetes, flags.kubeconfig, rel),
    ...(certs ? { certs } : {}),
  };
}
