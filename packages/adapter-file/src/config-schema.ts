import type { ConfigSection, Field, ObjectSpec, Spec } from '@meshgate/config-schema';
import { composeSchema } from '@meshgate/config-schema';
import { allowedEntryProblem } from '@meshgate/model';

// The model's sections of the config file (services, routes, listeners, identities, trustBundles),
// contributed to meshgate's one schema. The docs' tables for them are generated from the `doc` and
// `default` strings here (docs/config-reference.md, `npm run gen:config-docs`).

/** A stable name: services, routes, listeners, SDS Secrets. Exported for sections naming Secrets. */
export const NAME: Spec = {
  kind: 'string',
  pattern: /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/,
  hint: 'use letters, digits and . _ : / - (at most 253 characters, starting with a letter or digit)',
  typeName: 'name',
};
const HOST: Spec = {
  kind: 'string',
  pattern: /^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?)$/,
  hint: 'use a DNS name such as echo or api.example.com, optionally with :port, "*.example.com" or "*"',
  typeName: 'host',
};
const PORT: Spec = { kind: 'int', min: 1, max: 65535 };
const UINT32 = 4294967295;
const PATH: Spec = { kind: 'string', nonEmpty: true, typeName: 'path' };
const IP: Spec = { kind: 'string', nonEmpty: true, typeName: 'IP address' };

/** Who may fetch an identity's Secret; the same entries wherever an identity is defined. */
export const ALLOWED_NODES: Field = {
  spec: {
    kind: 'list',
    of: { kind: 'string', nonEmpty: true, check: allowedEntryProblem },
    hint: 'a list of entries: spiffe://..., dns:<name>, or a node id or cluster',
  },
  default: '[]',
  doc: 'who may fetch this Secret: `spiffe://...` / `dns:<name>` (checked against the verified client certificate) or a node id / node cluster (self-declared); empty: every client `xds.tls` verified; without `xds.tls` nobody. See [Who may fetch an identity](#who-may-fetch-an-identity-allowednodes)',
};

const locality: Spec = {
  kind: 'object',
  fields: {
    region: { spec: { kind: 'string' }, doc: 'region name' },
    zone: { spec: { kind: 'string' }, doc: 'zone name' },
    subZone: { spec: { kind: 'string' }, doc: 'sub-zone name' },
  },
};

const endpoint: ObjectSpec = {
  kind: 'object',
  typeName: 'endpoint',
  fields: {
    address: {
      spec: IP,
      required: true,
      doc: 'IPv4 or IPv6 address; host names are refused: EDS does not resolve them (write `127.0.0.1`, not `localhost`)',
    },
    port: { spec: PORT, required: true, doc: 'port of the instance' },
    weight: {
      spec: { kind: 'int', min: 1, max: UINT32 },
      default: '1',
      doc: 'load-balancing weight (gRPC clients: keep the per-locality sum small)',
    },
    health: {
      spec: { kind: 'string', enum: ['healthy', 'unhealthy', 'draining', 'unknown'] },
      default: 'healthy',
      doc: "sent as the endpoint's health status; unhealthy endpoints are kept so Envoy can drain them",
    },
    locality: { spec: locality, doc: 'where the endpoint runs: `region`, `zone`, `subZone`' },
  },
};

const san: Spec = {
  kind: 'stringOrObject',
  typeName: 'SAN',
  object: {
    kind: 'object',
    fields: {
      uri: {
        spec: { kind: 'string', nonEmpty: true },
        doc: 'exact URI SAN, e.g. `spiffe://example.org/ns/default/sa/web`',
      },
      dns: {
        spec: { kind: 'string', nonEmpty: true },
        doc: "exact DNS SAN, e.g. Linkerd's `web.emojivoto.serviceaccount.identity.linkerd.cluster.local`",
      },
    },
    oneOf: [['uri', 'dns']],
  },
};

