// Settings of the Consul source, their defaults, and the `consul:` section of meshgate's YAML
// config (its schema and its conversion to options). Every setting Emissary lacked
// (docs/architecture.md, rule 12) is here: ACL token
// from a file or env var, agent TLS, datacenter, namespace, partition.

import { checkValue } from '@meshgate/config-schema';
import type { ConfigError, ConfigSection } from '@meshgate/config-schema';

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

const DURATION_MAX_WAIT = 600_000;

const nonEmpty = { kind: 'string', nonEmpty: true } as const;
const path = { kind: 'string', nonEmpty: true, typeName: 'path' } as const;

/**
 * The `consul:` section of meshgate's config file, contributed to meshgate's one schema. Defaults
 * are the ConsulSource's; the docs' table is generated from here.
 */
export const CONSUL_SECTION: ConfigSection = {
  key: 'consul',
  owner: '@meshgate/adapter-consul',
  field: {
    doc: 'adds a Consul source (see docs/consul.md)',
    spec: {
      kind: 'object',
      refused: {
        token:
          'an inline ACL token is not accepted in config files; put it in a file (tokenFile) or an environment variable (tokenEnv)',
      },
      fields: {
        name: { spec: nonEmpty, default: 'consul', doc: 'source name in status and merge precedence' },
        address: {
          spec: {
            kind: 'string',
            nonEmpty: true,
            typeName: 'URL',
            check: (s) => {
              try {
                const u = new URL(s);
                if (u.protocol !== 'http:' && u.protocol !== 'https:')
                  return 'must be an http:// or https:// URL, e.g. http://127.0.0.1:8500';
                if (u.username || u.password)
                  return 'must not carry credentials; use tokenFile or tokenEnv for the ACL token';
              } catch {
                return 'must be a URL such as http://127.0.0.1:8500 or https://consul.example:8501';
              }
              return undefined;
            },
          },
          default: 'http://127.0.0.1:8500',
          doc: 'agent HTTP(S) address',
        },
        datacenter: {
          spec: {
            kind: 'string',
            pattern: /^[A-Za-z0-9_-]+$/,
            hint: 'a Consul datacenter name (letters, digits, - and _)',
          },
          doc: "datacenter to read, sent as `?dc=`; default: the agent's own (from /v1/agent/self)",
        },
        namespace: { spec: nonEmpty, doc: 'Enterprise namespace, sent as `?ns=` only when set' },
        partition: { spec: nonEmpty, doc: 'Enterprise admin partition, sent as `?partition=` only when set' },
        tokenFile: {
          spec: path,
          doc: 'file holding the ACL token, re-read when Consul answers 403',
        },
        tokenEnv: {
          spec: {
            kind: 'string',
            pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
            hint: 'an environment variable name such as CONSUL_HTTP_TOKEN',
          },
          doc: 'environment variable holding the ACL token (`CONSUL_HTTP_TOKEN` is not read unless named here)',
        },
        tls: {
          spec: {
            kind: 'object',
            together: [['certFile', 'keyFile']],
            fields: {
              caFile: {
                spec: path,
                doc: "PEM file with the CA(s) of the agent's HTTPS certificate; default: the system roots",
              },
              certFile: { spec: path, doc: 'client certificate PEM file, when the agent has verify_incoming' },
              keyFile: { spec: path, doc: 'client key PEM file (goes with certFile)' },
              serverName: {
                spec: nonEmpty,
                doc: "name to verify in the agent's certificate (and send as SNI); default: the host of `address`",
              },
            },
          },
          doc: 'agent TLS, for an https address',
        },
        services: {
          spec: { kind: 'list', of: nonEmpty, hint: 'a list of Consul service names, e.g. [web, api]' },
          default: '[]',
          doc: 'services to watch by Consul name',
        },
        tag: { spec: nonEmpty, doc: 'also watch every catalog service carrying this tag' },
        watchAll: {
          spec: { kind: 'bool' },
          default: 'false',
          doc: 'watch every service in the catalog (small catalogs only: one blocking request per service)',
        },
        includeWarning: {
          spec: { kind: 'bool' },
          default: 'false',
          doc: 'take instances whose checks are `warning` as well as `passing`',
        },
        connect: {
          spec: { kind: 'string', enum: ['auto', 'always', 'never'] },
          default: 'auto',
          doc: 'how to tell Connect services; `auto`: the catalog lists `<svc>-sidecar-proxy`',
        },
        localityRegionKey: { spec: nonEmpty, default: 'region', doc: "node meta key giving an endpoint's region" },
        localityZoneKey: { spec: nonEmpty, default: 'zone', doc: "node meta key giving an endpoint's zone" },
        weightTagPrefix: {
          spec: nonEmpty,
          default: 'meshgate-weight=',
          doc: 'tag prefix giving an endpoint weight (`meshgate-weight=N`); else `Service.Weights.Passing`',
        },
        gateway: {
          spec: {
            kind: 'object',
            fields: {
              name: {
                spec: nonEmpty,
                default: 'meshgate-gateway',
                doc: 'Consul service name of the gateway, the source of intentions',
              },
              register: {
                spec: { kind: 'bool' },
                default: 'true',
                doc: 'register the gateway in the agent (and deregister on stop)',
              },
              kind: {
                spec: { kind: 'string', enum: ['ingress-gateway', 'typical'] },
                default: 'ingress-gateway',
                doc: 'service kind to register',
              },
              address: { spec: nonEmpty, default: '127.0.0.1', doc: 'address to register' },
              port: { spec: { kind: 'int', min: 1, max: 65535 }, default: '8443', doc: 'port to register' },
              ingressRoutes: {
                spec: { kind: 'bool' },
                default: 'true',
                doc: 'read the `ingress-gateway` config entry of this name for listeners and routes',
              },
              checkIntentions: {
                spec: { kind: 'bool' },
                default: 'true',
                doc: 'check intentions gateway -> service for routed Connect services',
              },
            },
          },
          doc: "the gateway's Connect identity; default: disabled",
        },
        wait: {
          spec: { kind: 'duration', minMs: 1, maxMs: DURATION_MAX_WAIT },
          default: '5m',
          doc: "blocking wait (at most 10m, Consul's cap)",
        },
        requestTimeout: {
          spec: { kind: 'duration', minMs: 1, maxMs: 600_000 },
          default: '10s',
          doc: "timeout of non-blocking requests (and added to a blocking one's wait)",
        },
        concurrency: {
          spec: { kind: 'int', min: 1, max: 1024 },
          default: '32',
          doc: 'at most this many non-blocking requests in flight (the initial fan-out)',
        },
        maxBodyBytes: {
          spec: { kind: 'int', min: 1024, max: 1 << 30 },
          default: '16777216',
          doc: 'larger answers are refused and reported',
        },
        rateLimit: {
          spec: {
            kind: 'object',
            fields: {
              burst: { spec: { kind: 'int', min: 1, max: 100 }, default: '2', doc: 'requests a loop may make at once' },
              minInterval: {
                spec: { kind: 'duration', minMs: 0 },
                default: '1s',
                doc: 'token refill interval when calm',
              },
              maxInterval: {
                spec: { kind: 'duration', minMs: 0 },
                default: '15s',
                doc: 'longest refill interval under sustained churn',
              },
            },
          },
          doc: 'per-loop token bucket',
        },
      },
    },
  },
};

