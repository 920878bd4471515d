import { dirname, isAbsolute, resolve } from 'node:path';
import { parseKubernetesConfig } from '@meshgate/adapter-kubernetes';
import type { KubernetesSourceOptions } from '@meshgate/adapter-kubernetes';
import { consulOptions } from '@meshgate/adapter-consul';
import type { ConsulSourceOptions } from '@meshgate/adapter-consul';
import {
  checkConfigText,
  ConfigError,
  InvalidConfigError,
  parseDuration,
  readConfigText,
  readText,
  sortErrors,
} from '@meshgate/config-schema';
import type { CheckedText, Field, Spec } from '@meshgate/config-schema';
import type { KeyType } from '@meshgate/certs';
import type { CertsSettings } from './certs-source.ts';
import { linkerdSettings } from './linkerd-source.ts';
import type { LinkerdSettings } from './linkerd-source.ts';
import { CONFIG_SCHEMA, DEFAULTS, MESHGATE_KEYS } from './config-schema.ts';
import { type IstioSettings, istioSettings } from './istio-config.ts';

export { MESHGATE_KEYS };
/** One located error type for every config problem (file, flags, env); re-exported for embedders. */
export { ConfigError, InvalidConfigError };

export interface MeshgateSettings {
  configPath: string;
  xds: {
    port: number;
    address: string;
    /** Quiet period of the debouncer (ms). */
    debounceMs: number;
    /** Longest a burst may delay a publish (ms). */
    maxDelayMs: number;
    /** How long /debug/nodes keeps the NACKs of a node that disconnected (ms; 0 keeps none). */
    nackRetentionMs: number;
    /** Largest request message accepted (bytes). */
    maxRequestBytes: number;
    /** How long a stream may leave a response unread before it is reset (ms; 0 never). */
    stalledStreamMs: number;
    /** Most client connections open at once (0: no limit). */
    maxConnections: number;
    /** Most concurrent streams on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
    maxStreamsPerConnection: number;
    tls?: { certFile: string; keyFile: string; caFile: string };
    /** Serve key-holding Secrets to clients without a verified certificate (insecure, dev only). */
    insecureAllowUnauthenticatedSecrets: boolean;
  };
  admin: { port: number; address: string };
  logLevel: string;
  /** The `consul:` section as ConsulSource options; absent without the section. */
  consul?: ConsulSourceOptions;
  /** The `kubernetes:` section (or only --kubeconfig) as KubernetesSource options; absent without either. */
  kubernetes?: KubernetesSourceOptions;
  /** The kubeconfig to use: the flag's, else the section's resolved against the file; none means in-cluster. */
  kubeconfig?: string;
  /** The `certs:` section (built-in CA); absent without the section. */
  certs?: CertsSettings;
  /** The `istio:` section (the gateway's certificate from istiod); absent without the section. */
  istio?: IstioSettings;
  /** The `linkerd:` section (the gateway's Linkerd identity); absent without the section. */
  linkerd?: LinkerdSettings;
  /** Every checked non-model section as written (durations in ms), for sections wired elsewhere. */
  sections: Record<string, unknown>;
}

/** Programmatic overrides (tests, embedding), the same settings `serve`'s flags set. */
export interface Overrides {
  xdsPort?: number;
  xdsAddress?: string;
  adminPort?: number;
  adminAddress?: string;
  logLevel?: string;
  insecureAllowUnauthenticatedSecrets?: boolean;
  /** --kubeconfig: read Kubernetes with this kubeconfig file (turns the kubernetes source on). */
  kubeconfig?: string;
}

/** Which setting each override (and so each flag) sets. */
export const OVERRIDE_PATHS = {
  xdsPort: 'xds.port',
  xdsAddress: 'xds.address',
  adminPort: 'admin.port',
  adminAddress: 'admin.address',
  logLevel: 'logging.level',
  insecureAllowUnauthenticatedSecrets: 'xds.insecureAllowUnauthenticatedSecrets',
} as const satisfies Record<Exclude<keyof Overrides, 'kubeconfig'>, string>;

/** The schema field at a dotted path of CONFIG_SCHEMA (list levels add nothing: `certs.identities.ttl`). */
export function fieldAt(path: string): Field {
  let spec: Spec = CONFIG_SCHEMA;
  let field: Field | undefined;
  for (const k of path.split('.')) {
    while (spec.kind === 'list' || spec.kind === 'stringOrObject') spec = spec.kind === 'list' ? spec.of : spec.object;
    if (spec.kind !== 'object' || !spec.fields[k]) throw new Error(`no config key ${path}`);
    field = spec.fields[k];
    spec = field.spec;
  }
  return field!;
}