const tls: ObjectSpec = {
  kind: 'object',
  typeName: 'tls',
  fields: {
    sni: {
      spec: { kind: 'string', nonEmpty: true },
      doc: "server name sent in the handshake (e.g. Consul's `web.default.dc1.internal.<td>.consul`)",
    },
    alpn: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } },
      doc: 'ALPN protocols offered, e.g. `[h2]`',
    },
    expectedSans: {
      spec: { kind: 'list', of: san, nonEmpty: true },
      required: true,
      doc: 'the upstream certificate must carry one of these exact SANs; "any certificate from the CA" is refused',
    },
    trustBundle: { spec: NAME, required: true, doc: 'a `trustBundles[].name`' },
    clientIdentity: {
      spec: NAME,
      doc: 'an `identities[].name`, presented as the client certificate (mTLS); omit for one-way TLS',
    },
  },
};

const service: ObjectSpec = {
  kind: 'object',
  typeName: 'service',
  fields: {
    name: {
      spec: NAME,
      required: true,
      doc: 'the cluster name, and the `xds:///<name>` target proxyless gRPC clients can dial',
    },
    protocol: {
      spec: { kind: 'string', enum: ['http', 'http2', 'grpc', 'tcp'] },
      default: 'http',
      doc: '`http2` and `grpc` make Envoy speak HTTP/2 upstream',
    },
    connectTimeout: { spec: { kind: 'duration', minMs: 1 }, default: '5s', doc: 'upstream connect timeout' },
    endpoints: {
      spec: { kind: 'list', of: endpoint },
      default: '[]',
      doc: 'instances; an empty list is allowed (no healthy upstream)',
    },
    tls: { spec: tls, doc: 'upstream TLS or mTLS; omit for plaintext' },
    requestHeadersToAdd: {
      spec: { kind: 'headers' },
      doc: "set (overwriting any client value) on every request sent to this service, e.g. Linkerd's `l5d-dst-override`; Envoy strips a client-sent header of the same name on requests to services that do not set it",
    },
  },
};

const headerMatch: ObjectSpec = {
  kind: 'object',
  fields: {
    name: { spec: { kind: 'string', nonEmpty: true }, required: true, doc: 'header name' },
    exact: { spec: { kind: 'string' }, doc: 'value equals' },
    prefix: { spec: { kind: 'string', nonEmpty: true }, doc: 'value starts with' },
    present: {
      spec: { kind: 'bool' },
      doc: 'header present (`false`: absent); the condition when neither `exact` nor `prefix` is set',
    },
    invert: { spec: { kind: 'bool' }, default: 'false', doc: 'negate the condition' },
  },
};

const URL_PATH: Spec = {
  kind: 'string',
  pattern: /^\//,
  hint: 'paths start with /',
  typeName: 'string starting with `/`',
};

const match: ObjectSpec = {
  kind: 'object',
  fields: {
    prefix: { spec: URL_PATH, default: '/', doc: 'path prefix (set `prefix` or `path`, not both)' },
    path: { spec: URL_PATH, doc: 'exact path' },
    headers: { spec: { kind: 'list', of: headerMatch }, doc: 'header conditions, all must match' },
  },
};

const backend: ObjectSpec = {
  kind: 'object',
  fields: {
    service: {
      spec: NAME,
      required: true,
      doc: 'a `services[].name`, or a service of another source when `externalReferences` is on (below)',
    },
    weight: {
      spec: { kind: 'int', min: 1, max: UINT32 },
      default: '1',
      doc: 'share of traffic among the backends; any sum (gRPC clients get it as `total_weight`; above 2^32-1, scaled down)',
    },
  },
};

const retries: ObjectSpec = {
  kind: 'object',
  fields: {
    retryOn: {
      spec: { kind: 'string', nonEmpty: true },
      default: '5xx,reset,connect-failure',
      doc: 'Envoy `retry_on` conditions; for gRPC clients use status names such as `unavailable,cancelled`',
    },
    numRetries: { spec: { kind: 'int', min: 1, max: 10 }, default: '1', doc: 'retries after the first attempt' },
    perTryTimeout: { spec: { kind: 'duration', minMs: 1 }, doc: 'timeout of each attempt' },
  },
};

