import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DestinationState, WeightedAddr } from '@meshgate/adapter-linkerd';
import { emptyState, type KubeState, ServiceModelCache } from '@meshgate/adapter-kubernetes';
import { LinkerdMeshHook } from './linkerd-upstreams.ts';

const API_ID = 'api.shop.serviceaccount.identity.linkerd.cluster.local';
const AUTHORITY = 'api.shop.svc.cluster.local:8080';

/** A Kubernetes view of Service shop/api (port 8080, gRPC) with the given pods behind it. */
function kube(pods: Array<{ name: string; ip: string; meshed: boolean }>): KubeState {
  const st = emptyState();
  st.services.set('shop/api', {
    namespace: 'shop',
    name: 'api',
    type: 'ClusterIP',
    clusterIP: '10.0.0.1',
    ports: [{ name: 'grpc', port: 8080, protocol: 'TCP' }],
  });
  st.services.set('shop/plain', {
    namespace: 'shop',
    name: 'plain',
    type: 'ClusterIP',
    clusterIP: '10.0.0.2',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
  });
  st.slices.set('shop/api-a', {
    namespace: 'shop',
    name: 'api-a',
    service: 'api',
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 8080, protocol: 'TCP' }],
    endpoints: pods.map((p) => ({ address: p.ip, ready: true, serving: true, terminating: false, pod: p.name })),
  });
  st.slices.set('shop/plain-a', {
    namespace: 'shop',
    name: 'plain-a',
    service: 'plain',
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    endpoints: [{ address: '10.1.0.9', ready: true, serving: true, terminating: false, pod: 'plain-1' }],
  });
  for (const p of [...pods, { name: 'plain-1', meshed: false }])
    st.pods.set(`shop/${p.name}`, {
      namespace: 'shop',
      name: p.name,
      serviceAccount: 'api',
      labels: p.meshed ? { 'linkerd.io/control-plane-ns': 'linkerd' } : {},
    });
  return st;
}

function addr(ip: string, extra: Partial<WeightedAddr> = {}): [string, WeightedAddr] {
  return [`${ip}:8080`, { ip, port: 8080, weight: 10000, labels: {}, ...extra }];
}

/** The hook with its subscriptions recorded instead of opened, and the model cache the Kubernetes source uses. */
function setup() {
  const opened: Array<{ authority: string; push: (s: Partial<DestinationState>) => void; stopped: boolean }> = [];
  const rebuilt: string[][] = [];
  const hook = new LinkerdMeshHook({
    linkerdNamespace: 'linkerd',
    names: { clientIdentity: 'linkerd/identity', trustBundle: 'linkerd/roots' },
    watch: (authority, onChange) => {
      const w = {
        authority,
        stopped: false,
        push: (s: Partial<DestinationState>) =>
          onChange({ authority, synced: true, exists: true, endpoints: new Map(), ...s }),
      };
      opened.push(w);
      return { stop: () => (w.stopped = true) };
    },
  });
  hook.subscribe((keys) => rebuilt.push([...keys]));
  const models = new ServiceModelCache({ source: 'kubernetes', inScope: () => true, gatewayApi: false, mesh: hook });
  // The source keeps the cache's slice index from its events; here each build takes the state's slices as they are.
  const cache = {
    build(state: KubeState, dirty: Set<string> | 'all') {
      models.resetSlices(state.slices.values());
      return models.build(state, dirty);
    },
    conditions: () => models.conditions(),
  };
  return { hook, opened, rebuilt, cache };
}

const svc = (model: { services: ReadonlyArray<{ name: string }> }, name: string) =>
  model.services.find((s) => s.name === name) as Record<string, unknown> | undefined;

test('a Service with no meshed pod keeps its EndpointSlice endpoints in plaintext and opens no subscription', () => {
  const { hook, cache } = setup();
  const { model } = cache.build(kube([{ name: 'api-1', ip: '10.1.0.1', meshed: false }]), 'all');
  assert.deepEqual(hook.watched(), []);
  assert.deepEqual(svc(model, 'k8s/shop/api/8080')?.endpoints, [{ address: '10.1.0.1', port: 8080 }]);
  assert.equal(svc(model, 'k8s/shop/api/8080')?.tls, undefined);
});

