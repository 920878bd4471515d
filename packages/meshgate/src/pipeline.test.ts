import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { emptyModel } from '@meshgate/model';
import type { Model, Source, SourceSink, SourceStatus } from '@meshgate/model';
import { TYPE, XdsCache, XdsServer } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { Pipeline } from './pipeline.ts';
import type { PublishedEvent } from './pipeline.ts';

/** An in-memory Source the test drives by hand (a stand-in for an adapter, not a mock of one). */
class HandSource implements Source {
  readonly name: string;
  sink!: SourceSink;
  constructor(name: string) {
    this.name = name;
  }
  async start(sink: SourceSink) {
    this.sink = sink;
  }
  async stop() {}
  push(model: Model, status: Partial<SourceStatus> = {}) {
    this.sink.update(model);
    this.sink.status({ name: this.name, synced: true, stale: false, ...status });
  }
}

function model(o: { v1Port?: number; v1Address?: string; route?: string; weights?: [number, number] } = {}): Model {
  return {
    services: [
      {
        name: 'echo-v1',
        protocol: 'grpc',
        endpoints: [{ address: o.v1Address ?? '127.0.0.1', port: o.v1Port ?? 50051 }],
      },
      { name: 'echo-v2', protocol: 'grpc', endpoints: [{ address: '127.0.0.1', port: 50052 }] },
    ],
    routes: [
      {
        name: 'echo',
        hosts: ['echo'],
        match: { prefix: '/' },
        backends: [
          { service: o.route ?? 'echo-v1', weight: o.weights?.[0] ?? 1 },
          { service: 'echo-v2', weight: o.weights?.[1] ?? 3 },
        ],
      },
    ],
    listeners: [{ name: 'http', port: 8080, routes: ['echo'] }],
    identities: [],
    trustBundles: [],
  };
}

function setup(sources: HandSource[]) {
  const cache = new XdsCache();
  const metrics = createMetrics(() => 0);
  const pipeline = new Pipeline({
    sources,
    cache,
    logger: createLogger('silent'),
    metrics,
    debounceMs: 5,
    maxDelayMs: 50,
  });
  const published: PublishedEvent[] = [];
  pipeline.on('published', (e) => published.push(e));
  return { cache, metrics, pipeline, published };
}

const versions = (cache: XdsCache, group: string, type: string) =>
  Object.fromEntries(cache.list(group, type).map((r) => [r.name, r.version]));

test('nothing is published and the cache is not ready until every source has synced', async () => {
  const a = new HandSource('a');
  const b = new HandSource('b');
  const { cache, pipeline, published } = setup([a, b]);
  await pipeline.start();
  a.push(model());
  await pipeline.idle();
  assert.equal(cache.ready, false);
  assert.equal(published.length, 0);
  assert.equal(pipeline.readiness().ready, false);
  b.push({ services: [], routes: [], listeners: [], identities: [], trustBundles: [] });
  await pipeline.idle();
  assert.equal(cache.ready, true);
  assert.equal(pipeline.readiness().ready, true);
  assert.deepEqual(Object.keys(versions(cache, 'grpc', TYPE.listener)).sort(), ['echo', 'echo-v1', 'echo-v2']);
  assert.deepEqual(Object.keys(versions(cache, 'envoy', TYPE.listener)), ['http']);
  await pipeline.stop();
});

test('an endpoint-only change patches just that assignment; listeners, routes and clusters keep their versions', async () => {
  const a = new HandSource('a');
  const { cache, metrics, pipeline, published } = setup([a]);
  await pipeline.start();
  a.push(model());
  await pipeline.idle();
  const before = {
    l: versions(cache, 'grpc', TYPE.listener),
    r: versions(cache, 'grpc', TYPE.route),
    c: versions(cache, 'grpc', TYPE.cluster),
    e: versions(cache, 'grpc', TYPE.endpoint),
  };
  a.push(model({ v1Port: 50061 }));
  await pipeline.idle();
  assert.equal(published.at(-1)?.kind, 'endpoints');
  assert.equal(metrics.publishes.get({ kind: 'endpoints' }), 1);
  assert.deepEqual(versions(cache, 'grpc', TYPE.listener), before.l);
  assert.deepEqual(versions(cache, 'grpc', TYPE.route), before.r);
  assert.deepEqual(versions(cache, 'grpc', TYPE.cluster), before.c);
  const after = versions(cache, 'grpc', TYPE.endpoint);
  assert.notEqual(after['echo-v1'], before.e['echo-v1']);
  assert.equal(after['echo-v2'], before.e['echo-v2']);
  const cla = cache.get('envoy', TYPE.endpoint, 'echo-v1')!.object as any;
  assert.equal(cla.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 50061);
  await pipeline.stop();
});

