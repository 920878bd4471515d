import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model, Service, UpstreamTls } from '@meshgate/model';
import { translate } from './translate.ts';
import { endpointTlsNotices, grpcTlsPlan } from './endpoint-tls.ts';
import { TYPE } from './types.ts';

const mtls = (sa: string): UpstreamTls => ({
  sni: 'outbound_.80_._.web.shop.svc.cluster.local',
  alpn: ['istio-http/1.1', 'istio'],
  expectedSans: [{ kind: 'uri', value: `spiffe://cluster.local/ns/shop/sa/${sa}` }],
  trustBundle: 'istio/roots',
  clientIdentity: 'istio/default',
});
const base: Model = {
  services: [],
  routes: [],
  listeners: [],
  identities: [{ name: 'istio/default', certChainPem: 'C', privateKeyPem: 'K' }],
  trustBundles: [{ name: 'istio/roots', caPems: ['CA'] }],
};
const withService = (s: Service): Model => ({ ...base, services: [s] });

test('gRPC: a mixed service never sends plaintext to an mTLS endpoint; the rest is a notice, not a failure', () => {
  const s: Service = {
    name: 'web',
    endpointTls: { istio: mtls('web') },
    endpoints: [
      { address: '10.0.0.1', port: 80, tlsProfile: 'istio' },
      { address: '10.0.0.2', port: 80 },
    ],
  };
  const { resources, problems } = translate(withService(s), 'grpc');
  assert.deepEqual(problems, []);
  const cluster = resources.get(TYPE.cluster)!.get('web') as { transport_socket?: { typed_config: { sni: string } } };
  assert.equal(cluster.transport_socket?.typed_config.sni, 'outbound_.80_._.web.shop.svc.cluster.local');
  const cla = resources.get(TYPE.endpoint)!.get('web') as {
    endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[];
  };
  const addrs = cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address));
  assert.deepEqual(addrs, ['10.0.0.1']);
  const notices = endpointTlsNotices(withService(s));
  assert.equal(notices.length, 1);
  assert.equal(notices[0].path, 'services[web]');
  assert.match(notices[0].message, /10\.0\.0\.2:80.*plaintext while other endpoints need mTLS/);

  // Envoy reaches both: the meshed one by metadata, the other by the (absent = plaintext) default.
  const envoy = translate(withService(s), 'envoy').resources;
  const ec = envoy.get(TYPE.cluster)!.get('web') as {
    transport_socket?: unknown;
    transport_socket_matches?: unknown[];
  };
  assert.equal(ec.transport_socket, undefined);
  assert.equal(ec.transport_socket_matches?.length, 1);
});

test('gRPC: profiles equal by value are one setting; only plaintext endpoints make no TLS', () => {
  const same: Service = {
    name: 'web',
    endpointTls: { a: mtls('web'), b: mtls('web') },
    endpoints: [
      { address: '10.0.0.1', port: 80, tlsProfile: 'b' },
      { address: '10.0.0.2', port: 80, tlsProfile: 'a' },
    ],
  };
  const plan = grpcTlsPlan(same);
  assert.equal(plan.profile, 'a');
  assert.equal(plan.dropped.length, 0);
  const plain: Service = {
    name: 'web',
    endpointTls: { a: mtls('web') },
    endpoints: [{ address: '10.0.0.1', port: 80 }],
  };
  assert.equal(grpcTlsPlan(plain).tls, undefined);
  assert.deepEqual(endpointTlsNotices(withService(plain)), []);
});

test('gRPC: two TLS identities: the first key wins whatever the endpoint counts, the other is reported', () => {
  const s = (n: number): Service => ({
    name: 'web',
    endpointTls: { a: mtls('one'), b: mtls('two') },
    endpoints: [
      { address: '10.0.0.1', port: 80, tlsProfile: 'a' },
      ...Array.from({ length: n }, (_, i) => ({ address: `10.0.1.${i + 1}`, port: 80, tlsProfile: 'b' })),
    ],
  });
  for (const n of [1, 5]) {
    const plan = grpcTlsPlan(s(n));
    assert.equal(plan.profile, 'a');
    assert.equal(plan.dropped.length, n);
  }
  assert.match(endpointTlsNotices(withService(s(7)))[0].message, /7 endpoint\(s\).*and 2 more.*different TLS setting/);
});

test('validation: an endpoint profile must exist and each profile is checked like tls', () => {
  const bad: Service = {
    name: 'web',
    endpointTls: { istio: { ...mtls('web'), trustBundle: 'nope', expectedSans: [] } },
    endpoints: [
      { address: '10.0.0.1', port: 80, tlsProfile: 'istio' },
      { address: '10.0.0.2', port: 80, tlsProfile: 'missing' },
    ],
  };
  const { problems } = translate(withService(bad), 'envoy');
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  assert.ok(
    lines.some((l) => /services\[web\]\.endpoints\[10\.0\.0\.2:80\]: tlsProfile "missing" is not a key/.test(l)),
  );
  assert.ok(lines.some((l) => /services\[web\]\.endpointTls\[istio\]: trust bundle "nope" does not exist/.test(l)));
  assert.ok(lines.some((l) => /services\[web\]\.endpointTls\[istio\]: expectedSans is empty/.test(l)));
});
