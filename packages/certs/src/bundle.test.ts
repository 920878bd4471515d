import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertError, TrustBundleSet, createRoot } from './index.ts';

test('bundles merge per mesh and trust domain without duplicates, in a stable order', async () => {
  const [istio, consul, shared] = await Promise.all([
    createRoot({ commonName: 'istio' }),
    createRoot({ commonName: 'consul' }),
    createRoot({ commonName: 'shared' }),
  ]);
  // The same root re-encoded with other line breaks is still the same certificate.
  const sharedRewrapped = shared.certPem.replace(/\n(?!-----)/g, '\r\n');

  const a = new TrustBundleSet();
  assert.equal(a.set('istio', 'cluster.local', [istio.certPem, shared.certPem]), true);
  assert.equal(a.set('consul', 'abc.consul', consul.certPem + sharedRewrapped + consul.certPem), true);
  const b = new TrustBundleSet();
  b.add('consul', 'abc.consul', [consul.certPem, shared.certPem]);
  b.add('istio', 'cluster.local', istio.certPem + shared.certPem);

  const merged = a.pems();
  assert.equal(merged.length, 3, 'shared root appears once');
  assert.deepEqual(merged, [consul.certPem, shared.certPem, istio.certPem], 'mesh order, then the bundle order');
  assert.equal(a.pem(), b.pem(), 'insertion order does not matter');
  assert.deepEqual(a.pems({ mesh: 'istio' }), [istio.certPem, shared.certPem]);
  assert.deepEqual(a.get('consul', 'abc.consul'), [consul.certPem, shared.certPem]);
  assert.equal(a.set('consul', 'abc.consul', [consul.certPem, shared.certPem]), false, 'same content is not a change');

  assert.equal(a.remove('consul', 'abc.consul'), true);
  assert.deepEqual(a.pems(), [istio.certPem, shared.certPem], 'shared root stays while istio still lists it');
  assert.equal(a.remove('consul', 'abc.consul'), false);
  assert.deepEqual(a.keys(), [{ mesh: 'istio', trustDomain: 'cluster.local' }]);

  assert.throws(
    () => a.set('istio', 'cluster.local', 'not a pem'),
    (e: unknown) =>
      e instanceof CertError &&
      e.code === 'BUNDLE_INVALID' &&
      /mesh "istio", trust domain "cluster.local"/.test(e.message),
  );
});

test('sdsSecrets: stable names, chain/key/bundle inline', async () => {
  const { CertificateAuthority, sdsSecrets } = await import('./index.ts');
  const ca = await CertificateAuthority.createInMemory();
  const c = await ca.issue({ spiffe: 'spiffe://example.org/ns/a/sa/b' });
  const s = sdsSecrets(c, { cert: 'mesh/istio/default', roots: 'mesh/istio/roots' });
  assert.deepEqual(s.cert, {
    name: 'mesh/istio/default',
    tls_certificate: { certificate_chain: { inline_string: c.chainPem }, private_key: { inline_string: c.keyPem } },
  });
  assert.deepEqual(s.roots, {
    name: 'mesh/istio/roots',
    validation_context: { trusted_ca: { inline_string: c.bundlePem } },
  });
});