export interface ReadResult {
  /**
   * Absent only when the file cannot be read. With problems, sections that had them are left at
   * their defaults (or out), so a caller that goes on anyway has the rest.
   */
  settings?: MeshgateSettings;
  /** Every problem in the file's sections (model sections' shape included), env and overrides, in file order. */
  errors: ConfigError[];
  /** The checked file, for callers that report more (the model's own checks). */
  checked?: CheckedText;
}

/**
 * Reads the config file against the one schema and turns meshgate's own sections into settings.
 * Precedence: overrides (flags), then env (MESHGATE_XDS_PORT, MESHGATE_ADMIN_PORT), then the file,
 * then defaults. Every problem is returned, not only the first.
 */
export function readSettings(
  configPath: string,
  flags: Overrides = {},
  env: NodeJS.ProcessEnv = process.env,
): ReadResult {
  const file = resolve(configPath);
  const read = readConfigText(file);
  if ('error' in read) return { errors: [read.error] };
  const checked = checkConfigText(read.text, file, CONFIG_SCHEMA);
  const r = checked.reader;
  const extra: ConfigError[] = [];
  const v = checked.values as Record<string, Record<string, unknown> | undefined>;
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p));

  // A setting: override, then env, then file, then default.
  const pick = <T>(override: T | undefined, path: string, fileValue: unknown, def: T): T => {
    if (override !== undefined) return override;
    const f = fieldAt(path);
    const e = f.env ? env[f.env] : undefined;
    if (f.env && e !== undefined && e !== '') {
      const got = readText(e, f.spec);
      if ('value' in got) return got.value as T;
      extra.push(
        new ConfigError(
          'environment',
          '',
          { path: '', line: 0, col: 0 },
          `environment variable ${f.env} must be ${got.expected}, got ${JSON.stringify(e)}`,
        ),
      );
    }
    return fileValue === undefined ? def : (fileValue as T);
  };

  const xds = v.xds ?? {};
  const admin = v.admin ?? {};
  const logging = v.logging ?? {};
  const debounceMs = (xds.debounce as number | undefined) ?? parseDuration(DEFAULTS.debounce)!;
  const maxDelayMs = (xds.maxDelay as number | undefined) ?? parseDuration(DEFAULTS.maxDelay)!;
  if (debounceMs > maxDelayMs)
    r.error(
      'range',
      r.at(xds.maxDelay !== undefined ? 'xds.maxDelay' : 'xds.debounce'),
      `xds.maxDelay (${maxDelayMs}ms) is shorter than xds.debounce (${debounceMs}ms)`,
      'make maxDelay at least as long as debounce',
    );
  const tls = xds.tls as Record<string, string> | undefined;
  const logLevel = pick(flags.logLevel, 'logging.level', logging.level, DEFAULTS.logLevel as string);
  const levels = fieldAt('logging.level').spec;
  if (levels.kind === 'string' && levels.enum && !levels.enum.includes(logLevel))
    extra.push(
      new ConfigError(
        'range',
        '',
        { path: '', line: 0, col: 0 },
        `log level ${JSON.stringify(logLevel)} is not one of ${levels.enum.join(', ')}`,
      ),
    );

  const settings: MeshgateSettings = {
    configPath: file,
    xds: {
      port: pick(flags.xdsPort, 'xds.port', xds.port, DEFAULTS.xdsPort as number),
      address: pick(flags.xdsAddress, 'xds.address', xds.address, DEFAULTS.xdsAddress as string),
      debounceMs,
      maxDelayMs,
      nackRetentionMs: (xds.nackRetention as number | undefined) ?? parseDuration(DEFAULTS.nackRetention)!,
      maxRequestBytes: (xds.maxRequestBytes as number | undefined) ?? DEFAULTS.maxRequestBytes,
      stalledStreamMs:
        (xds.stalledStreamTimeout as number | undefined) ?? parseDuration(DEFAULTS.stalledStreamTimeout)!,
      maxConnections: (xds.maxConnections as number | undefined) ?? DEFAULTS.maxConnections,
      maxStreamsPerConnection: (xds.maxStreamsPerConnection as number | undefined) ?? DEFAULTS.maxStreamsPerConnection,
      ...(tls ? { tls: { certFile: rel(tls.certFile), keyFile: rel(tls.keyFile), caFile: rel(tls.caFile) } } : {}),
      // The flag can only turn the opt-in on, never override a file that has it on.
      insecureAllowUnauthenticatedSecrets: pick(
        flags.insecureAllowUnauthenticatedSecrets || undefined,
        'xds.insecureAllowUnauthenticatedSecrets',
        xds.insecureAllowUnauthenticatedSecrets,
        false,
      ),
    },
    admin: {
      port: pick(flags.adminPort, 'admin.port', admin.port, DEFAULTS.adminPort as number),
      address: pick(flags.adminAddress, 'admin.address', admin.address, DEFAULTS.adminAddress as string),
    },
    logLevel,
    sections: Object.fromEntries(MESHGATE_KEYS.filter((k) => v[k] !== undefined).map((k) => [k, v[k]])),
  };
  if (v.consul !== undefined)
    settings.consul = consulOptions(v.consul, (path, reason) => r.error('environment', r.at(path), reason), env);
  if (v.certs !== undefined) settings.certs = certsSettings(v.certs, rel);
  if (v.istio !== undefined) settings.istio = istioSettings(v.istio, rel);
  if (v.linkerd !== undefined) settings.linkerd = linkerdSettings(v.linkerd, rel);
  if (v.kubernetes !== undefined || flags.kubeconfig !== undefined) {
    const k = parseKubernetesConfig(v.kubernetes ?? null, 'kubernetes');
    for (const e of k.errors) r.error('type', r.at(e.path), e.message);
    if (k.options) {
      settings.kubernetes = k.options;
      const kc = flags.kubeconfig !== undefined ? resolve(flags.kubeconfig) : k.options.kubeconfig;
      if (kc) settings.kubeconfig = flags.kubeconfig !== undefined ? kc : rel(kc);
    }
  }
  // One mesh decides how the Kubernetes source reaches its Services; two would each undo the other's TLS.
  if (settings.linkerd?.kubernetesServices) {
    const at = r.at('linkerd.kubernetesServices');
    if (!settings.kubernetes)
      r.error(
        'reference',
        at,
        'linkerd.kubernetesServices needs a kubernetes: section (or --kubeconfig): it applies to that source’s Services',
        'add a kubernetes: section, or list the backends in linkerd.services',
      );
    else if (settings.istio?.upstreams)
      r.error(
        'range',
        at,
        'linkerd.kubernetesServices and istio.upstreams both decide how the Kubernetes Services are reached; only one mesh can',
        'set istio.upstreams: false or linkerd.kubernetesServices: false',
      );
    else if (settings.kubernetes.linkerdIngress)
      r.error(
        'range',
        at,
        'linkerd.kubernetesServices (pods reached directly over Linkerd mTLS) contradicts kubernetes.linkerdIngress (cluster IPs through the injected proxy)',
        'choose one: remove kubernetes.linkerdIngress or linkerd.kubernetesServices',
      );
  }
  return { settings, errors: sortErrors([...r.errors, ...extra]), checked };
}

