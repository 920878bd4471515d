import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertError, CertificateAuthority, RotationManager, type CertMaterial, type IssuedCert } from './index.ts';
import { eventually } from './test-helpers.ts';

const ID = 'spiffe://example.org/ns/ingress/sa/gateway';
const HOUR = 3_600_000;

test('rotates from the certificate lifetime with 3 s TTLs, always before expiry', async (t) => {
  const ca = await CertificateAuthority.createInMemory();
  const rotations: Array<{ cert: IssuedCert; at: number }> = [];
  const m = new RotationManager({
    mesh: 'istio',
    identity: 'default',
    obtain: () => ca.issue({ spiffe: ID, ttlMs: 3000 }),
    renewAt: 0.5,
    jitter: 0.1,
    minRetryMs: 100,
    maxRetryMs: 1000,
    keyType: 'ec-p256',
    expectedSan: ID,
    trustBundle: ca.bundlePem,
    onRotate: (cert) => rotations.push({ cert, at: Date.now() }),
    onError: (err) => assert.fail(`unexpected rotation error: ${err.message}`),
  });
  t.after(() => m.stop());
  await m.start();
  assert.equal(rotations.length, 1);
  const s = m.status();
  assert.equal(s.ready, true);
  const life = s.notAfter!.getTime() - s.notBefore!.getTime();
  const renewIn = s.nextRenewalAt!.getTime() - s.notBefore!.getTime();
  assert.ok(
    renewIn >= 0.45 * life - 1 && renewIn <= 0.5 * life + 1,
    `renewal at ${renewIn} ms of a ${life} ms lifetime`,
  );

  await eventually(() => rotations.length >= 4, 20_000, 'at least 3 rotations after the first certificate');
  for (let i = 1; i < rotations.length; i++) {
    const prev = rotations[i - 1].cert;
    assert.notEqual(rotations[i].cert.serialNumber, prev.serialNumber);
    assert.ok(rotations[i].at < prev.notAfter.getTime(), `rotation ${i} happened before the previous cert expired`);
  }
  assert.equal(m.current()?.serialNumber, rotations.at(-1)!.cert.serialNumber);
  const g = m.expiryGauge();
  assert.equal(g.length, 1);
  assert.deepEqual(g[0].labels, { mesh: 'istio', identity: 'default' });
  assert.equal(g[0].value, m.current()!.notAfter.getTime() / 1000);
});

test('measureFromReceipt: a CA that backdates NotBefore past half-life does not make renewal immediate', async (t) => {
  const ca = await CertificateAuthority.createInMemory();
  // As istiod issues a 60 s certificate: NotBefore 2 min in the past, so half of NotBefore..NotAfter is already gone.
  const obtain = () => ca.issue({ spiffe: ID, ttlMs: 60_000, backdateMs: 120_000 });
  for (const measureFromReceipt of [false, true]) {
    const m = new RotationManager({
      mesh: 'istio',
      identity: 'default',
      obtain,
      measureFromReceipt,
      trustBundle: ca.bundlePem,
    });
    t.after(() => m.stop());
    const before = Date.now();
    await m.start();
    const s = m.status();
    const renewal = s.nextRenewalAt!.getTime();
    if (measureFromReceipt) {
      assert.ok(renewal >= before + 0.45 * 60_000 - 1000, `renewal ${renewal - before} ms after receipt`);
      assert.ok(renewal <= s.notAfter!.getTime() - 0.45 * 60_000 + 1000, 'and well before expiry');
    } else {
      assert.ok(renewal <= Date.now(), 'from NotBefore, renewal is already due: the loop the option prevents');
    }
    m.stop();
  }
});

