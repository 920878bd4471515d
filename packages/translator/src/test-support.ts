// Helpers for the translator's own tests (golden files, encoding, fuzz). Not exported.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { parse, stringify } from 'yaml';
import { emptyModel, type Model } from '@meshgate/model';
import { TYPE, type ResourceSet } from './types.ts';

export const SHORT: Record<string, string> = {
  [TYPE.listener]: 'listeners',
  [TYPE.route]: 'routes',
  [TYPE.cluster]: 'clusters',
  [TYPE.endpoint]: 'endpoints',
  [TYPE.secret]: 'secrets',
};

/** A golden input is a Model written as YAML; missing top-level lists default to empty. */
export function loadModelYaml(path: string): Model {
  const doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Partial<Model>;
  return { ...emptyModel(), ...doc };
}

/** Resources grouped by short type name, names sorted, as YAML. */
export function resourcesToYaml(set: ResourceSet): string {
  const out: Record<string, object[]> = {};
  for (const [type, short] of Object.entries(SHORT)) {
    const m = set.get(type) ?? new Map();
    out[short] = [...m.keys()].sort().map((k) => m.get(k)!);
  }
  return stringify(out, { lineWidth: 0, aliasDuplicateObjects: false });
}

let root: protobuf.Root | undefined;

/** The Envoy API loaded from grpc-js-xds's vendored .proto files, keeping snake_case names. */
export function ownEnvoyRoot(): protobuf.Root {
  if (root) return root;
  const require = createRequire(import.meta.url);
  const deps = join(require.resolve('@grpc/grpc-js-xds/package.json'), '..', 'deps');
  const includes = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d));
  // google/protobuf/descriptor.proto (used by the validate annotations) ships with protobufjs.
  includes.push(join(require.resolve('protobufjs/package.json'), '..'));
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    for (const inc of includes) {
      const p = join(inc, target);
      try {
        readFileSync(p);
        return p;
      } catch {
        /* try the next include dir */
      }
    }
    return target;
  };
  r.loadSync(
    [
      'envoy/config/listener/v3/listener.proto',
      'envoy/config/route/v3/route.proto',
      'envoy/config/cluster/v3/cluster.proto',
      'envoy/config/endpoint/v3/endpoint.proto',
      'envoy/extensions/transport_sockets/tls/v3/secret.proto',
      'envoy/extensions/transport_sockets/tls/v3/tls.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
    ],
    { keepCase: true },
  );
  r.resolveAll();
  root = r;
  return r;
}

/**
 * Encodes a resource through protobufjs, decodes it back (following every Any) and returns the
 * paths of input fields that did not survive. `fromObject` silently drops unknown field names
 * and bad enum names, so a non-empty answer means the translator wrote something the .proto
 * does not have.
 */
export function encodeProblems(r: protobuf.Root, typeUrl: string, obj: object): string[] {
  const type = r.lookupType(typeUrl.replace('type.googleapis.com/', ''));
  // verify() expects enum numbers and message instances, so the round trip is the check.
  const bytes = type.encode(type.fromObject(obj)).finish();
  const back = type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: true, json: true });
  const problems: string[] = [];
  subset(obj, back, '', problems);
  return problems;
}

function subset(want: unknown, got: unknown, path: string, out: string[]): void {
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      out.push(`${path}: array length ${Array.isArray(got) ? got.length : 'missing'} != ${want.length}`);
      return;
    }
    want.forEach((w, i) => subset(w, got[i], `${path}[${i}]`, out));
  } else if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') {
      out.push(`${path}: missing after round trip`);
      return;
    }
    for (const [k, v] of Object.entries(want)) subset(v, (got as Record<string, unknown>)[k], `${path}.${k}`, out);
  } else if (want !== got) {
    out.push(`${path}: ${JSON.stringify(want)} became ${JSON.stringify(got)}`);
  }
}
