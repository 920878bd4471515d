import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { buildGatewayApi, intersectHostnames, parseGwDuration, secretProblem } from './gateway.ts';
import type { DesiredStatus } from './gateway.ts';
import { emptyState, toGw, toService } from './state.ts';
import type { KubeState } from './state.ts';

const CTRL = 'meshgate.io/gateway-controller';
const opts = { controllerName: CTRL, inScope: () => true, source: 'kubernetes' };

function gw(kind: string, ns: string, name: string, spec: object, generation = 1) {
  return toGw({ kind, metadata: { name, namespace: ns || undefined, generation, resourceVersion: '1' }, spec });
}

function base(): KubeState {
  const s = emptyState();
  s.gatewayClasses.set('meshgate', gw('GatewayClass', '', 'meshgate', { controllerName: CTRL }));
  s.gatewayClasses.set('other', gw('GatewayClass', '', 'other', { controllerName: 'example.com/other' }));
  s.gateways.set(
    'infra/gw',
    gw('Gateway', 'infra', 'gw', {
      gatewayClassName: 'meshgate',
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
        {
          name: 'shop',
          port: 80,
          protocol: 'HTTP',
          hostname: '*.shop.example',
          allowedRoutes: { namespaces: { from: 'Same' } },
        },
      ],
    }),
  );
  s.gateways.set('infra/foreign', gw('Gateway', 'infra', 'foreign', { gatewayClassName: 'other', listeners: [] }));
  for (const [ns, name] of [
    ['shop', 'v1'],
    ['shop', 'v2'],
    ['billing', 'pay'],
  ])
    s.services.set(
      `${ns}/${name}`,
      toService({ metadata: { name, namespace: ns }, spec: { ports: [{ port: 8080 }] } }),
    );
  return s;
}

const statusOf = (st: DesiredStatus[], kind: string, ns: string, name: string) =>
  st.find((x) => x.kind === kind && x.namespace === ns && x.name === name);
const condsOf = (c: { type: string; status: string; reason: string }[] | undefined) =>
  Object.fromEntries((c ?? []).map((x) => [x.type, `${x.status}/${x.reason}`]));

test('an HTTPRoute with weights 1:3 becomes one model route per match, attached to the listeners it may use', () => {
  const s = base();
  s.httpRoutes.set(
    'shop/echo',
    gw(
      'HTTPRoute',
      'shop',
      'echo',
      {
        parentRefs: [
          { name: 'gw', namespace: 'infra' },
          { name: 'foreign', namespace: 'infra' },
        ],
        hostnames: ['echo.example'],
        rules: [
          {
            matches: [
              { path: { type: 'PathPrefix', value: '/api' }, method: 'GET', queryParams: [{ name: 'v', value: '2' }] },
              {},
            ],
            backendRefs: [
              { name: 'v1', port: 8080, weight: 1 },
              { name: 'v2', port: 8080, weight: 3 },
            ],
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: {
                  set: [{ name: 'X-A', value: '1' }],
                  add: [{ name: 'x-b', value: '2' }],
                  remove: ['x-c'],
                },
              },
            ],
            timeouts: { request: '1m30s' },
          },
        ],
      },
      3,
    ),
  );
  const b = buildGatewayApi(s, opts);
  assert.deepEqual(
    b.routes.map((r) => [r.name, r.hosts, r.match, r.backends, r.timeoutMs]),
    [
      [
        'k8s/shop/httproute/echo/r0/m0',
        ['echo.example'],
        { prefix: '/api', headers: [{ name: ':method', exact: 'GET' }], queryParams: [{ name: 'v', exact: '2' }] },
        [
          { service: 'k8s/shop/v1/8080', weight: 1 },
          { service: 'k8s/shop/v2/8080', weight: 3 },
        ],
        90_000,
      ],
      [
        'k8s/shop/httproute/echo/r0/m1',
        ['echo.example'],
        { prefix: '/' },
        [
          { service: 'k8s/shop/v1/8080', weight: 1 },
          { service: 'k8s/shop/v2/8080', weight: 3 },
        ],
        90_000,
      ],
    ],
  );
  assert.deepEqual(b.routes[0].requestHeadersToAdd, [
    { name: 'x-a', value: '1' },
    { name: 'x-b', value: '2', append: true },
  ]);
  // Listener "shop" only admits routes from infra and its hostname does not match anyway.
  assert.deepEqual(b.listeners, [
    {
      name: 'k8s/infra/gw/80',
      port: 80,
      routes: ['k8s/shop/httproute/echo/r0/m0', 'k8s/shop/httproute/echo/r0/m1'],
      source: 'kubernetes',
    },
  ]);
  const rs = statusOf(b.statuses, 'HTTPRoute', 'shop', 'echo')!;
  assert.equal(rs.parents!.length, 1, 'no status for the Gateway of another controller');
  assert.deepEqual(condsOf(rs.parents![0].conditions), {
    Accepted: 'True/Accepted',
    ResolvedRefs: 'True/ResolvedRefs',
  });
  assert.equal(rs.parents![0].conditions[0].observedGeneration, 3);
  const gs = statusOf(b.statuses, 'Gateway', 'infra', 'gw')!;
  assert.deepEqual(condsOf(gs.conditions), { Accepted: 'True/Accepted', Programmed: 'True/Programmed' });
  assert.deepEqual(
    gs.listeners!.map((l) => [l.name, l.attachedRoutes]),
    [
      ['http', 1],
      ['shop', 0],
    ],
  );
  assert.deepEqual(condsOf(statusOf(b.statuses, 'GatewayClass', '', 'meshgate')!.conditions), {
    Accepted: 'True/Accepted',
  });
  assert.equal(statusOf(b.statuses, 'GatewayClass', '', 'other'), undefined);
  assert.equal(statusOf(b.statuses, 'Gateway', 'infra', 'foreign'), undefined);
});