test('keeps the previous certificate when renewal returns something invalid', async (t) => {
  const ca = await CertificateAuthority.createInMemory();
  const otherCa = await CertificateAuthority.createInMemory();
  const good = () => ca.issue({ spiffe: ID, ttlMs: 3000 });
  const a = await ca.issue({ spiffe: ID, ttlMs: HOUR });
  const b = await ca.issue({ spiffe: ID, ttlMs: HOUR });
  const bad: Array<[string, CertMaterial | Error, RegExp]> = [
    [
      'malformed PEM',
      { chainPem: '-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n', keyPem: a.keyPem },
      /malformed certificate PEM/,
    ],
    [
      'wrong key type',
      await ca.issue({ spiffe: ID, ttlMs: HOUR, keyType: 'rsa-2048' }),
      /wrong key type: got RSA 2048, requested EC P-256/,
    ],
    [
      'expired',
      await ca.issue({ spiffe: ID, ttlMs: HOUR, now: new Date(Date.now() - 3 * HOUR) }),
      /the leaf expired at/,
    ],
    [
      'mismatched CA',
      await otherCa.issue({ spiffe: ID, ttlMs: HOUR }),
      /does not verify|neither in the chain nor in the trust bundle/,
    ],
    [
      'key/cert mismatch',
      { chainPem: a.chainPem, keyPem: b.keyPem, bundlePem: a.bundlePem },
      /private key does not match/,
    ],
    [
      'wrong SAN',
      await ca.issue({ spiffe: 'spiffe://example.org/ns/ingress/sa/intruder', ttlMs: HOUR }),
      /SAN mismatch/,
    ],
    ['source down', new Error('connect ECONNREFUSED 127.0.0.1:8500'), /ECONNREFUSED/],
  ];
  let calls = 0;
  const errors: CertError[] = [];
  const servedDuringErrors: string[] = [];
  const rotated: IssuedCert[] = [];
  let m: RotationManager | undefined;
  m = new RotationManager({
    mesh: 'consul',
    identity: 'gateway',
    obtain: async () => {
      const i = calls++;
      if (i === 0 || i > bad.length) return good();
      const r = bad[i - 1][1];
      if (r instanceof Error) throw r;
      return r;
    },
    renewAt: 0.5,
    jitter: 0.1,
    minRetryMs: 30,
    maxRetryMs: 60,
    keyType: 'ec-p256',
    expectedSan: ID,
    trustBundle: () => ca.bundlePem,
    onRotate: (c) => rotated.push(c),
    onError: (err) => {
      errors.push(err);
      servedDuringErrors.push(m!.current()!.serialNumber);
    },
  });
  t.after(() => m.stop());
  await m.start();
  const first = m.current()!;
  await eventually(() => rotated.length >= 2, 20_000, 'a good certificate after all the bad ones');

  assert.equal(errors.length, bad.length);
  for (const [i, [what, , re]] of bad.entries()) {
    assert.ok(errors[i] instanceof CertError, what);
    assert.match(errors[i].message, re, what);
    assert.match(errors[i].message, /keeping the previous certificate/, what);
    assert.equal(errors[i].code, what === 'source down' ? 'OBTAIN_FAILED' : 'CERT_REJECTED', what);
    assert.ok(!errors[i].message.includes(a.keyPem.split('\n')[1]), 'no key material in errors');
  }
  assert.deepEqual(
    new Set(servedDuringErrors),
    new Set([first.serialNumber]),
    'the first cert stayed in service during every failure',
  );
  const s = m.status();
  assert.equal(s.consecutiveFailures, 0);
  assert.equal(s.lastError, undefined);
  assert.equal(s.ready, true);
  assert.notEqual(m.current()!.serialNumber, first.serialNumber);
});

