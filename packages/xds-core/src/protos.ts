// Envoy/xDS .proto loading. The .proto files are the vendored subset in @meshgate/envoy-api (proto/), the same files
// its TypeScript types are generated from, so what the translator is typed against is what the server encodes with.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { protoIncludeDirs } from '@meshgate/envoy-api';

/** The files whose messages (and everything they import) meshgate encodes or decodes. */
const ENTRY_FILES = [
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'google/rpc/status.proto',
  'google/protobuf/any.proto',
  'google/protobuf/struct.proto',
  'google/protobuf/duration.proto',
  'google/protobuf/wrappers.proto',
];

let root: protobuf.Root | undefined;

/** Lazily loaded protobufjs Root (keepCase: true) with every xDS type meshgate uses, incl. HCM, router, TLS, bootstrap. */
export function envoyRoot(): protobuf.Root {
  if (root) return root;
  const includeDirs = protoIncludeDirs();
  // descriptor.proto (imported by validate/annotations) is not bundled in protobufjs's in-memory "common" set.
  includeDirs.push(dirname(createRequire(import.meta.url).resolve('protobufjs/package.json')));
  const r = new protobuf.Root();
  r.resolvePath = (_origin: string, target: string): string | null => {
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // protobufjs bundles google/protobuf/*.proto descriptors itself; a null lets it fall back to those.
    if (target.startsWith('google/protobuf/')) return target;
    return null;
  };
  try {
    r.loadSync(ENTRY_FILES, { keepCase: true });
    r.resolveAll();
  } catch (err) {
    throw new Error(
      `could not load the Envoy .proto files from ${dirname(includeDirs[0])} (${(err as Error).message}); ` +
        'a file imported by a vendored .proto is missing from packages/envoy-api/proto (see its README.md)',
    );
  }
  root = r;
  return r;
}

/** Looks up a message type by its full name or type URL; undefined when meshgate has not loaded it. */
const lookups = new Map<string, protobuf.Type | undefined>();

export function lookupMessage(nameOrTypeUrl: string): protobuf.Type | undefined {
  // protobufjs lookups walk the namespace tree; resources hit the same few names thousands of times.
  if (lookups.has(nameOrTypeUrl)) return lookups.get(nameOrTypeUrl);
  const name = nameOrTypeUrl.slice(nameOrTypeUrl.lastIndexOf('/') + 1);
  let found: protobuf.Type | undefined;
  try {
    const t = envoyRoot().lookup(name);
    found = t instanceof protobuf.Type ? t : undefined;
  } catch {
    found = undefined;
  }
  if (lookups.size < 10_000) lookups.set(nameOrTypeUrl, found);
  return found;
}

export function messageType(name: string): protobuf.Type {
  const t = lookupMessage(name);
  if (!t) throw new Error(`protobuf message ${name} is not loaded`);
  return t;
}

/** Options for turning decoded messages into plain objects with the .proto's own field names. */
export const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  json: true,
  arrays: false,
  defaults: false,
};
