// The Envoy-rules oracle: envoy-validate (integration-tests/tools/envoy-validate, go-control-plane's generated
// protoc-gen-validate code) fed with the exact bytes meshgate sends to an `envoy`-profile node.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { encodeResource, lookupMessage, TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { REPO_ROOT } from '../lib/meshgate-process.ts';

const run = promisify(execFile);

/** One resource as the wire carries it: the two fields of its google.protobuf.Any. */
export interface WireResource {
  /** What it came from (a file, a server), for the report. */
  source: string;
  typeUrl: string;
  value: Uint8Array;
  /** type_url of the DiscoveryResponse that carried it, when it came from a server. */
  responseTypeUrl?: string;
}

/** A resource object encoded by xds-core exactly as its cache serves it, as a WireResource. */
export function encoded(source: string, typeUrl: string, name: string, obj: object): WireResource {
  const any = lookupMessage('google.protobuf.Any')!.decode(encodeResource(typeUrl, name, obj)) as unknown as {
    type_url: string;
    value: Uint8Array;
  };
  return { source, typeUrl: any.type_url, value: any.value };
}

export interface Verdict {
  code: number | null;
  /** One line per problem: `SOURCE: TYPE "NAME": PATH: PROBLEM`. */
  problems: string[];
  stderr: string;
}

/** Builds the validator (cached under ~/.cache/meshgate by a hash of its sources) and returns its path. */
export async function buildValidator(): Promise<string> {
  // A cold build downloads go-control-plane and compiles Envoy's API packages: minutes on 2 busy cores.
  const built = await run('bash', [join(REPO_ROOT, 'integration-tests/tools/build-envoy-validate.sh')], {
    maxBuffer: 1 << 24,
    timeout: 840_000,
  });
  return built.stdout.trim().split('\n').pop()!;
}

/** Runs the validator over the resources. */
export function validate(bin: string, resources: readonly WireResource[]): Promise<Verdict> {
  const input = JSON.stringify(
    resources.map((r) => ({
      source: r.source,
      typeUrl: r.typeUrl,
      value: Buffer.from(r.value).toString('base64'),
      ...(r.responseTypeUrl ? { responseTypeUrl: r.responseTypeUrl } : {}),
    })),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, problems: stdout.split('\n').filter((l) => l.length > 0), stderr: stderr.trim() }),
    );
    child.stdin.end(input);
  });
}

/** Every value found under `key` anywhere in a decoded resource. */
function valuesOf(obj: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(obj)) for (const v of obj) valuesOf(v, key, out);
  else if (obj !== null && typeof obj === 'object') {
    for (const [k, v] of Object.entries(obj)) {
      if (k === key) out.push(v);
      valuesOf(v, key, out);
    }
  }
  return out;
}

/**
 * Fetches everything an Envoy node would: listeners and clusters (wildcard), then the route configurations, cluster
 * load assignments and secrets they name, each by name, as Envoy asks for them. Throws when a named resource never
 * arrives (an Envoy would wait on it forever: a listener or cluster stuck warming).
 */
export async function fetchAsEnvoy(
  xdsPort: number,
  nodeId: string,
  source: string,
  credentials?: ChannelCredentials,
): Promise<WireResource[]> {
  const c = await AdsClient.connect({
    address: `127.0.0.1:${xdsPort}`,
    credentials,
    node: { id: nodeId, user_agent_name: 'envoy' },
    mode: 'sotw',
  });
  try {
    const out: WireResource[] = [];
    const take = async (typeUrl: string, names: string[] | 'wildcard') => {
      const got = new Map<string, { object: Record<string, unknown> | undefined }>();
      if (names !== 'wildcard' && names.length === 0) return got;
      c.subscribe(typeUrl, names === 'wildcard' ? [] : names);
      const want = names === 'wildcard' ? [] : names;
      const short = typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
      const deadline = Date.now() + 15_000;
      do {
        const left = deadline - Date.now();
        const r = await c.next(typeUrl, Math.max(left, 1)).catch((err: Error) => {
          const missing = want.filter((n) => !got.has(n));
          throw new Error(`${source}: ${err.message}; ${short} never sent: ${missing.join(', ') || '(anything)'}`);
        });
        for (const res of r.resources) {
          if (!res.raw) throw new Error(`${source}: ${short} ${res.name} arrived without its bytes`);
          got.set(res.name, { object: res.object });
          out.push({ source, typeUrl: res.raw.typeUrl, value: res.raw.value, responseTypeUrl: r.typeUrl });
        }
      } while (want.some((n) => !got.has(n)));
      return got;
    };
    const listeners = await take(TYPE.listener, 'wildcard');
    const clusters = await take(TYPE.cluster, 'wildcard');
    const routeNames = new Set<string>();
    for (const l of listeners.values())
      for (const rds of valuesOf(l.object, 'rds'))
        routeNames.add(String((rds as Record<string, unknown>).route_config_name));
    const edsNames = new Set<string>();
    for (const [name, cl] of clusters) {
      if (cl.object?.type !== 'EDS') continue;
      const svc = (cl.object.eds_cluster_config as { service_name?: string } | undefined)?.service_name;
      edsNames.add(svc || name);
    }
    const secretNames = new Set<string>();
    for (const r of [...listeners.values(), ...clusters.values()])
      for (const cfg of [
        ...valuesOf(r.object, 'tls_certificate_sds_secret_configs').flat(),
        ...valuesOf(r.object, 'validation_context_sds_secret_config'),
      ])
        secretNames.add(String((cfg as Record<string, unknown>).name));
    await take(TYPE.route, [...routeNames].sort());
    await take(TYPE.endpoint, [...edsNames].sort());
    await take(TYPE.secret, [...secretNames].sort());
    return out;
  } finally {
    c.close();
  }
}
