import type { Field, Spec } from './schema.ts';

const NAME: Spec = {
  kind: 'string',
  pattern: /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/,
  hint: 'use letters, digits and . _ : / - (at most 253 characters, starting with a letter or digit)',
};
const HOST: Spec = {
  kind: 'string',
  pattern: /^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?)$/,
  hint: 'use a DNS name such as echo or api.example.com, optionally with :port, "*.example.com" or "*"',
};
const PORT: Spec = { kind: 'int', min: 1, max: 65535 };
const UINT32 = 4294967295;

const locality: Spec = {
  kind: 'object',
  fields: {
    region: { spec: { kind: 'string' }, doc: 'region name' },
    zone: { spec: { kind: 'string' }, doc: 'zone name' },
    subZone: { spec: { kind: 'string' }, doc: 'sub-zone name' },
  },
};

const endpoint: Spec = {
  kind: 'object',
  fields: {
    address: {
      spec: { kind: 'string', nonEmpty: true },
      required: true,
      doc: 'IPv4 or IPv6 address (EDS does not resolve names)',
    },
    port: { spec: PORT, required: true, doc: 'port 1..65535' },
    weight: { spec: { kind: 'int', min: 1, max: UINT32 }, default: '1', doc: 'load-balancing weight' },
    health: {
      spec: { kind: 'string', enum: ['healthy', 'unhealthy', 'draining', 'unknown'] },
      default: 'healthy',
      doc: 'health status sent to the data plane',
    },
    locality: { spec: locality, doc: 'where the endpoint runs' },
  },
};

const san: Spec = {
  kind: 'stringOrObject',
  object: {
    kind: 'object',
    fields: {
      uri: { spec: { kind: 'string', nonEmpty: true }, doc: 'exact URI SAN, e.g. a SPIFFE ID' },
      dns: { spec: { kind: 'string', nonEmpty: true }, doc: 'exact DNS SAN' },
    },
    oneOf: [['uri', 'dns']],
  },
};

const tls: Spec = {
  kind: 'object',
  fields: {
    sni: { spec: { kind: 'string', nonEmpty: true }, doc: 'server name sent in the TLS handshake' },
    alpn: { spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } }, doc: 'ALPN protocols offered, e.g. [h2]' },
    expectedSans: {
      spec: { kind: 'list', of: san, nonEmpty: true },
      required: true,
      doc: 'exact SANs the upstream must present',
    },
    trustBundle: { spec: NAME, required: true, doc: 'name of an entry in trustBundles' },
    clientIdentity: { spec: NAME, doc: 'name of an entry in identities (mTLS); omit for one-way TLS' },
  },
};

const service: Spec = {
  kind: 'object',
  fields: {
    name: { spec: NAME, required: true, doc: 'service name; the cluster name and the xds:///<name> target' },
    protocol: {
      spec: { kind: 'string', enum: ['http', 'http2', 'grpc', 'tcp'] },
      default: 'http',
      doc: 'upstream protocol; http2 and grpc enable HTTP/2 upstream',
    },
    connectTimeout: { spec: { kind: 'duration', minMs: 1 }, default: '5s', doc: 'upstream connect timeout' },
    endpoints: { spec: { kind: 'list', of: endpoint }, default: '[]', doc: 'addresses of the service instances' },
    tls: { spec: tls, doc: 'upstream TLS / mTLS' },
    requestHeadersToAdd: { spec: { kind: 'headers' }, doc: 'headers set on every request sent to this service' },
  },
};

const headerMatch: Spec = {
  kind: 'object',
  fields: {
    name: { spec: { kind: 'string', nonEmpty: true }, required: true, doc: 'header name' },
    exact: { spec: { kind: 'string' }, doc: 'value must equal this' },
    prefix: { spec: { kind: 'string', nonEmpty: true }, doc: 'value must start with this' },
    present: { spec: { kind: 'bool' }, doc: 'header must be present (true) or absent (false)' },
    invert: { spec: { kind: 'bool' }, default: 'false', doc: 'negate the match' },
  },
};