/** The checked `certs:` section as CertsSource settings; relative paths are the config file's. */
// biome-ignore lint/suspicious/noExplicitAny: checked by the certs section's schema before it gets here
export function certsSettings(c: Record<string, any>, rel: (p: string) => string = (p) => p): CertsSettings {
  return {
    dir: rel(c.dir),
    trustBundle: c.trustBundle ?? DEFAULTS.certsTrustBundle,
    // biome-ignore lint/suspicious/noExplicitAny: as above
    identities: ((c.identities ?? []) as Record<string, any>[]).map((it) => ({
      name: it.name,
      ...(it.spiffe !== undefined ? { spiffe: it.spiffe } : {}),
      ...(it.dns !== undefined ? { dns: it.dns } : {}),
      ttlMs: it.ttl ?? parseDuration(DEFAULTS.certsTtl)!,
      keyType: (it.keyType ?? DEFAULTS.certsKeyType) as KeyType,
      ...(it.allowedNodes?.length ? { allowedNodes: [...it.allowedNodes] } : {}),
    })),
  };
}

/** Problems that stop `serve` before it starts: in meshgate's own sections, env and overrides. */
function ownProblems(errors: readonly ConfigError[]): ConfigError[] {
  const root = (p: string) => p.split(/[.[]/)[0];
  return errors.filter((e) =>
    e.code === 'syntax'
      ? false
      : e.path === ''
        ? e.file === '' || e.code === 'io'
        : MESHGATE_KEYS.includes(root(e.path)),
  );
}

/**
 * Settings for `serve`: throws an InvalidConfigError listing every problem in meshgate's own
 * sections, env and flags. Problems in the model's sections (and YAML syntax errors) are left to
 * the file source, which reports them (status, /readyz, logs), serves nothing until the file is
 * right, and picks up the fix on the next save.
 */
export function loadSettings(
  configPath: string,
  flags: Overrides = {},
  env: NodeJS.ProcessEnv = process.env,
): MeshgateSettings {
  const r = readSettings(configPath, flags, env);
  const own = ownProblems(r.errors);
  if (own.length || !r.settings) throw new InvalidConfigError(own.length ? own : r.errors);
  return r.settings;
}