const route: ObjectSpec = {
  kind: 'object',
  typeName: 'route',
  fields: {
    name: { spec: NAME, required: true, doc: 'stable route name (never derived from list position)' },
    hosts: {
      spec: { kind: 'list', of: HOST, nonEmpty: true },
      required: true,
      doc: 'authorities this route answers; a gRPC client dialing `xds:///<host>` gets it (`*` and `*.x` hosts are Envoy-only)',
    },
    match: { spec: match, default: '{ prefix: / }', doc: 'which requests the route takes' },
    backends: {
      spec: { kind: 'list', of: backend, nonEmpty: true, typeName: 'non-empty list' },
      required: true,
      doc: 'where the traffic goes',
    },
    timeout: {
      spec: { kind: 'duration', minMs: 0 },
      doc: 'whole-request timeout; none: the data-plane default; `0s` disables. gRPC clients receive it as the max stream duration',
    },
    retries: { spec: retries, doc: 'retry policy' },
    requestHeadersToAdd: { spec: { kind: 'headers' }, doc: 'set on the request (overwrites client values)' },
    requestHeadersToRemove: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } },
      doc: 'removed from the request',
    },
    responseHeadersToAdd: { spec: { kind: 'headers' }, doc: 'set on the response' },
    responseHeadersToRemove: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } },
      doc: 'removed from the response',
    },
  },
};

const listener: ObjectSpec = {
  kind: 'object',
  typeName: 'listener',
  fields: {
    name: { spec: NAME, required: true, doc: 'listener name; also the name of its RouteConfiguration' },
    port: { spec: PORT, required: true, doc: 'port Envoy listens on' },
    address: {
      spec: IP,
      default: '0.0.0.0',
      doc: 'address Envoy binds; two listeners may not share address and port',
    },
    routes: {
      spec: { kind: 'list', of: NAME },
      required: true,
      doc: 'routes served on this listener (each must exist)',
    },
    removeRequestHeaderPrefixes: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } },
      doc: "client-sent request headers starting with one of these (case-insensitive) are removed before routing; `[l5d-]` behind Linkerd's injected proxy, so clients cannot steer it",
    },
  },
};

const identity: ObjectSpec = {
  kind: 'object',
  typeName: 'identity',
  fields: {
    name: { spec: NAME, required: true, doc: 'SDS Secret name, e.g. `mesh/consul/ingress`' },
    certFile: {
      spec: PATH,
      required: true,
      doc: "PEM certificate chain, leaf first; relative to the config file's directory",
    },
    keyFile: { spec: PATH, required: true, doc: "PEM private key; relative to the config file's directory" },
    allowedNodes: ALLOWED_NODES,
  },
};

const trustBundle: ObjectSpec = {
  kind: 'object',
  typeName: 'trust bundle',
  fields: {
    name: { spec: NAME, required: true, doc: 'SDS Secret name, e.g. `mesh/consul/roots`' },
    caFiles: {
      spec: { kind: 'list', of: PATH, nonEmpty: true },
      required: true,
      doc: 'PEM files with CA certificates, concatenated in order',
    },
  },
};

const OWNER = '@meshgate/adapter-file';

/** The model's sections, in the order the docs list them. */
export const FILE_SECTIONS: readonly ConfigSection[] = [
  {
    key: 'services',
    owner: OWNER,
    field: { spec: { kind: 'list', of: service }, default: '[]', doc: 'upstream services (Envoy clusters)' },
  },
  { key: 'routes', owner: OWNER, field: { spec: { kind: 'list', of: route }, default: '[]', doc: 'HTTP routes' } },
  {
    key: 'listeners',
    owner: OWNER,
    field: {
      spec: { kind: 'list', of: listener },
      default: '[]',
      doc: 'Envoy socket listeners (gRPC clients never get these)',
    },
  },
  {
    key: 'identities',
    owner: OWNER,
    field: {
      spec: { kind: 'list', of: identity },
      default: '[]',
      doc: 'client certificates the gateway presents upstream (SDS Secrets)',
    },
  },
  {
    key: 'trustBundles',
    owner: OWNER,
    field: {
      spec: { kind: 'list', of: trustBundle },
      default: '[]',
      doc: 'CA bundles that verify upstreams (SDS Secrets)',
    },
  },
];

/** The file source's own schema: the model's sections and nothing else (a standalone file). */
export const CONFIG_SCHEMA: ObjectSpec = composeSchema(FILE_SECTIONS);