test('status: not ready before the first cert, failures counted, not ready near expiry', async (t) => {
  const ca = await CertificateAuthority.createInMemory();
  let offset = 0;
  let fail = true;
  const m = new RotationManager({
    mesh: 'linkerd',
    identity: 'gw',
    obtain: async () => {
      if (fail) throw new Error('identity service unavailable');
      return ca.issue({ dns: 'gw.ingress.serviceaccount.identity.linkerd.cluster.local', ttlMs: HOUR });
    },
    minRetryMs: 60_000,
    maxRetryMs: 600_000,
    now: () => Date.now() + offset,
  });
  t.after(() => m.stop());
  await m.start();
  let s = m.status();
  assert.equal(s.ready, false);
  assert.equal(s.consecutiveFailures, 1);
  assert.match(s.lastError!, /identity service unavailable; retrying in/);
  assert.deepEqual(m.expiryGauge(), []);

  fail = false;
  assert.equal(await m.renewNow(), true);
  s = m.status();
  assert.equal(s.ready, true);
  assert.equal(s.consecutiveFailures, 0);
  const nb = s.notBefore!.getTime();
  const na = s.notAfter!.getTime();

  // Jump the clock: with 8% of the lifetime left the identity is flagged although the cert is still valid.
  offset = na - 0.08 * (na - nb) - Date.now();
  s = m.status();
  assert.equal(s.ready, false);
  assert.ok(m.current()!.notAfter.getTime() > Date.now() + offset, 'the cert itself has not expired yet');

  // Two retries' worth of time left also counts as "near expiry" even when that is more than 10% of the lifetime.
  fail = true;
  offset = nb + 0.6 * (na - nb) - Date.now();
  for (let i = 0; i < 3; i++) await m.renewNow(); // 3 failures: next retry base 60 s * 2^2 = 240 s, margin 480 s
  assert.equal(m.status().consecutiveFailures, 3);
  offset = na - 400_000 - Date.now();
  assert.equal(m.status().ready, false, '400 s left: more than 10% of 1 h (360 s) but less than two retries (480 s)');
  offset = na - 1_000_000 - Date.now();
  assert.equal(m.status().ready, true, '1000 s left is more than both margins');
  assert.equal(m.current()!.notAfter.getTime(), na, 'the failures kept the same certificate');
});

test('stop() cancels pending renewals', async (t) => {
  const ca = await CertificateAuthority.createInMemory();
  let calls = 0;
  const m = new RotationManager({
    mesh: 'file',
    identity: 'x',
    obtain: () => {
      calls++;
      return ca.issue({ spiffe: ID, ttlMs: 2000 });
    },
    minRetryMs: 50,
    maxRetryMs: 100,
  });
  t.after(() => m.stop());
  await m.start();
  m.stop();
  assert.equal(m.status().nextRenewalAt, undefined);
  const before = calls;
  await new Promise((r) => setTimeout(r, 1500)); // longer than the renewal point of a 2 s cert
  assert.equal(calls, before);
});

test('constructor rejects nonsense settings', () => {
  const obtain = async () => ({ chainPem: '', keyPem: '' });
  assert.throws(
    () => new RotationManager({ mesh: 'm', identity: 'i', obtain, renewAt: 1.5 }),
    /renewAt must be a fraction/,
  );
  assert.throws(
    () => new RotationManager({ mesh: 'm', identity: 'i', obtain, minRetryMs: 10, maxRetryMs: 5 }),
    /minRetryMs <= maxRetryMs/,
  );
});

test('validateCertMaterial: Istio-style chain with the root last is accepted and the root dropped', async () => {
  const { validateCertMaterial } = await import('./index.ts');
  const root = await CertificateAuthority.createInMemory();
  const inter = await root.issueIntermediate();
  const ica = await CertificateAuthority.load({ certPem: inter.certPem, keyPem: inter.keyPem, chainPem: root.certPem });
  const leaf = await ica.issue({ spiffe: ID, ttlMs: HOUR });
  const v = validateCertMaterial(
    { chainPem: leaf.chainPem + root.certPem, keyPem: leaf.keyPem },
    { trustBundle: [root.certPem], expectedSan: ID },
  );
  assert.equal(v.chainPem, leaf.chainPem, 'leaf + intermediate, root removed');
  assert.equal(v.san, ID);
  assert.equal(v.keyType, 'ec-p256');
  assert.throws(
    () => validateCertMaterial({ chainPem: leaf.certPem, keyPem: leaf.keyPem }, { trustBundle: root.certPem }),
    (e: unknown) =>
      e instanceof CertError &&
      e.code === 'CERT_REJECTED' &&
      /neither in the chain nor in the trust bundle/.test(e.message),
    'a missing intermediate is an unknown issuer',
  );
  assert.throws(() => validateCertMaterial({ chainPem: leaf.chainPem, keyPem: leaf.keyPem }), /no trust bundle/);
});
