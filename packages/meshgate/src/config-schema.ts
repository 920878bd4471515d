// meshgate's one config schema: every top-level section of the config file, each contributed by
// the package that owns it. Checking (`meshgate validate`, `serve`, hot reload), the reference
// docs (docs/config-reference.md) and the Helm chart's values schema all come from CONFIG_SCHEMA.
//
// Adding a section (e.g. `kubernetes:` from an adapter) is one line in CONFIG_SECTIONS below: the
// adapter exports a ConfigSection (its schema, docs and defaults) and a function turning the
// checked section into its options; see packages/config-schema/README.md.
import { CONSUL_SECTION } from '@meshgate/adapter-consul';
import { ALLOWED_NODES, FILE_SECTIONS, NAME } from '@meshgate/adapter-file';
import { KEY_TYPES, parseSpiffeId } from '@meshgate/certs';
import { composeSchema } from '@meshgate/config-schema';
import type { ConfigSection, ObjectSpec, Spec } from '@meshgate/config-schema';
import { dnsName, PATH } from './config-specs.ts';
import { LINKERD_SECTION } from './linkerd-source.ts';
import { LOG_LEVELS } from './logger.ts';
import { ISTIO_SECTION } from './istio-config.ts';

export const DEFAULTS = {
  xdsPort: 18000,
  xdsAddress: '0.0.0.0',
  adminPort: 19000,
  adminAddress: '127.0.0.1',
  debounce: '100ms',
  maxDelay: '1s',
  nackRetention: '5m',
  maxRequestBytes: 4 * 1024 * 1024,
  stalledStreamTimeout: '60s',
  maxConnections: 10_000,
  maxStreamsPerConnection: 1000,
  logLevel: 'info',
  certsTrustBundle: 'mesh/meshgate/roots',
  certsTtl: '24h',
  certsKeyType: 'ec-p256',
} as const;

const OWNER = '@meshgate/meshgate';
const PORT: Spec = { kind: 'int', min: 0, max: 65535, typeName: 'port number' };

const XDS: ConfigSection = {
  key: 'xds',
  owner: OWNER,
  field: {
    doc: "meshgate's xDS server",
    spec: {
      kind: 'object',
      fields: {
        port: {
          spec: PORT,
          default: String(DEFAULTS.xdsPort),
          doc: 'xDS (ADS) port; 0 picks a free one',
          flag: 'xds-port',
          env: 'MESHGATE_XDS_PORT',
        },
        address: {
          spec: { kind: 'string', nonEmpty: true },
          default: DEFAULTS.xdsAddress,
          doc: 'xDS bind address',
          flag: 'xds-address',
        },
        debounce: {
          spec: { kind: 'duration', minMs: 0 },
          default: DEFAULTS.debounce,
          doc: 'quiet period after a change before a publish',
        },
        maxDelay: {
          spec: { kind: 'duration', minMs: 0 },
          default: DEFAULTS.maxDelay,
          doc: 'longest a burst of changes may delay a publish; at least `debounce`',
        },
        nackRetention: {
          spec: { kind: 'duration', minMs: 0 },
          default: DEFAULTS.nackRetention,
          doc: 'how long `/debug/nodes` keeps the NACKs of a node that disconnected (`0s` keeps none)',
        },
        maxRequestBytes: {
          spec: { kind: 'int', min: 1024, max: 2 ** 31 - 1, typeName: 'byte count' },
          default: String(DEFAULTS.maxRequestBytes),
          doc: 'largest xDS request accepted, in bytes; a larger one ends its stream with RESOURCE_EXHAUSTED before it is decoded (a SotW request naming 100,000 resources of about 20 characters is 2.2 MB)',
        },
        stalledStreamTimeout: {
          spec: { kind: 'duration', minMs: 0 },
          default: DEFAULTS.stalledStreamTimeout,
          doc: 'how long a client may leave a response unread (HTTP/2 flow control full) before its stream is reset and its buffers freed (`0s` never)',
        },
        maxConnections: {
          spec: { kind: 'int', min: 0, max: 2 ** 31 - 1, typeName: 'connection count' },
          default: String(DEFAULTS.maxConnections),
          doc: 'most client connections open at once on the xDS port; one more is closed as soon as it is accepted (before TLS), counted in `meshgate_xds_connections_refused_total` and logged at most once a minute, while open connections are served as before (`0` no limit). Keep it below the open-files limit (`ulimit -n`)',
        },
        maxStreamsPerConnection: {
          spec: { kind: 'int', min: 1, max: 2 ** 31 - 1, typeName: 'stream count' },
          default: String(DEFAULTS.maxStreamsPerConnection),
          doc: 'most concurrent xDS streams on one connection (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`): clients queue streams past it, and a stream opened regardless is refused with `REFUSED_STREAM`. A proxy opens one ADS stream (or one per type and per SDS Secret without ADS); raise it for a gRPC proxy that multiplexes many clients onto one connection',
        },
        tls: {
          spec: {
            kind: 'object',
            fields: {
              certFile: { spec: PATH, required: true, doc: "the xDS server's PEM certificate chain" },
              keyFile: { spec: PATH, required: true, doc: "the xDS server's PEM private key" },
              caFile: { spec: PATH, required: true, doc: 'PEM CA(s) that client certificates must chain to' },
            },
          },
          doc: 'mutual TLS on the xDS port: every client must present a certificate from `caFile`; paths are relative to the config file',
        },
        insecureAllowUnauthenticatedSecrets: {
          spec: {
            kind: 'bool',
            hint: 'leave it out (false) unless this is a local development setup: it serves private keys to xDS clients that present no certificate',
          },
          default: 'false',
          doc: 'local development only, insecure: serve Secrets holding private keys to xDS clients without a verified certificate (by default they go only to clients `xds.tls` verified and `allowedNodes` admits); warned about at start-up, on `/readyz` and by `meshgate validate`',
          flag: 'insecure-allow-unauthenticated-secrets',
        },
      },
    },
  },
};

