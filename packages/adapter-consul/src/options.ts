// Settings of the Consul source, their defaults, and the validator for the `consul:` section of
// meshgate's YAML config. Every setting Emissary lacked (docs/architecture.md, rule 12) is here: ACL token
// from a file or env var, agent TLS, datacenter, namespace, partition.

/** A pino-compatible logger (only the methods used). */
export interface ConsulLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface ConsulTlsOptions {
  /** PEM file with the CA(s) that signed the agent's HTTPS certificate. Default: the system roots. */
  caFile?: string;
  /** Client certificate PEM file, when the agent has verify_incoming set. Default: none. */
  certFile?: string;
  /** Client key PEM file (goes with certFile). Default: none. */
  keyFile?: string;
  /** Name to verify in the agent's certificate (and send as SNI). Default: the host of `address`. */
  serverName?: string;
}

export interface ConsulSourceOptions {
  /** Source name in status and merge precedence. Default 'consul'. */
  name?: string;
  /** Agent HTTP(S) address. Default 'http://127.0.0.1:8500'. */
  address?: string;
  /** Datacenter to read; sent as `dc` when set. Default: the agent's own (learned from /v1/agent/self). */
  datacenter?: string;
  /** Enterprise namespace; sent as `ns` only when set. Default: unset (CE: "default"). */
  namespace?: string;
  /** Enterprise admin partition; sent as `partition` only when set. Default: unset. */
  partition?: string;
  /** File holding the ACL token (re-read when Consul answers 403). Default: none. */
  tokenFile?: string;
  /** Environment variable holding the ACL token. Default: none (CONSUL_HTTP_TOKEN is NOT read implicitly). */
  tokenEnv?: string;
  /** The ACL token itself, for programmatic use only (config files must use tokenFile/tokenEnv). Never logged. */
  token?: string;
  /** Agent TLS (for an https address). Default: none. */
  tls?: ConsulTlsOptions;

  /** Services to watch by Consul name. Default: []. */
  services?: string[];
  /** Also watch every catalog service carrying this tag. Default: unset. */
  tag?: string;
  /** Watch every service in the catalog (small catalogs only: one blocking request per service). Default false. */
  watchAll?: boolean;
  // Services named by the ingress-gateway entry and those passed to ConsulSource.watchServices()
  // (the ones routes need) are always watched as well.

  /** Take instances whose checks are `warning` as well as `passing`. Default false (passing only). */
  includeWarning?: boolean;
  /** How to tell Connect services: 'auto' = the catalog lists `<svc>-sidecar-proxy`; 'always'; 'never'. Default 'auto'. */
  connect?: 'auto' | 'always' | 'never';
  /** Node meta key giving an endpoint's region. Default 'region'. */
  localityRegionKey?: string;
  /** Node meta key giving an endpoint's zone. Default 'zone'. */
  localityZoneKey?: string;
  /** Tag prefix giving an endpoint weight (`meshgate-weight=N`); else Service.Weights.Passing. Default 'meshgate-weight='. */
  weightTagPrefix?: string;

  /** The gateway's Connect identity. Default: disabled. */
  gateway?: {
    /** Consul service name of the gateway, the source of intentions. Default 'meshgate-gateway'. */
    name?: string;
    /** Register the gateway in the agent (and deregister on stop). Default true. */
    register?: boolean;
    /** Service kind to register: 'ingress-gateway' or 'typical'. Default 'ingress-gateway'. */
    kind?: 'ingress-gateway' | 'typical';
    /** Address and port to register. Default 127.0.0.1:8443. */
    address?: string;
    port?: number;
    /** Read the `ingress-gateway` config entry of this name for listeners and routes. Default true. */
    ingressRoutes?: boolean;
    /** Check intentions gateway -> service for routed Connect services. Default true. */
    checkIntentions?: boolean;
  };

  /** Blocking wait. Default '5m' (Consul caps at 10m). */
  waitMs?: number;
  /** Timeout of non-blocking requests (and added to a blocking one's wait). Default 10000 ms. */
  requestTimeoutMs?: number;
  /** At most this many non-blocking requests in flight (the initial fan-out). Default 32. */
  concurrency?: number;
  /** Larger answers are refused and reported. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Per-loop token bucket: burst, calm and churn intervals. Default 2, 1000 ms, 15000 ms. */
  rateLimit?: { burst?: number; minIntervalMs?: number; maxIntervalMs?: number };
  /** Retry backoff after errors: base and cap. Default 250 ms, 30000 ms. */
  backoff?: { baseMs?: number; capMs?: number };

  /** Logger (pino-compatible). Default: silent. */
  logger?: ConsulLogger;
}

