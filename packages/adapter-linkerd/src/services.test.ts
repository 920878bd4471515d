import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DestinationState } from './destination.ts';
import type { WeightedAddr } from './destination-proto.ts';
import { linkerdService } from './services.ts';

const NAMES = { clientIdentity: 'linkerd/identity', trustBundle: 'linkerd/roots' };
const API = 'api.shop.serviceaccount.identity.linkerd.cluster.local';
const CART = 'cart.shop.serviceaccount.identity.linkerd.cluster.local';
const AUTH = 'api.shop.svc.cluster.local:8080';

const ep = (ip: string, o: Partial<WeightedAddr> = {}): WeightedAddr => ({
  ip,
  port: 8080,
  weight: 10000,
  labels: {},
  ...o,
});
const state = (eps: WeightedAddr[], o: Partial<DestinationState> = {}): DestinationState => ({
  authority: AUTH,
  synced: true,
  exists: true,
  endpoints: new Map(eps.map((e) => [`${e.ip}:${e.port}`, e])),
  ...o,
});
const tlsFor = (id: string) => ({
  sni: id,
  expectedSans: [{ kind: 'dns' as const, value: id }],
  trustBundle: 'linkerd/roots',
  clientIdentity: 'linkerd/identity',
});

describe('linkerdService', () => {
  test('meshed endpoints of one identity: per-endpoint profile and the same TLS service-wide', () => {
    const { service, report } = linkerdService(
      { name: 'api', authority: AUTH, protocol: 'grpc' },
      state([ep('10.0.0.2', { identity: API, serverName: API }), ep('10.0.0.1', { identity: API, serverName: API })]),
      NAMES,
    );
    assert.deepEqual(service, {
      name: 'api',
      protocol: 'grpc',
      endpoints: [
        { address: '10.0.0.1', port: 8080, tlsProfile: API },
        { address: '10.0.0.2', port: 8080, tlsProfile: API },
      ],
      tls: tlsFor(API),
      endpointTls: { [API]: tlsFor(API) },
      source: 'linkerd',
    });
    assert.equal(report.meshed, 2);
    assert.deepEqual(report.problems, []);
  });

  test('SNI is the controller’s server_name; the verified SAN is the identity', () => {
    const { service } = linkerdService(
      { name: 'api', authority: AUTH },
      state([ep('10.0.0.1', { identity: API, serverName: 'other.example' })]),
      NAMES,
    );
    assert.equal(service.endpointTls?.[API].sni, 'other.example');
    assert.deepEqual(service.endpointTls?.[API].expectedSans, [{ kind: 'dns', value: API }]);
  });

  test('two identities: one profile each; service-wide TLS fails closed for the other, never plaintext', () => {
    const { service, report } = linkerdService(
      { name: 'api', authority: AUTH },
      state([ep('10.0.0.1', { identity: CART, serverName: CART }), ep('10.0.0.2', { identity: API, serverName: API })]),
      NAMES,
    );
    assert.deepEqual(Object.keys(service.endpointTls ?? {}).sort(), [API, CART]);
    assert.deepEqual(
      service.endpoints.map((e) => e.tlsProfile),
      [CART, API],
    );
    assert.deepEqual(service.tls, tlsFor(API));
    assert.deepEqual(report.identities, [API, CART]);
  });

  test('an unmeshed endpoint is left out and reported unless plaintext is allowed', () => {
    const s = state([ep('10.0.0.1', { identity: API, serverName: API }), ep('10.0.0.9')]);
    const closed = linkerdService({ name: 'api', authority: AUTH }, s, NAMES);
    assert.deepEqual(
      closed.service.endpoints.map((e) => e.address),
      ['10.0.0.1'],
    );
    assert.deepEqual(closed.report.unmeshedLeftOut, ['10.0.0.9:8080']);
    assert.match(
      closed.report.problems.join('\n'),
      /no Linkerd identity .*10\.0\.0\.9:8080.*allowPlaintextUnmeshed: true/,
    );

    const open = linkerdService({ name: 'api', authority: AUTH, allowPlaintextUnmeshed: true }, s, NAMES);
    assert.deepEqual(open.service.endpoints, [
      { address: '10.0.0.1', port: 8080, tlsProfile: API },
      { address: '10.0.0.9', port: 8080 },
    ]);
    // The model's rule: endpoints without a profile use `tls`, so it must be absent for the plaintext one.
    assert.equal(open.service.tls, undefined);
    assert.deepEqual(open.service.endpointTls, { [API]: tlsFor(API) });
    assert.equal(open.report.plaintext, 1);
    assert.deepEqual(open.report.problems, []);
  });

  test('only unmeshed endpoints, plaintext allowed: plaintext service without TLS profiles', () => {
    const { service } = linkerdService(
      { name: 'api', authority: AUTH, allowPlaintextUnmeshed: true },
      state([ep('10.0.0.9')]),
      NAMES,
    );
    assert.deepEqual(service, {
      name: 'api',
      endpoints: [{ address: '10.0.0.9', port: 8080 }],
      source: 'linkerd',
    });
  });

  test('opaque-transport endpoints are left out and reported as unsupported', () => {
    const { service, report } = linkerdService(
      { name: 'api', authority: AUTH, allowPlaintextUnmeshed: true },
      state([ep('10.0.0.1', { identity: API, serverName: API, opaqueTransportPort: 4143 })]),
      NAMES,
    );
    assert.deepEqual(service.endpoints, []);
    assert.deepEqual(report.opaqueLeftOut, ['10.0.0.1:8080']);
    assert.match(report.problems[0], /opaque transport .* does not speak; they are left out/);
  });

  test('a Service the controller does not know: no endpoints, reported; before the first answer: not synced', () => {
    const gone = linkerdService({ name: 'api', authority: AUTH }, state([], { exists: false }), NAMES);
    assert.deepEqual(gone.service.endpoints, []);
    assert.match(gone.report.problems[0], /does not know api\.shop\.svc\.cluster\.local:8080/);
    const early = linkerdService({ name: 'api', authority: AUTH }, undefined, NAMES);
    assert.equal(early.report.synced, false);
    assert.deepEqual(early.service.endpoints, []);
  });
});