test('a burst of updates is published once', async () => {
  const a = new HandSource('a');
  const { pipeline, published } = setup([a]);
  await pipeline.start();
  for (let i = 0; i < 20; i++) a.push(model({ v1Port: 50100 + i }));
  await pipeline.idle();
  assert.equal(published.length, 1);
  await pipeline.stop();
});

test('a model with problems keeps the last good resources and reports them until fixed', async () => {
  const a = new HandSource('a');
  const { cache, metrics, pipeline } = setup([a]);
  await pipeline.start();
  a.push(model());
  await pipeline.idle();
  const good = versions(cache, 'grpc', TYPE.route);
  a.push(model({ route: 'missing' }));
  await pipeline.idle();
  assert.deepEqual(versions(cache, 'grpc', TYPE.route), good);
  const r = pipeline.readiness();
  assert.equal(r.ready, false);
  const problems = r.detail.translation.problems;
  assert.ok(
    problems.some((p) => p.path.includes('missing') || p.message.includes('missing')),
    JSON.stringify(problems),
  );
  assert.ok((metrics.translationProblems.get() ?? 0) > 0);
  // An endpoint-only edit relative to the last good model with a bad address is refused too.
  a.push(model({ v1Address: 'echo.internal' }));
  await pipeline.idle();
  assert.equal(pipeline.readiness().ready, false);
  assert.equal(
    (cache.get('grpc', TYPE.endpoint, 'echo-v1')!.object as any).endpoints[0].lb_endpoints[0].endpoint.address
      .socket_address.address,
    '127.0.0.1',
  );
  a.push(model({ weights: [3, 1] }));
  await pipeline.idle();
  assert.equal(pipeline.readiness().ready, true);
  assert.equal(metrics.translationProblems.get(), 0);
  assert.notDeepEqual(versions(cache, 'grpc', TYPE.route), good);
  await pipeline.stop();
});

test('a stale source makes readiness fail and counts a reload error', async () => {
  const a = new HandSource('a');
  const { metrics, pipeline } = setup([a]);
  await pipeline.start();
  a.push(model());
  await pipeline.idle();
  a.sink.status({
    name: 'a',
    synced: true,
    stale: true,
    lastError: '/etc/meshgate.yaml:3:1: YAML syntax error',
    lastErrorAt: Date.now(),
  });
  const r = pipeline.readiness();
  assert.equal(r.ready, false);
  assert.match(JSON.stringify(r.detail.sources), /meshgate\.yaml:3:1/);
  assert.equal(metrics.reloadErrors.get({ source: 'a' }), 1);
  assert.equal(metrics.sourceStale.get({ source: 'a' }), 1);
  await pipeline.stop();
});

test('intention denials reported by a source become a gauge per service, cleared when allowed again', async () => {
  const a = new HandSource('consul');
  const { metrics, pipeline } = setup([a]);
  await pipeline.start();
  a.push(model(), { consul: { intentionDenied: ['billing', 'web'] } });
  assert.equal(metrics.intentionDenied.get({ service: 'billing' }), 1);
  a.sink.status({ name: 'consul', synced: true, stale: false, consul: { intentionDenied: ['web'] } });
  assert.equal(metrics.intentionDenied.get({ service: 'billing' }), 0);
  assert.equal(metrics.intentionDenied.get({ service: 'web' }), 1);
  await pipeline.stop();
});

