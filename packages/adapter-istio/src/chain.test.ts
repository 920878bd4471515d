// The checks on what CreateCertificate returns, one row per way a chain can be wrong. The certificates come from
// @meshgate/certs' CA, shaped as istiod sends them (cert_chain: one PEM per entry, leaf first, root last).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthority, createCsr } from '@meshgate/certs';
import { checkIstioChain } from './chain.ts';
import { IstioError } from './errors.ts';

const ID = 'spiffe://cluster.local/ns/gw/sa/meshgate';
const split = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];

const root = await CertificateAuthority.createInMemory({ commonName: 'istio root' });
const otherRoot = await CertificateAuthority.createInMemory({ commonName: 'istio root' });
const inter = await root.issueIntermediate({ commonName: 'istiod intermediate' });
const interCa = await CertificateAuthority.load({
  certPem: inter.certPem,
  keyPem: inter.keyPem,
  chainPem: root.certPem,
});

// A leaf for our CSR key, as istiod signs it (SAN from the caller's identity).
const csr = await createCsr({ spiffe: ID });
const signed = await root.signCsr(csr.csrPem, { allowedSans: [ID] });
const signedByInter = await interCa.signCsr(csr.csrPem, { allowedSans: [ID] });
const otherSan = await root.signCsr((await createCsr({ spiffe: 'spiffe://cluster.local/ns/gw/sa/other' })).csrPem, {
  allowedSans: () => true,
});
const otherKey = await root.issue({ spiffe: ID });
const dnsLeaf = await root.issue({ dns: 'meshgate.gw.svc' });
const expired = await root.signCsr(csr.csrPem, {
  allowedSans: [ID],
  now: new Date(Date.now() - 3 * 86_400_000),
  ttlMs: 3_600_000,
});
const fromOther = await otherRoot.signCsr(csr.csrPem, { allowedSans: [ID] });

const ok = [signed.certPem, root.certPem];
const rows: { name: string; chain: string[]; roots?: string; expect: RegExp | 'ok'; key?: string }[] = [
  { name: 'leaf and root', chain: ok, expect: 'ok' },
  { name: 'leaf, intermediate, root', chain: [signedByInter.certPem, inter.certPem, root.certPem], expect: 'ok' },
  {
    name: 'root among several in root-cert.pem (root change in progress)',
    chain: ok,
    roots: otherRoot.certPem + root.certPem,
    expect: 'ok',
  },
  { name: 'leaf alone', chain: [signed.certPem], expect: /has 1 certificate/ },
  { name: 'empty', chain: [], expect: /has 0 certificate/ },
  { name: 'root first', chain: [root.certPem, signed.certPem], expect: /is a CA; the leaf must come first/ },
  {
    name: 'intermediate and root swapped',
    chain: [signedByInter.certPem, root.certPem, inter.certPem],
    expect: /cert_chain\[0\] is not signed by cert_chain\[1\]/,
  },
  { name: 'two certificates in one entry', chain: [signed.certPem + root.certPem, root.certPem], expect: /holds 2/ },
  { name: 'not PEM', chain: ['hello', root.certPem], expect: /cert_chain\[0\]/ },
  { name: 'another identity', chain: [otherSan.certPem, root.certPem], expect: /expected exactly "spiffe:/ },
  { name: 'a DNS leaf', chain: [dnsLeaf.certPem, root.certPem], expect: /SANs are \[meshgate\.gw\.svc\]/ },
  { name: 'not our key', chain: [otherKey.certPem, root.certPem], expect: /not the one of the CSR/, key: csr.keyPem },
  { name: 'expired', chain: [expired.certPem, root.certPem], expect: /expired/ },
  {
    name: 'a root the gateway does not trust',
    chain: [fromOther.certPem, otherRoot.certPem],
    expect: /not a root of istio-ca-root-cert/,
  },
  {
    name: 'same-named root with another key',
    chain: [fromOther.certPem, root.certPem],
    expect: /cert_chain\[0\] is not signed by cert_chain\[1\]/,
  },
];

describe('checkIstioChain', () => {
  for (const row of rows) {
    test(row.name, () => {
      const run = () =>
        checkIstioChain(row.chain, {
          spiffeId: ID,
          rootsPem: row.roots ?? root.certPem,
          keyPem: row.key ?? csr.keyPem,
        });
      if (row.expect === 'ok') {
        const c = run();
        assert.equal(c.leaf.subjectAltName, `URI:${ID}`);
        assert.equal(split(c.chainPem).length, row.chain.length - 1, 'the root is left out of the served chain');
        assert.ok(c.notAfter > new Date());
      } else {
        assert.throws(run, (err: unknown) => {
          assert.ok(err instanceof IstioError);
          assert.equal(err.code, 'CHAIN_INVALID');
          assert.match(err.message, row.expect as RegExp);
          return true;
        });
      }
    });
  }

  test('root-cert.pem that is not a CA is refused as a root problem', () => {
    assert.throws(
      () => checkIstioChain(ok, { spiffeId: ID, rootsPem: signed.certPem }),
      (err: unknown) => err instanceof IstioError && err.code === 'ROOT_INVALID' && /not a CA/.test(err.message),
    );
  });
});
