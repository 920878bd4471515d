import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { CertificateAuthority, createRoot } from '@meshgate/certs';
import type { Identity } from '@meshgate/model';
import { CertReadiness } from './cert-readiness.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

const HOUR = 3_600_000;

async function issuer() {
  const root = await createRoot({ commonName: 'test CA' });
  return CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem });
}

function setup() {
  let now = Date.now();
  let logs = '';
  const metrics = createMetrics(() => 0);
  const r = new CertReadiness({
    nearExpiryFraction: 0.1,
    log: createLogger('warn', new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) })),
    metrics,
    now: () => now,
  });
  return { r, metrics, setNow: (t: number) => (now = t), logs: () => logs };
}

test('near expiry follows the clock with no new event: a table of times over a 1 h certificate', async () => {
  const ca = await issuer();
  const cert = await ca.issue({ spiffe: 'spiffe://example.org/gw', ttlMs: HOUR });
  const x = new X509Certificate(cert.certPem);
  const notAfter = Date.parse(x.validTo);
  const notBefore = Date.parse(x.validFrom);
  const { r, setNow } = setup();
  r.update([{ name: 'mesh/example/gw', certChainPem: cert.chainPem, privateKeyPem: cert.keyPem }]);
  const lifetime = notAfter - notBefore;
  // Near expiry = less than 10% of the lifetime left (lifetime measured from the certificate's own dates).
  const rows: [string, number, boolean][] = [
    ['just issued', notBefore + 60_000, false],
    ['half-life', notBefore + lifetime / 2, false],
    ['a little more than 10% left', notAfter - lifetime * 0.1 - 30_000, false],
    ['a little less than 10% left', notAfter - lifetime * 0.1 + 30_000, true],
    ['expired', notAfter + 1, true],
  ];
  for (const [what, at, near] of rows) {
    setNow(at);
    assert.deepEqual(
      r.status(),
      [{ identity: 'mesh/example/gw', mesh: 'example', notAfter: cert.notAfter.toISOString(), nearExpiry: near }],
      what,
    );
  }
});

test('a certificate is parsed when it changes, not on every publish or read; the expiry gauge follows', async () => {
  const ca = await issuer();
  const a = await ca.issue({ spiffe: 'spiffe://example.org/a', ttlMs: HOUR });
  const b = await ca.issue({ spiffe: 'spiffe://example.org/b', ttlMs: 2 * HOUR });
  const { r, metrics, logs } = setup();
  const garbled: Identity = { name: 'mesh/x/broken', certChainPem: 'not a certificate', privateKeyPem: 'k' };
  const good: Identity = { name: 'mesh/x/a', certChainPem: a.chainPem, privateKeyPem: a.keyPem, source: 'file' };
  for (let i = 0; i < 5; i++) {
    r.update([good, garbled]);
    r.status();
  }
  assert.equal(logs().match(/identity certificate does not parse/g)?.length, 1, 'one warning for one bad certificate');
  assert.deepEqual(
    r.status().map((c) => c.identity),
    ['mesh/x/a'],
  );
  assert.equal(metrics.certExpiry.get({ mesh: 'x', identity: 'mesh/x/a' }), Math.floor(a.notAfter.getTime() / 1000));

  // A rotation replaces the certificate under the same name; a removed identity leaves the gauge.
  r.update([{ ...good, certChainPem: b.chainPem }]);
  assert.equal(r.status()[0].notAfter, b.notAfter.toISOString());
  assert.equal(metrics.certExpiry.get({ mesh: 'x', identity: 'mesh/x/a' }), Math.floor(b.notAfter.getTime() / 1000));
  r.update([]);
  assert.deepEqual(r.status(), []);
  assert.equal(metrics.certExpiry.get({ mesh: 'x', identity: 'mesh/x/a' }), undefined);
  r.update([garbled]);
  assert.equal(logs().match(/identity certificate does not parse/g)?.length, 2, 'it came back: parsed again');
});