const match: Spec = {
  kind: 'object',
  fields: {
    prefix: { spec: { kind: 'string', pattern: /^\//, hint: 'paths start with /' }, doc: 'path prefix' },
    path: { spec: { kind: 'string', pattern: /^\//, hint: 'paths start with /' }, doc: 'exact path' },
    headers: { spec: { kind: 'list', of: headerMatch }, doc: 'all must match' },
  },
};

const backend: Spec = {
  kind: 'object',
  fields: {
    service: { spec: NAME, required: true, doc: 'name of a service' },
    weight: { spec: { kind: 'int', min: 1, max: UINT32 }, default: '1', doc: 'share of traffic' },
  },
};

const retries: Spec = {
  kind: 'object',
  fields: {
    retryOn: {
      spec: { kind: 'string', nonEmpty: true },
      default: '"5xx,reset,connect-failure"',
      doc: 'Envoy retry_on conditions; gRPC clients use status names such as unavailable',
    },
    numRetries: { spec: { kind: 'int', min: 1, max: 10 }, default: '1', doc: 'retries after the first attempt' },
    perTryTimeout: { spec: { kind: 'duration', minMs: 1 }, doc: 'timeout of each attempt' },
  },
};

const route: Spec = {
  kind: 'object',
  fields: {
    name: { spec: NAME, required: true, doc: 'route name' },
    hosts: { spec: { kind: 'list', of: HOST, nonEmpty: true }, required: true, doc: 'hosts (authorities) answered' },
    match: { spec: match, default: '{ prefix: / }', doc: 'which requests the route takes' },
    backends: {
      spec: { kind: 'list', of: backend, nonEmpty: true },
      required: true,
      doc: 'services that receive the traffic',
    },
    timeout: { spec: { kind: 'duration', minMs: 0 }, doc: 'whole-request timeout; 0s disables' },
    retries: { spec: retries, doc: 'retry policy' },
    requestHeadersToAdd: { spec: { kind: 'headers' }, doc: 'headers set on the request' },
    requestHeadersToRemove: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } },
      doc: 'headers removed from the request',
    },
    responseHeadersToAdd: { spec: { kind: 'headers' }, doc: 'headers set on the response' },
    responseHeadersToRemove: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } },
      doc: 'headers removed from the response',
    },
  },
};

const listener: Spec = {
  kind: 'object',
  fields: {
    name: { spec: NAME, required: true, doc: 'listener name' },
    port: { spec: PORT, required: true, doc: 'port Envoy listens on' },
    address: { spec: { kind: 'string', nonEmpty: true }, default: '0.0.0.0', doc: 'address Envoy binds' },
    routes: { spec: { kind: 'list', of: NAME }, required: true, doc: 'names of routes served on this listener' },
  },
};

const identity: Spec = {
  kind: 'object',
  fields: {
    name: { spec: NAME, required: true, doc: 'SDS secret name' },
    certFile: { spec: { kind: 'string', nonEmpty: true }, required: true, doc: 'PEM certificate chain, leaf first' },
    keyFile: { spec: { kind: 'string', nonEmpty: true }, required: true, doc: 'PEM private key' },
    allowedNodes: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true } },
      default: '[] (every node)',
      doc: 'who may fetch it: spiffe://... or dns:<name> (the verified client certificate), or a node id or cluster (self-declared)',
    },
  },
};

const trustBundle: Spec = {
  kind: 'object',
  fields: {
    name: { spec: NAME, required: true, doc: 'SDS secret name' },
    caFiles: {
      spec: { kind: 'list', of: { kind: 'string', nonEmpty: true }, nonEmpty: true },
      required: true,
      doc: 'PEM files with CA certificates',
    },
  },
};

export const CONFIG_SCHEMA: Extract<Spec, { kind: 'object' }> = {
  kind: 'object',
  fields: {
    services: { spec: { kind: 'list', of: service }, default: '[]', doc: 'upstream services' } satisfies Field,
    routes: { spec: { kind: 'list', of: route }, default: '[]', doc: 'HTTP routes' },
    listeners: { spec: { kind: 'list', of: listener }, default: '[]', doc: 'Envoy socket listeners' },
    identities: {
      spec: { kind: 'list', of: identity },
      default: '[]',
      doc: 'client certificates the gateway presents',
    },
    trustBundles: { spec: { kind: 'list', of: trustBundle }, default: '[]', doc: 'CA bundles that verify upstreams' },
  },
};
