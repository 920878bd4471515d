import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, ServiceModelCache } from './build.ts';
import { missingProfileWarning, portEndpoints, portProtocol, serviceModels, serviceProfileNeeds } from './services.ts';
import { emptyState, toService, toSlice } from './state.ts';
import type { SliceInfo } from './state.ts';
import type { ServiceMeshHook } from './config.ts';

const svc = toService({
  metadata: { name: 'cart', namespace: 'shop' },
  spec: {
    ports: [
      { name: 'grpc', port: 8080, appProtocol: 'grpc' },
      { name: 'http-admin', port: 9090 },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ],
  },
});

function slice(
  name: string,
  endpoints: object[],
  ports = [{ name: 'grpc', port: 50051 }],
  addressType = 'IPv4',
): SliceInfo {
  return toSlice({
    metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'cart' } },
    addressType,
    ports,
    endpoints,
  });
}

test('one model service per TCP port, named k8s/<ns>/<svc>/<port>, protocol from appProtocol or the port name', () => {
  const out = serviceModels(svc, [], 'kubernetes');
  assert.deepEqual(
    out.map((s) => [s.name, s.protocol]),
    [
      ['k8s/shop/cart/8080', 'grpc'],
      ['k8s/shop/cart/9090', 'http'],
    ],
  );
  assert.equal(portProtocol({ name: 'web', port: 80, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }), 'http2');
  assert.equal(portProtocol({ name: 'web', port: 80, protocol: 'TCP' }), undefined);
});

test('endpoints from several slices; the slice port is found by name; an address in two slices counts once', () => {
  const a = slice('cart-a', [{ addresses: ['10.0.0.1'], zone: 'z1' }, { addresses: ['10.0.0.2'] }]);
  const b = slice('cart-b', [{ addresses: ['10.0.0.3'], conditions: { ready: true } }, { addresses: ['10.0.0.2'] }]);
  const other = slice('cart-c', [{ addresses: ['10.0.0.9'] }], [{ name: 'metrics', port: 1 }]);
  assert.deepEqual(portEndpoints(svc.ports[0], [a, b, other]), [
    { address: '10.0.0.1', port: 50051, locality: { zone: 'z1' } },
    { address: '10.0.0.2', port: 50051 },
    { address: '10.0.0.3', port: 50051 },
  ]);
});

test('terminating-but-serving endpoints are used only while no ready endpoint is left; not-serving ones never', () => {
  const draining = { addresses: ['10.0.0.5'], conditions: { ready: false, serving: true, terminating: true } };
  const gone = { addresses: ['10.0.0.6'], conditions: { ready: false, serving: false, terminating: true } };
  const starting = { addresses: ['10.0.0.7'], conditions: { ready: false } };
  const ready = { addresses: ['10.0.0.8'] };
  assert.deepEqual(
    portEndpoints(svc.ports[0], [slice('s', [draining, gone, starting, ready])]).map((e) => e.address),
    ['10.0.0.8'],
  );
  assert.deepEqual(
    portEndpoints(svc.ports[0], [slice('s', [draining, gone, starting])]).map((e) => e.address),
    ['10.0.0.5'],
  );
});

test('FQDN slices and ExternalName services give no endpoints', () => {
  assert.deepEqual(
    portEndpoints(svc.ports[0], [slice('f', [{ addresses: ['db.example.com'] }], undefined, 'FQDN')]),
    [],
  );
  const ext = toService({
    metadata: { name: 'x', namespace: 'shop' },
    spec: { type: 'ExternalName', ports: [{ port: 80 }] },
  });
  assert.deepEqual(serviceModels(ext, [], 'k'), []);
});

test('the incremental cache builds the same model as buildModel, also after slices move and go', () => {
  const state = emptyState();
  const o = { source: 'kubernetes', inScope: (ns: string) => ns !== 'hidden', gatewayApi: false };
  const cache = new ServiceModelCache(o);
  state.services.set('shop/cart', svc);
  const hidden = toService({ metadata: { name: 'h', namespace: 'hidden' }, spec: { ports: [{ port: 80 }] } });
  state.services.set('hidden/h', hidden);
  const s1 = slice('cart-1', [{ addresses: ['10.0.0.1'] }]);
  state.slices.set('shop/cart-1', s1);
  cache.sliceSet(s1);
  assert.deepEqual(cache.build(state, 'all').model, buildModel(state, o).model);
  const s2 = slice('cart-2', [{ addresses: ['10.0.0.2'] }]);
  state.slices.set('shop/cart-2', s2);
  cache.sliceSet(s2);
  state.slices.delete('shop/cart-1');
  cache.sliceDelete(s1);
  const inc = cache.build(state, new Set(['shop/cart'])).model;
  assert.deepEqual(inc, buildModel(state, o).model);
  assert.deepEqual(
    inc.services.map((s) => [s.name, s.endpoints.map((e) => e.address)]),
    [
      ['k8s/shop/cart/8080', ['10.0.0.2']],
      ['k8s/shop/cart/9090', []],
    ],
  );
  // Each Service port is also a gRPC dial target under its in-cluster DNS name.
  assert.deepEqual(
    inc.routes.map((r) => [r.name, r.hosts, r.backends]),
    [
      ['k8s/shop/cart/8080/dns', ['cart.shop.svc.cluster.local:8080'], [{ service: 'k8s/shop/cart/8080', weight: 1 }]],
      ['k8s/shop/cart/9090/dns', ['cart.shop.svc.cluster.local:9090'], [{ service: 'k8s/shop/cart/9090', weight: 1 }]],
    ],
  );
});