test('a meshed Service: no endpoints until the destination controller answers, then its endpoints with per-endpoint Linkerd TLS', () => {
  const { hook, opened, rebuilt, cache } = setup();
  const state = kube([
    { name: 'api-1', ip: '10.1.0.1', meshed: true },
    { name: 'api-2', ip: '10.1.0.2', meshed: true },
  ]);
  let { model } = cache.build(state, 'all');
  assert.deepEqual(hook.watched(), [AUTHORITY], 'one subscription, for the meshed Service only');
  assert.deepEqual(svc(model, 'k8s/shop/api/8080')?.endpoints, [], 'closed before the first answer, never plaintext');
  assert.deepEqual(svc(model, 'k8s/shop/plain/80')?.endpoints, [{ address: '10.1.0.9', port: 80 }]);

  opened[0].push({
    endpoints: new Map([
      addr('10.1.0.1', { identity: API_ID, serverName: API_ID }),
      addr('10.1.0.2', { identity: API_ID, serverName: API_ID }),
    ]),
  });
  assert.deepEqual(rebuilt, [['shop/api']], 'the source is asked to rebuild exactly that Service');
  const out = cache.build(state, new Set(['shop/api']));
  model = out.model;
  assert.equal(out.servicesChanged, true);
  const tls = {
    sni: API_ID,
    expectedSans: [{ kind: 'dns', value: API_ID }],
    trustBundle: 'linkerd/roots',
    clientIdentity: 'linkerd/identity',
  };
  const api = svc(model, 'k8s/shop/api/8080')!;
  assert.deepEqual(api.endpoints, [
    { address: '10.1.0.1', port: 8080, tlsProfile: API_ID },
    { address: '10.1.0.2', port: 8080, tlsProfile: API_ID },
  ]);
  assert.deepEqual(api.endpointTls, { [API_ID]: tls });
  assert.deepEqual(api.tls, tls);
  assert.equal(api.source, 'kubernetes', 'still the Kubernetes source’s service');
  assert.deepEqual(cache.conditions(), []);
  // The DNS route of the Service port names the same model service.
  assert.ok(model.routes.some((r) => r.hosts.includes(AUTHORITY) && r.backends[0].service === 'k8s/shop/api/8080'));
});

test('unmeshed and opaque endpoints are left out and reported as conditions naming the fix', () => {
  const { opened, cache } = setup();
  const state = kube([
    { name: 'api-1', ip: '10.1.0.1', meshed: true },
    { name: 'api-plain', ip: '10.1.0.3', meshed: false },
  ]);
  cache.build(state, 'all');
  opened[0].push({
    endpoints: new Map([
      addr('10.1.0.1', { identity: API_ID, serverName: API_ID }),
      addr('10.1.0.3'),
      addr('10.1.0.4', { identity: API_ID, serverName: API_ID, opaqueTransportPort: 4143 }),
    ]),
  });
  const { model } = cache.build(state, new Set(['shop/api']));
  assert.deepEqual(svc(model, 'k8s/shop/api/8080')?.endpoints, [
    { address: '10.1.0.1', port: 8080, tlsProfile: API_ID },
  ]);
  const conds = cache.conditions();
  assert.equal(conds.length, 2, conds.join('\n'));
  assert.match(conds.join('\n'), /no Linkerd identity \(pods without the mesh: 10\.1\.0\.3:8080\).*mesh those pods/);
  assert.match(conds.join('\n'), /opaque transport \(10\.1\.0\.4:8080\)/);
  assert.doesNotMatch(conds.join('\n'), /allowPlaintextUnmeshed/, 'no setting named that this path does not have');
});

