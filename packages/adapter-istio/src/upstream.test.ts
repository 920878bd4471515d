import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type IstioPolicies,
  type IstioPolicyObject,
  type IstioServicePort,
  istioUpstream,
  peerAuthenticationMode,
} from './upstream.ts';

const o = {
  trustDomain: 'cluster.local',
  clientIdentity: 'istio/default',
  trustBundle: 'istio/roots',
  gatewayNamespace: 'gateway',
};
const pod = (name: string, sidecar: boolean, labels: Record<string, string> = {}) => ({
  namespace: 'shop',
  name,
  serviceAccount: `${name}-sa`,
  labels: { app: 'web', ...labels, ...(sidecar ? { 'security.istio.io/tlsMode': 'istio' } : {}) },
});
const port = (over: Partial<IstioServicePort> = {}): IstioServicePort => ({
  namespace: 'shop',
  service: 'web',
  port: 80,
  protocol: 'http',
  endpoints: [
    { endpoint: { address: '10.0.0.1', port: 8080 }, pod: pod('meshed', true) },
    { endpoint: { address: '10.0.0.2', port: 8080 }, pod: pod('plain', false) },
  ],
  serviceAccounts: ['meshed-sa', 'plain-sa'],
  ...over,
});
const pa = (namespace: string, name: string, spec: object, ts = '2026-01-01T00:00:00Z'): IstioPolicyObject => ({
  namespace,
  name,
  creationTimestamp: ts,
  spec,
});
const none: IstioPolicies = { peerAuthentications: [], destinationRules: [] };

test('default (PERMISSIVE): Istio mTLS to the sidecar pod by profile, plaintext to the other; Istio SNI, ALPN, SANs', () => {
  const u = istioUpstream(port(), none, o);
  assert.equal(u.tls, undefined);
  assert.deepEqual(
    u.endpoints.map((e) => e.tlsProfile),
    ['istio', undefined],
  );
  assert.deepEqual(u.endpointTls?.istio, {
    sni: 'outbound_.80_._.web.shop.svc.cluster.local',
    alpn: ['istio-http/1.1', 'istio', 'http/1.1'],
    expectedSans: [
      { kind: 'uri', value: 'spiffe://cluster.local/ns/shop/sa/meshed-sa' },
      { kind: 'uri', value: 'spiffe://cluster.local/ns/shop/sa/plain-sa' },
    ],
    trustBundle: 'istio/roots',
    clientIdentity: 'istio/default',
  });
  assert.deepEqual(u.conditions, []);
  assert.deepEqual(istioUpstream(port({ protocol: 'grpc' }), none, o).endpointTls?.istio.alpn, [
    'istio-h2',
    'istio',
    'h2',
  ]);
});