/**
 * Turns a checked `consul:` section into options. Only what the schema cannot know is checked
 * here: whether the named token variable is set. `problem(path, reason)` reports at `path`.
 */
export function consulOptions(
  // biome-ignore lint/suspicious/noExplicitAny: checked by CONSUL_SECTION before it gets here
  section: Record<string, any>,
  problem: (path: string, reason: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  pathPrefix = 'consul',
): ConsulSourceOptions {
  const { wait, requestTimeout, rateLimit, ...rest } = section;
  const out: ConsulSourceOptions = { ...rest };
  if (wait !== undefined) out.waitMs = wait;
  if (requestTimeout !== undefined) out.requestTimeoutMs = requestTimeout;
  if (rateLimit !== undefined) {
    out.rateLimit = {};
    if (rateLimit.burst !== undefined) out.rateLimit.burst = rateLimit.burst;
    if (rateLimit.minInterval !== undefined) out.rateLimit.minIntervalMs = rateLimit.minInterval;
    if (rateLimit.maxInterval !== undefined) out.rateLimit.maxIntervalMs = rateLimit.maxInterval;
  }
  if (out.tokenEnv && env[out.tokenEnv] === undefined)
    problem(`${pathPrefix}.tokenEnv`, `environment variable ${out.tokenEnv} is not set; export it or use tokenFile`);
  return out;
}

/**
 * Checks a `consul:` section given as a plain object (from a program, or YAML already parsed) and
 * returns options, or errors naming the path (`consul.tls.certFile`) and the fix. meshgate itself
 * checks the section with the rest of the file (CONSUL_SECTION), which adds line numbers.
 */
export function parseConsulConfig(
  obj: unknown,
  pathPrefix = 'consul',
  env: NodeJS.ProcessEnv = process.env,
): { options?: ConsulSourceOptions; errors: ConfigError[] } {
  if (obj === null || obj === undefined) return { options: {}, errors: [] };
  const { value, reader } = checkValue(obj, CONSUL_SECTION.field.spec, pathPrefix);
  if (value === undefined || reader.errors.length) return { errors: reader.errors };
  const options = consulOptions(
    value as Record<string, unknown>,
    (path, reason) => reader.error('environment', reader.at(path), reason),
    env,
    pathPrefix,
  );
  return reader.errors.length ? { errors: reader.errors } : { options, errors: [] };
}