test('route backends are handed to onRouteBackends on every change of the set, before the sources sync', async () => {
  const file = new HandSource('file');
  const consul = new HandSource('consul');
  const cache = new XdsCache();
  const calls: string[][] = [];
  const pipeline = new Pipeline({
    sources: [file, consul],
    cache,
    logger: createLogger('silent'),
    debounceMs: 5,
    maxDelayMs: 50,
    onRouteBackends: (n) => calls.push([...n].sort()),
  });
  await pipeline.start();
  const m = model({ route: 'consul/dc1/shop' });
  file.sink.update(m); // not synced yet: the watch must start before Consul's first sync
  assert.deepEqual(calls, [['consul/dc1/shop', 'echo-v2']]);
  file.sink.update(model({ route: 'consul/dc1/shop', v1Port: 50099 }));
  assert.equal(calls.length, 1, 'an unchanged set is not handed on again');
  file.sink.update(model());
  assert.deepEqual(calls.at(-1), ['echo-v1', 'echo-v2']);
  await pipeline.stop();
});

test('a route whose backend no source defines is reported with the route, its source and the reference; the last good stays', async () => {
  const file = new HandSource('file');
  const consul = new HandSource('consul');
  let logs = '';
  const sink = new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) });
  const cache = new XdsCache();
  const pipeline = new Pipeline({
    sources: [file, consul],
    cache,
    logger: createLogger('info', sink),
    debounceMs: 5,
    maxDelayMs: 50,
  });
  await pipeline.start();
  const shop = (backend: string): Model => ({
    ...model(),
    routes: [
      ...model().routes,
      {
        name: 'shop',
        hosts: ['shop'],
        match: { prefix: '/' },
        backends: [
          { service: 'echo-v1', weight: 1 },
          { service: backend, weight: 1 },
        ],
      },
    ],
  });
  const consulModel = (): Model => ({
    ...emptyModel(),
    services: [{ name: 'consul/dc1/shop', endpoints: [{ address: '127.0.0.1', port: 50070 }] }],
  });
  file.push(shop('consul/dc1/shop'));
  consul.push(consulModel());
  await pipeline.idle();
  assert.equal(pipeline.readiness().ready, true, JSON.stringify(pipeline.readiness().detail));
  const good = versions(cache, 'grpc', TYPE.route);
  file.push(shop('consul/dc2/shop'));
  await pipeline.idle();
  const r = pipeline.readiness();
  assert.equal(r.ready, false);
  const problems = r.detail.translation.problems;
  assert.deepEqual(problems, [
    {
      path: 'routes[shop].backends[consul/dc2/shop]',
      message: 'service "consul/dc2/shop" does not exist; define it or fix the name',
      source: 'file',
    },
  ]);
  assert.match(
    logs,
    /routes\[shop\]\.backends\[consul\/dc2\/shop\] \(from source file\): service \\"consul\/dc2\/shop\\" does not exist/,
  );
  assert.match(logs, /keeping the last good resources/);
  assert.deepEqual(versions(cache, 'grpc', TYPE.route), good);
  await pipeline.stop();
});