export interface ConfigError {
  path: string;
  message: string;
}

const KNOWN = new Set([
  'name',
  'address',
  'datacenter',
  'namespace',
  'partition',
  'tokenFile',
  'tokenEnv',
  'tls',
  'services',
  'tag',
  'watchAll',
  'includeWarning',
  'connect',
  'localityRegionKey',
  'localityZoneKey',
  'weightTagPrefix',
  'gateway',
  'wait',
  'requestTimeout',
  'concurrency',
  'maxBodyBytes',
  'rateLimit',
]);

function parseDurationMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']);
}

/**
 * Validates the `consul:` section of meshgate's config (a plain object from YAML) and returns
 * options, or errors that name the path (prefixed with `pathPrefix`, e.g. `consul`) and the fix.
 * Durations are strings like "5m" or "10s"; the token can only come from `tokenFile` or `tokenEnv`.
 */
export function parseConsulConfig(
  obj: unknown,
  pathPrefix = 'consul',
): { options?: ConsulSourceOptions; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const p = (k: string) => (pathPrefix ? `${pathPrefix}.${k}` : k);
  if (obj === null || obj === undefined) return { options: {}, errors };
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    return {
      errors: [
        {
          path: pathPrefix || '(root)',
          message: 'must be a mapping of Consul settings, e.g. {address: "http://127.0.0.1:8500"}',
        },
      ],
    };
  }
  const o = obj as Record<string, unknown>;
  const out: ConsulSourceOptions = {};
  for (const k of Object.keys(o)) {
    if (k === 'token')
      errors.push({
        path: p(k),
        message:
          'an inline ACL token is not accepted in config files; put it in a file (tokenFile) or an environment variable (tokenEnv)',
      });
    else if (!KNOWN.has(k))
      errors.push({ path: p(k), message: `unknown setting; known settings: ${[...KNOWN].join(', ')}` });
  }
  const optStr = (k: string, check?: (s: string) => string | undefined): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') {
      errors.push({ path: p(k), message: 'must be a non-empty string' });
      return undefined;
    }
    const bad = check?.(v);
    if (bad) {
      errors.push({ path: p(k), message: bad });
      return undefined;
    }
    return v;
  };
  const optBool = (k: string): boolean | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') errors.push({ path: p(k), message: 'must be true or false' });
    return typeof v === 'boolean' ? v : undefined;
  };
  const optInt = (k: string, min: number, max: number, obj2 = o, path = p(k)): number | undefined => {
    const v = obj2[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      errors.push({ path, message: `must be an integer in ${min}..${max}` });
      return undefined;
    }
    return v;
  };
  const set = <K extends keyof ConsulSourceOptions>(k: K, v: ConsulSourceOptions[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };

  set('name', optStr('name'));
  set(
    'address',
    optStr('address', (s) => {
      try {
        const u = new URL(s);
        if (u.protocol !== 'http:' && u.protocol !== 'https:')
          return 'must be an http:// or https:// URL, e.g. http://127.0.0.1:8500';
        if (u.username || u.password) return 'must not carry credentials; use tokenFile or tokenEnv for the ACL token';
      } catch {
        return 'must be a URL such as http://127.0.0.1:8500 or https://consul.example:8501';
      }
      return undefined;
    }),
  );
  set(
    'datacenter',
    optStr('datacenter', (s) =>
      /^[A-Za-z0-9_-]+$/.test(s) ? undefined : 'must be a Consul datacenter name (letters, digits, - and _)',
    ),
  );
  set('namespace', optStr('namespace'));
  set('partition', optStr('partition'));
  set('tokenFile', optStr('tokenFile'));
  set(
    'tokenEnv',
    optStr('tokenEnv', (s) =>
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? undefined : 'must be an environment variable name such as CONSUL_HTTP_TOKEN',
    ),
  );
  if (out.tokenEnv && process.env[out.tokenEnv] === undefined)
    errors.push({
      path: p('tokenEnv'),
      message: `environment variable ${out.tokenEnv} is not set; export it or use tokenFile`,
    });
  set('tag', optStr('tag'));
  set('watchAll', optBool('watchAll'));
  set('includeWarning', optBool('includeWarning'));
  set('localityRegionKey', optStr('localityRegionKey'));
  set('localityZoneKey', optStr('localityZoneKey'));
  set('weightTagPrefix', optStr('weightTagPrefix'));
  set(
    'connect',
    optStr('connect', (s) =>
      ['auto', 'always', 'never'].includes(s) ? undefined : 'must be one of auto, always, never',
    ) as ConsulSourceOptions['connect'],
  );
  set('concurrency', optInt('concurrency', 1, 1024));
  set('maxBodyBytes', optInt('maxBodyBytes', 1024, 1 << 30));

  if (o.services !== undefined && o.services !== null) {
    if (!Array.isArray(o.services) || o.services.some((s) => typeof s !== 'string' || s === ''))
      errors.push({ path: p('services'), message: 'must be a list of Consul service names, e.g. [web, api]' });
    else out.services = [...o.services] as string[];
  }
  for (const [k, key, max] of [
    ['wait', 'waitMs', 600_000],
    ['requestTimeout', 'requestTimeoutMs', 600_000],
  ] as const) {
    if (o[k] === undefined || o[k] === null) continue;
    const ms = parseDurationMs(o[k]);
    if (ms === undefined || ms > max)
      errors.push({
        path: p(k),
        message: `must be a duration such as "30s" or "5m"${k === 'wait' ? " (at most 10m, Consul's cap)" : ''}`,
      });
    else out[key] = ms;
  }
  if (o.tls !== undefined && o.tls !== null) {
    if (typeof o.tls !== 'object' || Array.isArray(o.tls))
      errors.push({ path: p('tls'), message: 'must be a mapping with caFile, certFile, keyFile, serverName' });
    else {
      const t = o.tls as Record<string, unknown>;
      const tls: ConsulTlsOptions = {};
      for (const k of Object.keys(t)) {
        if (!['caFile', 'certFile', 'keyFile', 'serverName'].includes(k))
          errors.push({
            path: p(`tls.${k}`),
            message: 'unknown setting; known: caFile, certFile, keyFile, serverName',
          });
        else if (typeof t[k] !== 'string' || t[k] === '')
          errors.push({ path: p(`tls.${k}`), message: 'must be a non-empty string' });
        else tls[k as keyof ConsulTlsOptions] = t[k] as string;
      }
      if (!!tls.certFile !== !!tls.keyFile)
        errors.push({ path: p('tls'), message: 'certFile and keyFile go together: set both or neither' });
      out.tls = tls;
    }
  }
  if (o.rateLimit !== undefined && o.rateLimit !== null) {
    if (typeof o.rateLimit !== 'object' || Array.isArray(o.rateLimit))
      errors.push({ path: p('rateLimit'), message: 'must be a mapping with burst, minInterval, maxInterval' });
    else {
      const r = o.rateLimit as Record<string, unknown>;
      const rl: NonNullable<ConsulSourceOptions['rateLimit']> = {};
      for (const k of Object.keys(r)) {
        if (k === 'burst') rl.burst = optInt('burst', 1, 100, r, p('rateLimit.burst'));
        else if (k === 'minInterval' || k === 'maxInterval') {
          const ms = parseDurationMs(r[k]);
          if (ms === undefined) errors.push({ path: p(`rateLimit.${k}`), message: 'must be a duration such as "1s"' });
          else rl[k === 'minInterval' ? 'minIntervalMs' : 'maxIntervalMs'] = ms;
        } else
          errors.push({
            path: p(`rateLimit.${k}`),
            message: 'unknown setting; known: burst, minInterval, maxInterval',
          });
      }
      out.rateLimit = rl;
    }
  }
  if (o.gateway !== undefined && o.gateway !== null) {
    if (typeof o.gateway !== 'object' || Array.isArray(o.gateway))
      errors.push({ path: p('gateway'), message: 'must be a mapping, e.g. {name: meshgate-gateway}' });
    else {
      const g = o.gateway as Record<string, unknown>;
      const gw: NonNullable<ConsulSourceOptions['gateway']> = {};
      for (const k of Object.keys(g)) {
        const gp = p(`gateway.${k}`);
        const v = g[k];
        if (k === 'name' || k === 'address') {
          if (typeof v !== 'string' || v === '') errors.push({ path: gp, message: 'must be a non-empty string' });
          else gw[k] = v;
        } else if (k === 'kind') {
          if (v !== 'ingress-gateway' && v !== 'typical')
            errors.push({ path: gp, message: 'must be ingress-gateway or typical' });
          else gw.kind = v;
        } else if (k === 'port') gw.port = optInt('port', 1, 65535, g, gp);
        else if (k === 'register' || k === 'ingressRoutes' || k === 'checkIntentions') {
          if (typeof v !== 'boolean') errors.push({ path: gp, message: 'must be true or false' });
          else gw[k] = v;
        } else
          errors.push({
            path: gp,
            message: 'unknown setting; known: name, register, kind, address, port, ingressRoutes, checkIntentions',
          });
      }
      out.gateway = gw;
    }
  }
  return errors.length ? { errors } : { options: out, errors };
}
