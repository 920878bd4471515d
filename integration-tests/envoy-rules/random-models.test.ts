// Envoy's own validation rules over seeded random models: every model the translator accepts (no problems) must
// give `envoy`-profile resources that Envoy's rules accept too. The goldens and examples cover the shapes we thought
// of; this covers their combinations and edge values (largest weights, port 1 and 65535, sub-second timeouts, header
// rules, TLS variants). A failure names its seed; the generator is deterministic, so the seed replays it.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeaderValue, Model, Route, Service } from '@meshgate/model';
import { translate } from '@meshgate/translator';
import { buildValidator, encoded, validate, type WireResource } from './oracle.ts';

const SEEDS = 1500;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomModel(rand: () => number): Model {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const maybe = <T>(p: number, f: () => T): T | undefined => (rand() < p ? f() : undefined);
  const headers = (): HeaderValue[] =>
    Array.from({ length: 1 + int(3) }, () => ({
      name: pick(['x-a', 'x-b', 'l5d-dst-override', 'X-Upper', 'x-forwarded-for']),
      value: pick(['v', '', 'a b', 'web.ns.svc.cluster.local:80', '%DOWNSTREAM_REMOTE_ADDRESS%']),
    }));
  const names = ['a', 'b', 'svc/c', 'e.f', 'consul/dc1/web', 'k8s/ns/web:8080'];
  const services: Service[] = names.slice(0, 1 + int(names.length)).map((name) => ({
    name,
    protocol: pick([undefined, 'http', 'http2', 'grpc', 'tcp'] as const),
    connectTimeoutMs: pick([undefined, 1, 250, 1500, 3_600_000]),
    requestHeadersToAdd: maybe(0.3, headers),
    endpoints: Array.from({ length: int(5) }, () => ({
      address: pick(['10.0.0.1', '10.0.0.2', '::1', 'fe80::1', '127.0.0.1']),
      port: pick([1, 80, 8080, 65535]),
      weight: pick([undefined, 1, 5, 128, 0xffffffff]),
      health: pick([undefined, 'healthy', 'unhealthy', 'draining', 'unknown'] as const),
      locality: pick([undefined, { zone: 'z1' }, { region: 'r', zone: 'z2', subZone: 's' }]),
    })),
    tls: maybe(0.4, () => ({
      trustBundle: 'bundle',
      clientIdentity: pick([undefined, 'identity']),
      sni: pick([undefined, 'web.internal']),
      alpn: pick([undefined, ['h2'], ['h2', 'http/1.1']]),
      expectedSans: pick([
        [{ kind: 'uri' as const, value: 'spiffe://example.org/ns/default/sa/web' }],
        [
          { kind: 'dns' as const, value: 'web.default.serviceaccount.identity.linkerd.cluster.local' },
          { kind: 'uri' as const, value: 'spiffe://example.org/web' },
        ],
      ]),
    })),
  }));
  const routes: Route[] = Array.from({ length: 1 + int(4) }, (_, i) => ({
    name: `r${i}`,
    hosts: Array.from({ length: 1 + int(3) }, () => pick(['*', 'x.com', 'a', 'b', '*.y.com', 'x.com:8080', 'X.Com'])),
    match: pick([
      { prefix: '/' },
      { prefix: '/api' },
      { prefix: '' },
      { path: '/pkg.Svc/Method' },
      { prefix: '/', headers: [{ name: 'h', exact: 'v' }] },
      {
        prefix: '/',
        headers: [
          { name: 'h', prefix: 'v' },
          { name: 'x-b', present: true, invert: true },
        ],
      },
      { path: '/x', headers: [{ name: 'content-type', exact: 'application/grpc', invert: true }] },
    ]),
    backends: Array.from({ length: 1 + int(3) }, () => ({
      service: pick(services).name,
      weight: pick([1, 2, 100, 0x7fffffff]),
    })),
    timeoutMs: pick([undefined, 1, 100, 2500, 86_400_000]),
    retries: pick([
      undefined,
      { retryOn: '5xx', numRetries: 2 },
      { retryOn: 'unavailable,cancelled', numRetries: 0, perTryTimeoutMs: 300 },
      { retryOn: 'connect-failure,reset', numRetries: 10, perTryTimeoutMs: 1 },
    ]),
    requestHeadersToAdd: maybe(0.3, headers),
    requestHeadersToRemove: maybe(0.3, () => [pick(['x-a', 'x-b', 'l5d-dst-override'])]),
    responseHeadersToAdd: maybe(0.3, headers),
    responseHeadersToRemove: maybe(0.3, () => [pick(['x-a', 'server'])]),
  }));
  const listeners = Array.from({ length: int(3) }, (_, i) => ({
    name: pick(['http', 'https', 'gw/edge']) + i,
    port: [1, 8080, 65535][i],
    address: pick([undefined, '::', '127.0.0.1', '0.0.0.0']),
    routes: Array.from({ length: 1 + int(3) }, () => pick(routes).name),
  }));
  return {
    services,
    routes,
    listeners,
    identities: [{ name: 'identity', certChainPem: 'chain', privateKeyPem: 'key' }],
    trustBundles: [{ name: 'bundle', caPems: ['ca'] }],
  };
}

describe('Envoy rules: random models the translator accepts', { timeout: 900_000 }, () => {
  let bin: string;
  before(async () => {
    bin = await buildValidator();
  });

  test(`${SEEDS} seeded models: accepted ones pass Envoy validation`, async () => {
    const resources: WireResource[] = [];
    let accepted = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { resources: set, problems } = translate(randomModel(prng(seed)), 'envoy');
      if (problems.length > 0) continue;
      accepted++;
      for (const [typeUrl, m] of set)
        for (const [name, obj] of m) resources.push(encoded(`seed ${seed}`, typeUrl, name, obj));
    }
    // Most models are accepted, or the property says little.
    assert.ok(accepted > SEEDS / 3, `only ${accepted} of ${SEEDS} models accepted`);
    const v = await validate(bin, resources);
    assert.deepEqual(v.problems.slice(0, 20), [], `${v.problems.length} problems; ${v.stderr}`);
    assert.equal(v.code, 0, v.stderr);
  });
});