test('PeerAuthentication: workload beats namespace beats mesh; port level beats workload; UNSET inherits', () => {
  const policies = [
    pa('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }),
    pa('shop', 'ns', { mtls: { mode: 'DISABLE' } }),
    pa('shop', 'wl', {
      selector: { matchLabels: { app: 'web' } },
      mtls: { mode: 'PERMISSIVE' },
      portLevelMtls: { 9090: { mode: 'STRICT' } },
    }),
    pa('shop', 'wl-unset', { selector: { matchLabels: { app: 'db' } }, mtls: { mode: 'UNSET' } }),
  ];
  assert.equal(peerAuthenticationMode(policies, 'shop', { app: 'web' }, 8080).mode, 'PERMISSIVE');
  assert.equal(peerAuthenticationMode(policies, 'shop', { app: 'web' }, 9090).mode, 'STRICT');
  assert.equal(peerAuthenticationMode(policies, 'shop', { app: 'db' }, 8080).mode, 'DISABLE');
  assert.equal(peerAuthenticationMode(policies, 'other', { app: 'web' }, 8080).mode, 'STRICT');
  assert.equal(peerAuthenticationMode([], 'shop', {}, 80).mode, 'PERMISSIVE');
});

test('DISABLE for the namespace: plaintext even to the sidecar pod', () => {
  const u = istioUpstream(
    port(),
    { ...none, peerAuthentications: [pa('shop', 'off', { mtls: { mode: 'DISABLE' } })] },
    o,
  );
  assert.deepEqual(
    u.endpoints.map((e) => e.tlsProfile),
    [undefined, undefined],
  );
  assert.equal(u.endpointTls, undefined);
});

test('STRICT to a pod without a sidecar: mTLS, never plaintext, and a condition naming the pod and the fix', () => {
  const u = istioUpstream(
    port(),
    { ...none, peerAuthentications: [pa('istio-system', 'mesh', { mtls: { mode: 'STRICT' } })] },
    o,
  );
  assert.deepEqual(
    u.endpoints.map((e) => e.tlsProfile),
    ['istio', 'istio'],
  );
  assert.equal(u.conditions.length, 1);
  assert.equal(u.conditions[0].reason, 'StrictWithoutSidecar');
  assert.match(
    u.conditions[0].message,
    /shop\/web:80: STRICT mTLS applies to pod plain \(10\.0\.0\.2:8080, PeerAuthentication istio-system\/mesh\).*inject the sidecar/,
  );
});

test('DestinationRule: ISTIO_MUTUAL is mTLS to every endpoint with its SNI/SANs; DISABLE is plaintext; gateway namespace first', () => {
  const dr = (namespace: string, name: string, host: string, tls: object) =>
    pa(namespace, name, { host, trafficPolicy: { tls } });
  const mutual = istioUpstream(
    port(),
    { ...none, destinationRules: [dr('shop', 'web', 'web', { mode: 'ISTIO_MUTUAL', sni: 'x.example' })] },
    o,
  );
  assert.equal(mutual.tls?.sni, 'x.example');
  assert.equal(mutual.endpointTls, undefined);
  assert.deepEqual(
    mutual.endpoints.map((e) => e.tlsProfile),
    [undefined, undefined],
  );
  assert.equal(mutual.decidedBy, 'DestinationRule shop/web');
  const both = {
    ...none,
    destinationRules: [
      dr('shop', 'web', 'web.shop.svc.cluster.local', { mode: 'ISTIO_MUTUAL' }),
      dr('gateway', 'off', '*.shop.svc.cluster.local', { mode: 'DISABLE' }),
    ],
  };
  const off = istioUpstream(port(), both, o);
  assert.equal(off.tls, undefined);
  assert.equal(off.endpointTls, undefined);
  assert.equal(off.decidedBy, 'DestinationRule gateway/off');
  const simple = istioUpstream(port(), { ...none, destinationRules: [dr('shop', 's', 'web', { mode: 'SIMPLE' })] }, o);
  assert.equal(simple.conditions[0].reason, 'DestinationRuleCredential');
  assert.deepEqual(simple.endpoints, [], 'never plaintext when the rule asks for TLS');
});

test("DestinationRule SIMPLE/MUTUAL with credentialName: the Secret's CA and certificate, the rule's SNI and SANs", () => {
  const dr = (tls: object, portLevel?: object) =>
    pa('shop', 'web', {
      host: 'web',
      trafficPolicy: { tls, ...(portLevel ? { portLevelSettings: [{ port: { number: 80 }, tls: portLevel }] } : {}) },
    });
  const creds = {
    ...o,
    credential: (name: string) =>
      name === 'ok'
        ? {
            identity: { name: 'istio/dr/gateway/ok', certChainPem: 'x', privateKeyPem: 'y' },
            trustBundle: { name: 'istio/dr/gateway/ok/ca', caPems: ['z'] },
          }
        : {
            certProblem: 'Secret gateway/only-ca has no client certificate',
            trustBundle: { name: 'b', caPems: ['z'] },
          },
  };
  const simple = istioUpstream(
    port(),
    { ...none, destinationRules: [dr({ mode: 'SIMPLE', credentialName: 'ok' })] },
    creds,
  );
  assert.deepEqual(simple.tls, {
    sni: 'web.shop.svc.cluster.local',
    expectedSans: [{ kind: 'dns', value: 'web.shop.svc.cluster.local' }],
    trustBundle: 'istio/dr/gateway/ok/ca',
  });
  assert.equal(simple.endpoints.length, 2);
  assert.equal(simple.endpointTls, undefined);
  const mutual = istioUpstream(
    port({ protocol: 'grpc' }),
    {
      ...none,
      destinationRules: [
        dr(
          { mode: 'DISABLE' },
          {
            mode: 'MUTUAL',
            credentialName: 'ok',
            sni: 'api.example.com',
            subjectAltNames: ['spiffe://other/ns/a/sa/b', 'api.example.com'],
          },
        ),
      ],
    },
    creds,
  );
  assert.deepEqual(mutual.tls, {
    sni: 'api.example.com',
    alpn: ['h2'],
    expectedSans: [
      { kind: 'dns', value: 'api.example.com' },
      { kind: 'uri', value: 'spiffe://other/ns/a/sa/b' },
    ],
    trustBundle: 'istio/dr/gateway/ok/ca',
    clientIdentity: 'istio/dr/gateway/ok',
  });
  const refused = (tls: object, opts: typeof o = creds) => {
    const u = istioUpstream(port(), { ...none, destinationRules: [dr(tls)] }, opts);
    assert.deepEqual(u.endpoints, []);
    assert.equal(u.conditions[0].reason, 'DestinationRuleCredential');
    return u.conditions[0].message;
  };
  assert.match(refused({ mode: 'MUTUAL', credentialName: 'only-ca' }), /has no client certificate/);
  assert.match(
    refused({ mode: 'MUTUAL', clientCertificate: '/etc/c.pem', privateKey: '/etc/k.pem' }),
    /names files \(clientCertificate, privateKey\).*credentialName/,
  );
  assert.match(refused({ mode: 'SIMPLE', credentialName: 'ok', insecureSkipVerify: true }), /insecureSkipVerify/);
  assert.match(refused({ mode: 'SIMPLE', credentialName: 'ok' }, o), /istio\.namespace/);
});

test('mTLS with no known service account leaves the endpoints out and says why (never any-cert)', () => {
  const u = istioUpstream(
    port({ serviceAccounts: [], endpoints: [{ endpoint: { address: '10.0.0.9', port: 80 } }] }),
    { ...none, peerAuthentications: [pa('shop', 'strict', { mtls: { mode: 'STRICT' } })] },
    o,
  );
  assert.deepEqual(u.endpoints, []);
  assert.ok(u.conditions.some((c) => c.reason === 'NoServiceAccount'));
});

test('trust domain aliases: secure-naming SANs under each alias too, explicit DestinationRule SANs untouched', () => {
  const u = istioUpstream(port(), none, { ...o, trustDomainAliases: ['old.example'] });
  assert.deepEqual(
    u.endpointTls?.istio.expectedSans.map((x) => x.value),
    [
      'spiffe://cluster.local/ns/shop/sa/meshed-sa',
      'spiffe://cluster.local/ns/shop/sa/plain-sa',
      'spiffe://old.example/ns/shop/sa/meshed-sa',
      'spiffe://old.example/ns/shop/sa/plain-sa',
    ],
  );
  const explicit = istioUpstream(
    port(),
    {
      ...none,
      destinationRules: [
        pa('shop', 'web', {
          host: 'web',
          trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://x/y'] } },
        }),
      ],
    },
    { ...o, trustDomainAliases: ['old.example'] },
  );
  assert.deepEqual(
    explicit.tls?.expectedSans.map((x) => x.value),
    ['spiffe://x/y'],
  );
});