test('Linkerd injected ingress: each port at the cluster IP with l5d-dst-override; headless Services keep their pods', () => {
  const withIp = toService({
    metadata: { name: 'cart', namespace: 'shop' },
    spec: { clusterIP: '10.96.0.7', ports: [{ name: 'grpc', port: 8080 }] },
  });
  const pods = [slice('cart-1', [{ addresses: ['10.1.0.1'] }], [{ name: 'grpc', port: 50051 }])];
  const [s] = serviceModels(withIp, pods, 'k', { clusterDomain: 'corp.local' });
  assert.deepEqual(s.endpoints, [{ address: '10.96.0.7', port: 8080 }]);
  assert.deepEqual(s.requestHeadersToAdd, [{ name: 'l5d-dst-override', value: 'cart.shop.svc.corp.local:8080' }]);

  const headless = toService({
    metadata: { name: 'cart', namespace: 'shop' },
    spec: { clusterIP: 'None', ports: [{ name: 'grpc', port: 8080 }] },
  });
  const [h] = serviceModels(headless, pods, 'k', {});
  assert.deepEqual(
    h.endpoints.map((e) => `${e.address}:${e.port}`),
    ['10.1.0.1:50051'],
  );
  assert.equal(h.requestHeadersToAdd?.[0].value, 'cart.shop.svc.cluster.local:8080');

  // Without the mode: pod endpoints, no header.
  const [plain] = serviceModels(withIp, pods, 'k');
  assert.equal(plain.requestHeadersToAdd, undefined);
  assert.equal(plain.endpoints[0].address, '10.1.0.1');
});

test('a mesh hook rewrites each TCP port model with its ServicePort; its conditions follow the Service', () => {
  const state = emptyState();
  const seen: string[] = [];
  const mesh: ServiceMeshHook = {
    resources: [],
    apply(s, port, model) {
      seen.push(`${s.name}:${port.name}:${port.port}`);
      return {
        service: { ...model, connectTimeoutMs: port.port },
        conditions: port.name === 'grpc' ? [`${s.namespace}/${s.name}: looked at ${port.port}`] : [],
      };
    },
  };
  const o = { source: 'kubernetes', inScope: () => true, gatewayApi: false, mesh };
  const cache = new ServiceModelCache(o);
  state.services.set('shop/cart', svc);
  const built = cache.build(state, 'all').model;
  assert.deepEqual(seen, ['cart:grpc:8080', 'cart:http-admin:9090']);
  assert.deepEqual(
    built.services.map((s) => [s.name, s.connectTimeoutMs]),
    [
      ['k8s/shop/cart/8080', 8080],
      ['k8s/shop/cart/9090', 9090],
    ],
  );
  assert.deepEqual(built, buildModel(state, o).model);
  assert.deepEqual(cache.conditions(), ['shop/cart: looked at 8080']);
  state.services.delete('shop/cart');
  cache.build(state, new Set(['shop/cart']));
  assert.deepEqual(cache.conditions(), [], 'a removed Service takes its conditions along');
});

test('linkerd injected ingress: every routed service with an l5d-dst-override needs the ServiceProfile of that name', () => {
  const header = (v: string) => [{ name: 'l5d-dst-override', value: v }];
  const needs = serviceProfileNeeds({
    services: [
      { name: 'k8s/shop/web/80', endpoints: [], requestHeadersToAdd: header('web.shop.svc.cluster.local:80') },
      { name: 'file/api', endpoints: [], requestHeadersToAdd: header('api.pay.svc.example.org:8080') },
      { name: 'k8s/shop/idle/80', endpoints: [], requestHeadersToAdd: header('idle.shop.svc.cluster.local:80') },
      { name: 'plain', endpoints: [] },
    ],
    routes: [
      { name: 'r1', hosts: ['a'], match: { prefix: '/' }, backends: [{ service: 'k8s/shop/web/80', weight: 1 }] },
      {
        name: 'r2',
        hosts: ['b'],
        match: { prefix: '/' },
        backends: [
          { service: 'file/api', weight: 1 },
          { service: 'plain', weight: 1 },
        ],
      },
    ],
  });
  assert.deepEqual(needs, [
    { service: 'file/api', namespace: 'pay', profile: 'api.pay.svc.example.org', kubeService: 'api' },
    { service: 'k8s/shop/web/80', namespace: 'shop', profile: 'web.shop.svc.cluster.local', kubeService: 'web' },
  ]);
  assert.match(
    missingProfileWarning(needs[1]),
    /service k8s\/shop\/web\/80 is routed, but namespace shop has no ServiceProfile web\.shop\.svc\.cluster\.local; .*linkerd profile --template web -n shop/,
  );
});

test('a pod maps to the Services whose EndpointSlices name it, and stops when the slice no longer does', () => {
  const cache = new ServiceModelCache({ source: 'kubernetes', inScope: () => true, gatewayApi: false });
  const slice = (name: string, service: string, pods: string[]) => ({
    namespace: 'shop',
    name,
    service,
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: pods.map((pod, i) => ({
      address: `10.0.0.${i + 1}`,
      ready: true,
      serving: true,
      terminating: false,
      pod,
    })),
  });
  cache.sliceSet(slice('web-a', 'web', ['web-1', 'web-2']));
  cache.sliceSet(slice('all-a', 'all', ['web-1']));
  assert.deepEqual([...cache.servicesOfPod('shop/web-1')].sort(), ['shop/all', 'shop/web']);
  assert.deepEqual([...cache.servicesOfPod('shop/web-2')], ['shop/web']);
  assert.deepEqual([...cache.servicesOfPod('other/web-1')], []);
  cache.sliceDelete(slice('all-a', 'all', ['web-1']));
  assert.deepEqual([...cache.servicesOfPod('shop/web-1')], ['shop/web']);
});