const ADMIN: ConfigSection = {
  key: 'admin',
  owner: OWNER,
  field: {
    doc: 'the admin HTTP server: `/healthz`, `/readyz`, `/metrics`, `/debug`',
    spec: {
      kind: 'object',
      fields: {
        port: {
          spec: PORT,
          default: String(DEFAULTS.adminPort),
          doc: 'admin HTTP port (/healthz /readyz /metrics /debug); 0 picks a free one',
          flag: 'admin-port',
          env: 'MESHGATE_ADMIN_PORT',
        },
        address: {
          spec: { kind: 'string', nonEmpty: true },
          default: DEFAULTS.adminAddress,
          doc: 'admin bind address (loopback by default: the API shows service names and addresses)',
          flag: 'admin-address',
        },
      },
    },
  },
};

const LOGGING: ConfigSection = {
  key: 'logging',
  owner: OWNER,
  field: {
    doc: 'logs (JSON lines on stdout)',
    spec: {
      kind: 'object',
      fields: {
        level: {
          spec: { kind: 'string', enum: LOG_LEVELS },
          default: DEFAULTS.logLevel,
          doc: 'least severe level logged',
          flag: 'log-level',
        },
      },
    },
  },
};

const problem = (f: (s: string) => unknown) => (s: string) => {
  try {
    f(s);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

const CERTS: ConfigSection = {
  key: 'certs',
  owner: OWNER,
  field: {
    doc: "the built-in CA: issues the gateway's identities and renews them at about half their lifetime",
    spec: {
      kind: 'object',
      fields: {
        dir: {
          spec: PATH,
          required: true,
          doc: 'the built-in CA state directory (create it with `meshgate certs init-ca --out DIR`); must be writable',
        },
        trustBundle: { spec: NAME, default: DEFAULTS.certsTrustBundle, doc: "SDS name of the CA's trust bundle" },
        identities: {
          spec: {
            kind: 'list',
            of: {
              kind: 'object',
              typeName: 'identity',
              oneOf: [['spiffe', 'dns']],
              fields: {
                name: { spec: NAME, required: true, doc: 'SDS Secret name, e.g. `mesh/meshgate/gateway`' },
                spiffe: {
                  spec: { kind: 'string', nonEmpty: true, check: problem(parseSpiffeId) },
                  doc: 'SPIFFE ID for the URI SAN, `spiffe://<trust-domain>/<path>` (set `spiffe` or `dns`)',
                },
                dns: {
                  spec: dnsName(),
                  doc: 'DNS name for the DNS SAN',
                },
                // The same field, grammar and minimum as `meshgate certs issue --ttl`.
                ttl: { spec: { kind: 'duration', minMs: 1 }, default: DEFAULTS.certsTtl, doc: 'certificate lifetime' },
                keyType: {
                  spec: { kind: 'string', enum: KEY_TYPES },
                  default: DEFAULTS.certsKeyType,
                  doc: 'key type of the issued certificate',
                },
                allowedNodes: ALLOWED_NODES,
              },
            },
          },
          default: '[]',
          doc: 'identities to issue and keep renewed',
        },
      },
    },
  },
};

/** Every section of the config file. Add a section here (one line) and it is checked, documented and in the chart. */
/**
 * `kubernetes:` is read by @meshgate/adapter-kubernetes' own checker (parseKubernetesConfig, called from
 * readSettings), whose errors are located here like every other section's.
 */
const KUBERNETES: ConfigSection = {
  key: 'kubernetes',
  owner: '@meshgate/adapter-kubernetes',
  field: {
    doc: 'adds a Kubernetes source: Services, EndpointSlices and Gateway API routes (keys: packages/adapter-kubernetes/README.md)',
    spec: { kind: 'any' },
  },
};

export const CONFIG_SECTIONS: readonly ConfigSection[] = [
  ...FILE_SECTIONS,
  XDS,
  ADMIN,
  LOGGING,
  CERTS,
  CONSUL_SECTION,
  KUBERNETES,
  ISTIO_SECTION,
  LINKERD_SECTION,
];

/** The whole config file. */
export const CONFIG_SCHEMA: ObjectSpec = composeSchema(CONFIG_SECTIONS);

/** Top-level keys that are not the model's (the file source converts those). */
export const MESHGATE_KEYS: readonly string[] = CONFIG_SECTIONS.map((s) => s.key).filter(
  (k) => !FILE_SECTIONS.some((f) => f.key === k),
);

/** The certs section alone, for parseCertsSection. */
export const CERTS_SECTION = CERTS;
