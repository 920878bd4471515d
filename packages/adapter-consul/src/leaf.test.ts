import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthority, createRoot } from '@meshgate/certs';
import { validateLeaf } from './leaf.ts';

const TD = '11111111-2222-3333-4444-555555555555.consul';
const URI = `spiffe://${TD}/ns/default/dc/dc1/svc/meshgate-gateway`;

async function ca() {
  const root = await createRoot({ trustDomain: TD, commonName: 'Consul CA' });
  return { root, ca: await CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem }) };
}

test('a good leaf passes: key matches, valid, expected URI, chains to the roots', async () => {
  const { root, ca: a } = await ca();
  const leaf = await a.issue({ spiffe: URI, ttlMs: 3_600_000 });
  const r = validateLeaf({
    certPem: leaf.certPem,
    privateKeyPem: leaf.keyPem,
    rootPems: [root.certPem],
    expectedUri: URI,
  });
  assert.deepEqual({ ok: r.ok, reason: r.reason }, { ok: true, reason: undefined });
});

test('bad leaves are refused with the reason', async () => {
  const { root, ca: a } = await ca();
  const other = await ca();
  const leaf = await a.issue({ spiffe: URI, ttlMs: 3_600_000 });
  const leaf2 = await a.issue({ spiffe: URI, ttlMs: 3_600_000 });
  assert.match(
    validateLeaf({ certPem: leaf.certPem, privateKeyPem: leaf2.keyPem, rootPems: [root.certPem] }).reason!,
    /does not match/,
  );
  assert.match(
    validateLeaf({ certPem: leaf.certPem, privateKeyPem: leaf.keyPem, rootPems: [other.root.certPem] }).reason!,
    /does not chain/,
  );
  assert.match(
    validateLeaf({
      certPem: leaf.certPem,
      privateKeyPem: leaf.keyPem,
      rootPems: [root.certPem],
      expectedUri: URI.replace('gateway', 'other'),
    }).reason!,
    /URI SANs/,
  );
  assert.match(
    validateLeaf({ certPem: 'garbage', privateKeyPem: leaf.keyPem, rootPems: [root.certPem] }).reason!,
    /no PEM/,
  );
  const expired = await a.issue({ spiffe: URI, ttlMs: 60_000, now: new Date(Date.now() - 3_600_000) });
  assert.match(
    validateLeaf({ certPem: expired.certPem, privateKeyPem: expired.keyPem, rootPems: [root.certPem] }).reason!,
    /expired/,
  );
});

test('after a CA rotation a leaf from the new CA chains when both roots are in the bundle', async () => {
  const old = await ca();
  const next = await ca();
  const leaf = await next.ca.issue({ spiffe: URI, ttlMs: 3_600_000 });
  assert.equal(
    validateLeaf({ certPem: leaf.certPem, privateKeyPem: leaf.keyPem, rootPems: [old.root.certPem, next.root.certPem] })
      .ok,
    true,
  );
});