test('a failed stream keeps the last endpoints in service and says so; recovery clears the condition', () => {
  const { opened, cache } = setup();
  const state = kube([{ name: 'api-1', ip: '10.1.0.1', meshed: true }]);
  cache.build(state, 'all');
  const eps = new Map([addr('10.1.0.1', { identity: API_ID, serverName: API_ID })]);
  opened[0].push({ endpoints: eps });
  cache.build(state, new Set(['shop/api']));
  opened[0].push({ endpoints: eps, lastError: '14 UNAVAILABLE: connection refused' });
  const { model, servicesChanged } = cache.build(state, new Set(['shop/api']));
  assert.equal(servicesChanged, false, 'the model stays as it was');
  assert.deepEqual(svc(model, 'k8s/shop/api/8080')?.endpoints, [
    { address: '10.1.0.1', port: 8080, tlsProfile: API_ID },
  ]);
  assert.deepEqual(cache.conditions(), [
    `linkerd destination for k8s/shop/api/8080 (${AUTHORITY}): 14 UNAVAILABLE: connection refused; the last known endpoints stay in service`,
  ]);
  opened[0].push({ endpoints: eps });
  cache.build(state, new Set(['shop/api']));
  assert.deepEqual(cache.conditions(), []);
});

test('subscriptions follow the Services: a deleted Service, a removed port or pods leaving the mesh stop them; stop() ends all', () => {
  const { hook, opened, rebuilt, cache } = setup();
  const state = kube([{ name: 'api-1', ip: '10.1.0.1', meshed: true }]);
  const original = state.services.get('shop/api')!;
  const withTwoPorts = () =>
    state.services.set('shop/api', {
      ...original,
      ports: [
        { name: 'grpc', port: 8080, protocol: 'TCP' },
        { name: 'admin', port: 9090, protocol: 'TCP' },
      ],
    });
  withTwoPorts();
  cache.build(state, 'all');
  assert.deepEqual(hook.watched(), [AUTHORITY, 'api.shop.svc.cluster.local:9090']);

  // Port 9090 removed.
  state.services.set('shop/api', {
    ...state.services.get('shop/api')!,
    ports: [state.services.get('shop/api')!.ports[0]],
  });
  cache.build(state, new Set(['shop/api']));
  assert.deepEqual(hook.watched(), [AUTHORITY]);
  assert.equal(opened.find((o) => o.authority.endsWith(':9090'))?.stopped, true);

  // The pods lose the mesh: back to the EndpointSlice view, subscription closed.
  state.pods.set('shop/api-1', { ...state.pods.get('shop/api-1')!, labels: {} });
  let { model } = cache.build(state, 'all');
  assert.deepEqual(hook.watched(), []);
  assert.deepEqual(svc(model, 'k8s/shop/api/8080')?.endpoints, [{ address: '10.1.0.1', port: 8080 }]);
  // A late message of the closed subscription asks for nothing.
  const n = rebuilt.length;
  opened[0].push({ endpoints: new Map([addr('10.9.9.9', { identity: API_ID })]) });
  assert.equal(rebuilt.length, n);

  // Meshed again, then the Service is deleted.
  state.pods.set('shop/api-1', {
    ...state.pods.get('shop/api-1')!,
    labels: { 'linkerd.io/control-plane-ns': 'linkerd' },
  });
  cache.build(state, 'all');
  assert.deepEqual(hook.watched(), [AUTHORITY]);
  state.services.delete('shop/api');
  ({ model } = cache.build(state, new Set(['shop/api'])));
  assert.equal(svc(model, 'k8s/shop/api/8080'), undefined);
  assert.deepEqual(hook.watched(), []);

  withTwoPorts();
  cache.build(state, 'all');
  assert.equal(hook.watched().length, 2);
  hook.stop();
  assert.deepEqual(hook.watched(), []);
  assert.ok(opened.every((o) => o.stopped));
});

test('a pod meshed into another control plane does not count', () => {
  const { hook, cache } = setup();
  const state = kube([{ name: 'api-1', ip: '10.1.0.1', meshed: false }]);
  state.pods.set('shop/api-1', {
    ...state.pods.get('shop/api-1')!,
    labels: { 'linkerd.io/control-plane-ns': 'other' },
  });
  cache.build(state, 'all');
  assert.deepEqual(hook.watched(), []);
});