test('a missing backend and a cross-namespace backend without ReferenceGrant: ResolvedRefs False with the spec reasons, 500 for the rule', () => {
  const s = base();
  const route = (name: string, backend: object) =>
    gw('HTTPRoute', 'shop', name, {
      parentRefs: [{ name: 'gw', namespace: 'infra' }],
      rules: [{ backendRefs: [backend] }],
    });
  s.httpRoutes.set('shop/missing', route('missing', { name: 'nope', port: 8080 }));
  s.httpRoutes.set('shop/cross', route('cross', { name: 'pay', namespace: 'billing', port: 8080 }));
  let b = buildGatewayApi(s, opts);
  const missing = statusOf(b.statuses, 'HTTPRoute', 'shop', 'missing')!.parents![0];
  assert.deepEqual(condsOf(missing.conditions), { Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' });
  assert.match(missing.conditions[1].message, /Service shop\/nope not found/);
  const cross = statusOf(b.statuses, 'HTTPRoute', 'shop', 'cross')!.parents![0];
  assert.deepEqual(condsOf(cross.conditions), { Accepted: 'True/Accepted', ResolvedRefs: 'False/RefNotPermitted' });
  assert.deepEqual(b.routes.find((r) => r.name.includes('/missing/'))!.directResponse, { status: 500 });

  s.referenceGrants.set(
    'billing/allow-shop',
    gw('ReferenceGrant', 'billing', 'allow-shop', {
      from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop' }],
      to: [{ group: '', kind: 'Service' }],
    }),
  );
  b = buildGatewayApi(s, opts);
  assert.deepEqual(condsOf(statusOf(b.statuses, 'HTTPRoute', 'shop', 'cross')!.parents![0].conditions), {
    Accepted: 'True/Accepted',
    ResolvedRefs: 'True/ResolvedRefs',
  });
  assert.deepEqual(b.routes.find((r) => r.name.includes('/cross/'))!.backends, [
    { service: 'k8s/billing/pay/8080', weight: 1 },
  ]);
});

test('parent matching: unknown sectionName, listener namespace policy, hostname mismatch', () => {
  const s = base();
  const r = (name: string, spec: object) => s.httpRoutes.set(`shop/${name}`, gw('HTTPRoute', 'shop', name, spec));
  r('nosection', {
    parentRefs: [{ name: 'gw', namespace: 'infra', sectionName: 'nope' }],
    rules: [{ backendRefs: [{ name: 'v1', port: 8080 }] }],
  });
  r('notallowed', {
    parentRefs: [{ name: 'gw', namespace: 'infra', sectionName: 'shop' }],
    hostnames: ['a.shop.example'],
    rules: [],
  });
  s.httpRoutes.set(
    'infra/wronghost',
    gw('HTTPRoute', 'infra', 'wronghost', {
      parentRefs: [{ name: 'gw', sectionName: 'shop' }],
      hostnames: ['other.example'],
      rules: [],
    }),
  );
  const b = buildGatewayApi(s, opts);
  const acc = (ns: string, n: string) =>
    condsOf(statusOf(b.statuses, 'HTTPRoute', ns, n)!.parents![0].conditions).Accepted;
  assert.equal(acc('shop', 'nosection'), 'False/NoMatchingParent');
  assert.equal(acc('shop', 'notallowed'), 'False/NotAllowedByListeners');
  assert.equal(acc('infra', 'wronghost'), 'False/NoMatchingListenerHostname');
  assert.deepEqual(b.routes, []);
});

test('an invalid regex leaves its rule out: UnsupportedValue, or PartiallyInvalid when other rules stay', () => {
  const s = base();
  const spec = (rules: object[]) => ({ parentRefs: [{ name: 'gw', namespace: 'infra' }], rules });
  const bad = {
    matches: [{ path: { type: 'RegularExpression', value: '/(unclosed' } }],
    backendRefs: [{ name: 'v1', port: 8080 }],
  };
  const good = { backendRefs: [{ name: 'v1', port: 8080 }] };
  s.httpRoutes.set('shop/bad', gw('HTTPRoute', 'shop', 'bad', spec([bad])));
  s.httpRoutes.set('shop/half', gw('HTTPRoute', 'shop', 'half', spec([bad, good])));
  const b = buildGatewayApi(s, opts);
  const c = (n: string) => statusOf(b.statuses, 'HTTPRoute', 'shop', n)!.parents![0].conditions;
  assert.equal(condsOf(c('bad')).Accepted, 'False/UnsupportedValue');
  assert.match(c('bad')[0].message, /rule r0: path: invalid regular expression/);
  assert.equal(condsOf(c('half')).Accepted, 'True/Accepted');
  assert.equal(condsOf(c('half')).PartiallyInvalid, 'True/UnsupportedValue');
  assert.deepEqual(
    b.routes.map((r) => r.name),
    ['k8s/shop/httproute/half/r1/m0'],
  );
});

test('GRPCRoute method matches become gRPC paths; redirect and rewrite filters map to the model', () => {
  const s = base();
  s.grpcRoutes.set(
    'shop/echo',
    gw('GRPCRoute', 'shop', 'echo', {
      parentRefs: [{ name: 'gw', namespace: 'infra', sectionName: 'http' }],
      hostnames: ['echo.grpc'],
      rules: [
        {
          matches: [
            { method: { service: 'echo.Echo', method: 'Echo' } },
            { method: { service: 'echo.Echo' } },
            { method: { type: 'RegularExpression', method: 'Ec.*' } },
          ],
          backendRefs: [{ name: 'v1', port: 8080 }],
        },
      ],
    }),
  );
  s.httpRoutes.set(
    'shop/redir',
    gw('HTTPRoute', 'shop', 'redir', {
      parentRefs: [{ name: 'gw', namespace: 'infra' }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
          filters: [
            {
              type: 'RequestRedirect',
              requestRedirect: {
                scheme: 'https',
                statusCode: 302,
                path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' },
              },
            },
          ],
        },
        {
          matches: [{ path: { type: 'PathPrefix', value: '/v1' } }],
          filters: [
            {
              type: 'URLRewrite',
              urlRewrite: { hostname: 'internal', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } },
            },
          ],
          backendRefs: [{ name: 'v2', port: 8080 }],
        },
      ],
    }),
  );
  const b = buildGatewayApi(s, opts);
  assert.deepEqual(
    b.routes.filter((r) => r.name.includes('grpcroute')).map((r) => r.match),
    [{ path: '/echo.Echo/Echo' }, { prefix: '/echo.Echo/' }, { regex: '/[^/]+/Ec.*' }],
  );
  const redir = b.routes.find((r) => r.name === 'k8s/shop/httproute/redir/r0/m0')!;
  assert.deepEqual([redir.backends, redir.redirect], [[], { scheme: 'https', prefix: '/new', statusCode: 302 }]);
  assert.deepEqual(b.routes.find((r) => r.name === 'k8s/shop/httproute/redir/r1/m0')!.rewrite, {
    host: 'internal',
    prefix: '/',
  });
  assert.deepEqual(b.routes.find((r) => r.name.startsWith('k8s/shop/grpcroute'))!.hosts, ['echo.grpc']);
});