test('an endpoint-only change to a non-IP address never reaches a client by the fast path', async (t) => {
  const a = new HandSource('a');
  const { cache, pipeline, published } = setup([a]);
  const server = new XdsServer({ cache, logger: createLogger('silent') });
  const port = await server.listen(0, '127.0.0.1');
  const client = await AdsClient.connect({ address: `127.0.0.1:${port}`, node: { id: 'grpc-1' }, mode: 'sotw' });
  t.after(async () => {
    client.close();
    await server.close();
    await pipeline.stop();
  });
  await pipeline.start();
  a.push(model());
  await pipeline.idle();
  client.subscribe(TYPE.endpoint, ['echo-v1']);
  const addressesOf = (r: { resources: { object?: Record<string, unknown> }[] }) =>
    r.resources.flatMap((res) =>
      (res.object as any).endpoints.flatMap((l: any) =>
        l.lb_endpoints.map(
          (e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`,
        ),
      ),
    );
  assert.deepEqual(addressesOf(await client.next(TYPE.endpoint, 5000)), ['127.0.0.1:50051']);

  // Only an endpoint differs from the last good model and nothing is wrong yet: the fast path.
  a.push(model({ v1Address: 'echo.internal' }));
  await pipeline.idle();
  const r = pipeline.readiness();
  assert.equal(r.ready, false);
  assert.deepEqual(
    r.detail.translation.problems.map((p) => p.path),
    ['services[echo-v1].endpoints[echo.internal:50051]'],
  );
  assert.match(r.detail.translation.problems[0].message, /not an IP address/);
  assert.equal(published.length, 1, 'nothing was published');

  // The next good change is the next thing the client sees: the bad address was never sent.
  a.push(model({ v1Port: 50071 }));
  await pipeline.idle();
  assert.deepEqual(addressesOf(await client.next(TYPE.endpoint, 5000)), ['127.0.0.1:50071']);
  assert.equal(pipeline.readiness().ready, true);
});

test('merge precedence: the earlier source wins a name both define, and the conflict is reported', async () => {
  const first = new HandSource('first');
  const second = new HandSource('second');
  const { cache, pipeline } = setup([first, second]);
  await pipeline.start();
  const only = (port: number): Model => ({
    ...emptyModel(),
    services: [{ name: 'echo-v1', protocol: 'grpc', endpoints: [{ address: '127.0.0.1', port }] }],
  });
  // The later source reports first: precedence is the configured order, not arrival order.
  second.push(only(2));
  first.push(only(1));
  await pipeline.idle();
  const cla = cache.get('grpc', TYPE.endpoint, 'echo-v1')!.object as any;
  assert.equal(cla.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 1);
  assert.equal(pipeline.model?.services[0].source, 'first');
  assert.deepEqual(pipeline.readiness().detail.conflicts, [
    { kind: 'services', name: 'echo-v1', kept: 'first', dropped: 'second' },
  ]);
  await pipeline.stop();
});

test('a meshed endpoint joining a plaintext service rebuilds the gRPC cluster (TLS) and reports what gRPC clients miss', async () => {
  const a = new HandSource('a');
  const { cache, pipeline, published } = setup([a]);
  await pipeline.start();
  const withEndpoints = (endpoints: Model['services'][number]['endpoints']): Model => ({
    ...emptyModel(),
    services: [
      {
        name: 'web',
        endpointTls: {
          istio: {
            sni: 'outbound_.80_._.web.shop.svc.cluster.local',
            expectedSans: [{ kind: 'uri', value: 'spiffe://cluster.local/ns/shop/sa/web' }],
            trustBundle: 'istio/roots',
            clientIdentity: 'istio/default',
          },
        },
        endpoints,
      },
    ],
    identities: [{ name: 'istio/default', certChainPem: 'C', privateKeyPem: 'K' }],
    trustBundles: [{ name: 'istio/roots', caPems: ['CA'] }],
  });
  a.push(withEndpoints([{ address: '10.0.0.2', port: 80 }]));
  await pipeline.idle();
  assert.equal((cache.get('grpc', TYPE.cluster, 'web')!.object as any).transport_socket, undefined);
  assert.equal(pipeline.readiness().detail.translation.notices, undefined);
  a.push(
    withEndpoints([
      { address: '10.0.0.1', port: 80, tlsProfile: 'istio' },
      { address: '10.0.0.2', port: 80 },
    ]),
  );
  await pipeline.idle();
  assert.equal(published.at(-1)?.kind, 'full');
  const cluster = cache.get('grpc', TYPE.cluster, 'web')!.object as any;
  assert.equal(cluster.transport_socket.typed_config.sni, 'outbound_.80_._.web.shop.svc.cluster.local');
  const { ready, detail } = pipeline.readiness();
  assert.equal(ready, true, 'a notice does not fail readiness');
  assert.match(
    detail.translation.notices?.[0].message ?? '',
    /gRPC clients do not get 1 endpoint\(s\) \(10\.0\.0\.2:80\)/,
  );
  await pipeline.stop();
});
