import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CertError,
  consulSpiffeId,
  dnsNameProblem,
  formatDuration,
  istioSpiffeId,
  linkerdIdentity,
  parseConsulSpiffeId,
  parseDuration,
  parseIstioSpiffeId,
  parseLinkerdIdentity,
  parseSpiffeId,
} from './index.ts';

const accept = [
  'spiffe://example.org/ns/default/sa/gw',
  'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
  'spiffe://7f42f496-fbc7-8692-05ed-334aa5340c1e.consul/ns/default/dc/dc1/svc/web',
  'spiffe://td_with_underscore/Path.With-Mixed_Case/0',
  'spiffe://example.org',
  'spiffe://example.org/a/.hidden/..x',
  `spiffe://example.org/${'a'.repeat(2048 - 'spiffe://example.org/'.length)}`,
];

const reject: Array<[string, RegExp]> = [
  ['', /empty/],
  ['http://example.org/ns/a', /must start with "spiffe:\/\/"/],
  ['SPIFFE://example.org/ns/a', /scheme must be lower-case/],
  ['spiffe:///ns/a', /trust domain is missing/],
  ['spiffe://Example.org/ns/a', /must be lower-case/],
  ['spiffe://example.org:8443/ns/a', /port/],
  ['spiffe://user@example.org/ns/a', /user info/],
  ['spiffe://example.org/ns/a?x=1', /query/],
  ['spiffe://example.org/ns/a#frag', /fragment/],
  ['spiffe://example.org/ns//a', /empty segment/],
  ['spiffe://example.org/ns/./a', /segment "\." is not allowed/],
  ['spiffe://example.org/ns/../a', /segment "\.\." is not allowed/],
  ['spiffe://example.org/ns/a/', /must not end with "\/"/],
  ['spiffe://example.org/ns/a%20b', /no percent-encoding/],
  ['spiffe://exa mple.org/ns/a', /may only contain/],
  ['spiffe://example.org/ns/ä', /may only contain/],
  [`spiffe://example.org/${'a'.repeat(2049 - 'spiffe://example.org/'.length)}`, /longer than 2048/],
];

test('SPIFFE parser accepts valid IDs and returns their parts', () => {
  for (const id of accept) {
    const p = parseSpiffeId(id);
    assert.equal(p.id, id);
  }
  const p = parseSpiffeId('spiffe://example.org/ns/default/sa/gw');
  assert.deepEqual(
    [p.trustDomain, p.path, p.segments],
    ['example.org', '/ns/default/sa/gw', ['ns', 'default', 'sa', 'gw']],
  );
});

test('SPIFFE parser rejects malformed IDs with the reason', () => {
  for (const [id, why] of reject) {
    assert.throws(
      () => parseSpiffeId(id),
      (err: unknown) => err instanceof CertError && err.code === 'SPIFFE_INVALID' && why.test(err.message),
      `expected ${JSON.stringify(id.slice(0, 60))} to be rejected with ${why}`,
    );
  }
  assert.throws(() => parseSpiffeId('spiffe://example.org', { requirePath: true }), /needs a path/);
});

test('Istio identities round-trip and reject other shapes', () => {
  const id = istioSpiffeId({ namespace: 'shop', serviceAccount: 'gw' });
  assert.equal(id, 'spiffe://cluster.local/ns/shop/sa/gw');
  assert.deepEqual(parseIstioSpiffeId(id), { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'gw' });
  assert.throws(() => parseIstioSpiffeId('spiffe://cluster.local/ns/shop/svc/gw'), /not an Istio workload ID/);
  assert.throws(
    () => istioSpiffeId({ namespace: 'a/b', serviceAccount: 'gw' }),
    (e: unknown) => e instanceof CertError && e.code === 'IDENTITY_INVALID',
  );
});

test('Consul identities: default and partition forms', () => {
  const td = '7f42f496-fbc7-8692-05ed-334aa5340c1e.consul';
  const plain = consulSpiffeId({ trustDomain: td, datacenter: 'dc1', service: 'web' });
  assert.equal(plain, `spiffe://${td}/ns/default/dc/dc1/svc/web`);
  assert.equal(consulSpiffeId({ trustDomain: td, partition: 'default', datacenter: 'dc1', service: 'web' }), plain);
  const ap = consulSpiffeId({
    trustDomain: td,
    partition: 'team-a',
    namespace: 'ns1',
    datacenter: 'dc2',
    service: 'api',
  });
  assert.equal(ap, `spiffe://${td}/ap/team-a/ns/ns1/dc/dc2/svc/api`);
  assert.deepEqual(parseConsulSpiffeId(ap), {
    trustDomain: td,
    partition: 'team-a',
    namespace: 'ns1',
    datacenter: 'dc2',
    service: 'api',
  });
  assert.equal(parseConsulSpiffeId(plain).partition, 'default');
  assert.throws(() => parseConsulSpiffeId(`spiffe://${td}/agent/client/dc/dc1/id/x`), /not a Consul service ID/);
});

test('Linkerd identity names follow DNS label rules', () => {
  const name = linkerdIdentity({ serviceAccount: 'web', namespace: 'emojivoto' });
  assert.equal(name, 'web.emojivoto.serviceaccount.identity.linkerd.cluster.local');
  assert.deepEqual(parseLinkerdIdentity(name), {
    serviceAccount: 'web',
    namespace: 'emojivoto',
    controlNamespace: 'linkerd',
    trustDomain: 'cluster.local',
  });
  assert.throws(
    () => parseLinkerdIdentity('Web.emojivoto.serviceaccount.identity.linkerd.cluster.local'),
    /must be lower-case/,
  );
  assert.throws(() => parseLinkerdIdentity('web.emojivoto.identity.linkerd.cluster.local'), /not a Linkerd identity/);
  assert.throws(
    () => parseLinkerdIdentity('-web.ns.serviceaccount.identity.linkerd.cluster.local'),
    /must not start or end with "-"/,
  );
  assert.throws(() => linkerdIdentity({ serviceAccount: 'a.b', namespace: 'ns' }), /single DNS label/);
  assert.equal(
    dnsNameProblem(`${'a'.repeat(64)}.example`),
    `the label "${'a'.repeat(20)}..." is longer than 63 characters`,
  );
  assert.equal(dnsNameProblem('gw.example.org'), undefined);
});

test('durations: units, Go-style sums, and clear refusals', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('24h'), 86_400_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('24h0m0s'), 86_400_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  for (const bad of ['', '10', '5y', 'h', '0s', '-1h', '1h x']) {
    assert.throws(
      () => parseDuration(bad, '--ttl'),
      (e: unknown) => e instanceof CertError && e.code === 'DURATION_INVALID' && /--ttl/.test(e.message),
      bad,
    );
  }
  assert.equal(formatDuration(90_061_000), '1d1h1m1s');
});