test('HTTPS listener: certificate from a Secret, refused when broken or in another namespace without a grant', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const s = base();
  s.gateways.set(
    'infra/tls',
    gw('Gateway', 'infra', 'tls', {
      gatewayClassName: 'meshgate',
      listeners: [
        {
          name: 'broken',
          port: 443,
          protocol: 'HTTPS',
          hostname: 'a.example',
          tls: { certificateRefs: [{ name: 'broken' }] },
        },
        {
          name: 'foreign',
          port: 8443,
          protocol: 'HTTPS',
          tls: { certificateRefs: [{ name: 'c', namespace: 'certs' }] },
        },
        { name: 'tcp', port: 9000, protocol: 'TCP' },
      ],
    }),
  );
  s.secrets.set('infra/broken', {
    namespace: 'infra',
    name: 'broken',
    type: 'kubernetes.io/tls',
    cert: '-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n',
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
  const b = buildGatewayApi(s, opts);
  const ls = statusOf(b.statuses, 'Gateway', 'infra', 'tls')!.listeners!;
  const l = (n: string) => condsOf(ls.find((x) => x.name === n)!.conditions);
  assert.equal(l('broken').ResolvedRefs, 'False/InvalidCertificateRef');
  assert.equal(l('broken').Programmed, 'False/Invalid');
  assert.equal(l('foreign').ResolvedRefs, 'False/RefNotPermitted');
  assert.equal(l('tcp').Accepted, 'False/UnsupportedProtocol');
  const msg = ls.find((x) => x.name === 'broken')!.conditions.find((c) => c.type === 'ResolvedRefs')!.message;
  assert.match(msg, /tls\.crt is not a PEM certificate/);
  assert.ok(!msg.includes('PRIVATE KEY'));
  assert.deepEqual(condsOf(statusOf(b.statuses, 'Gateway', 'infra', 'tls')!.conditions), {
    Accepted: 'True/Accepted',
    Programmed: 'False/Invalid',
  });
  assert.deepEqual(b.identities, []);
  assert.equal(secretProblem(undefined), 'Secret not found');
});

test('hostname intersection and Gateway API durations', () => {
  assert.deepEqual(intersectHostnames(undefined, []), ['*']);
  assert.deepEqual(intersectHostnames('*.example.com', []), ['*.example.com']);
  assert.deepEqual(intersectHostnames('*.example.com', ['a.example.com', 'b.other.com']), ['a.example.com']);
  assert.deepEqual(intersectHostnames('a.example.com', ['*.example.com']), ['a.example.com']);
  assert.deepEqual(intersectHostnames('a.example.com', ['b.example.com']), []);
  assert.equal(parseGwDuration('1h2m3s4ms'), 3_723_004);
  assert.equal(parseGwDuration('10'), undefined);
});

test('a route whose backend Service has mesh policy the gateway cannot honour says so in its status', () => {
  const s = base();
  s.httpRoutes.set(
    'shop/echo',
    gw('HTTPRoute', 'shop', 'echo', {
      parentRefs: [{ name: 'gw', namespace: 'infra' }],
      rules: [{ backendRefs: [{ name: 'v1', port: 8080 }] }, { backendRefs: [{ name: 'v2', port: 8080 }] }],
    }),
  );
  const strict = 'StrictWithoutSidecar: shop/v2:8080: STRICT mTLS applies to pod v2-0, which has no Istio sidecar';
  const b = buildGatewayApi(s, { ...opts, meshConditions: (k) => (k === 'shop/v2' ? [strict] : undefined) });
  const parent = statusOf(b.statuses, 'HTTPRoute', 'shop', 'echo')!.parents![0];
  assert.deepEqual(condsOf(parent.conditions), {
    Accepted: 'True/Accepted',
    ResolvedRefs: 'True/ResolvedRefs',
    'meshgate.io/MeshPolicyHonoured': 'False/StrictWithoutSidecar',
  });
  assert.equal(parent.conditions[2].message, strict);

  const clean = buildGatewayApi(s, { ...opts, meshConditions: () => undefined });
  assert.equal(statusOf(clean.statuses, 'HTTPRoute', 'shop', 'echo')!.parents![0].conditions.length, 2);
});

test("linkerd injected ingress: the Gateway's listeners drop client-sent l5d-* headers; without it they keep them", () => {
  const s = base();
  s.httpRoutes.set(
    'shop/echo',
    gw('HTTPRoute', 'shop', 'echo', {
      parentRefs: [{ name: 'gw', namespace: 'infra' }],
      rules: [{ backendRefs: [{ name: 'v1', port: 8080 }] }],
    }),
  );
  const injected = buildGatewayApi(s, { ...opts, linkerdIngress: true });
  assert.deepEqual(
    injected.listeners.map((l) => [l.name, l.removeRequestHeaderPrefixes]),
    [['k8s/infra/gw/80', ['l5d-']]],
  );
  assert.equal(buildGatewayApi(s, opts).listeners[0].removeRequestHeaderPrefixes, undefined);
});
