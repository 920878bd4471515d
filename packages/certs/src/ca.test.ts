import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertError, CertificateAuthority, createCsr, createRoot, sansOf, verifyChain } from './index.ts';
import { openssl, tempDir, writeFiles } from './test-helpers.ts';

const SPIFFE = 'spiffe://example.org/ns/default/sa/gw';
const HOUR = 3_600_000;

function isCertError(code: string, re?: RegExp) {
  return (e: unknown) => e instanceof CertError && e.code === code && (re === undefined || re.test(e.message));
}

test('root-signed leaf verifies with openssl and has the leaf profile', async (t) => {
  const dir = await tempDir(t);
  const ca = await CertificateAuthority.createInMemory({ trustDomain: 'example.org' });
  const before = Date.now();
  const leaf = await ca.issue({ spiffe: SPIFFE, ttlMs: 2 * HOUR });
  await writeFiles(dir, { 'ca.pem': leaf.bundlePem, 'cert.pem': leaf.chainPem });
  const v = openssl(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'cert.pem')]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /cert\.pem: OK/);

  assert.equal(
    leaf.chainPem,
    leaf.certPem,
    'a root-signed leaf has no intermediates, and the root is never in the chain',
  );
  const c = new X509Certificate(leaf.certPem);
  assert.equal(c.subjectAltName, `URI:${SPIFFE}`);
  assert.equal(c.ca, false);
  assert.deepEqual(c.keyUsage.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const text = openssl(['x509', '-noout', '-text', '-in', join(dir, 'cert.pem')]).stdout;
  assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
  assert.match(text, /Subject Key Identifier/);
  assert.match(text, /Authority Key Identifier/);
  assert.match(text, /ASN1 OID: prime256v1/);
  // Positive 128-bit serial: 16 bytes, top bit clear.
  assert.equal(c.serialNumber.length, 32);
  assert.ok(parseInt(c.serialNumber.slice(0, 2), 16) < 0x80);
  // Backdated about a minute for clock skew; NotAfter = now + ttl (second precision).
  assert.ok(before - c.validFromDate.getTime() >= 59_000 && before - c.validFromDate.getTime() <= 62_000);
  assert.ok(Math.abs(c.validToDate.getTime() - (before + 2 * HOUR)) < 5_000);
  assert.equal(createPrivateKey(leaf.keyPem).asymmetricKeyType, 'ec');
  assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----/);
});

test('intermediate-signed leaf (CA loaded as intermediate) verifies with openssl -untrusted', async (t) => {
  const dir = await tempDir(t);
  const root = await CertificateAuthority.createInMemory();
  const inter = await root.issueIntermediate({ commonName: 'meshgate test intermediate' });
  const ica = await CertificateAuthority.load({ certPem: inter.certPem, keyPem: inter.keyPem, chainPem: root.certPem });
  assert.equal(ica.bundlePem, root.certPem);
  const leaf = await ica.issue({ dns: 'web.default.serviceaccount.identity.linkerd.cluster.local' });
  const certs = leaf.chainPem.match(/BEGIN CERTIFICATE/g) ?? [];
  assert.equal(certs.length, 2, 'chain = leaf + intermediate, no root');
  await writeFiles(dir, {
    'ca.pem': leaf.bundlePem,
    'leaf.pem': leaf.certPem,
    'inter.pem': leaf.chainPem.slice(leaf.certPem.length),
  });
  const v = openssl([
    'verify',
    '-CAfile',
    join(dir, 'ca.pem'),
    '-untrusted',
    join(dir, 'inter.pem'),
    join(dir, 'leaf.pem'),
  ]);
  assert.equal(v.status, 0, v.stderr);
  // Without the intermediate the leaf must not verify (proves the chain is really used).
  assert.notEqual(openssl(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]).status, 0);
  assert.equal(verifyChain(leaf.certPem, [leaf.chainPem.slice(leaf.certPem.length)], leaf.bundlePem).ok, true);

  // Two levels of intermediates.
  const inter2 = await ica.issueIntermediate({ commonName: 'second level' });
  const ica2 = await CertificateAuthority.load({
    certPem: inter2.certPem,
    keyPem: inter2.keyPem,
    chainPem: inter2.chainPem.slice(inter2.certPem.length) + root.certPem,
  });
  const leaf2 = await ica2.issue({ spiffe: SPIFFE, keyType: 'rsa-2048' });
  await writeFiles(dir, { 'leaf2.pem': leaf2.certPem, 'inter2.pem': leaf2.chainPem.slice(leaf2.certPem.length) });
  assert.equal(
    openssl(['verify', '-CAfile', join(dir, 'ca.pem'), '-untrusted', join(dir, 'inter2.pem'), join(dir, 'leaf2.pem')])
      .status,
    0,
  );
  assert.match(
    openssl(['x509', '-noout', '-text', '-in', join(dir, 'leaf2.pem')]).stdout,
    /Digital Signature, Key Encipherment/,
  );
});

test('NotAfter is clamped to the issuer chain', async () => {
  const root = await CertificateAuthority.createInMemory({ ttlMs: HOUR });
  const leaf = await root.issue({ spiffe: SPIFFE, ttlMs: 24 * HOUR });
  assert.equal(leaf.notAfter.getTime(), root.notAfter.getTime());
  const inter = await root.issueIntermediate({ ttlMs: 365 * 24 * HOUR });
  assert.equal(new X509Certificate(inter.certPem).validToDate.getTime(), root.notAfter.getTime());
});

test('loadOrCreate keeps the root across restarts with a 0600 key', async (t) => {
  const dir = join(await tempDir(t), 'state');
  const first = await CertificateAuthority.loadOrCreate(dir, { trustDomain: 'example.org' });
  assert.equal(first.created, true);
  assert.equal((await stat(join(dir, 'ca-key.pem'))).mode & 0o777, 0o600);
  const second = await CertificateAuthority.loadOrCreate(dir);
  assert.equal(second.created, false);
  assert.equal(second.certPem, first.certPem);
  const leaf = await second.issue({ spiffe: SPIFFE });
  assert.equal(verifyChain(leaf.chainPem, [], first.bundlePem).ok, true);
});

test('loading a CA checks key match, CA-ness and validity, naming the file and the fix', async (t) => {
  const dir = await tempDir(t);
  const a = await createRoot();
  const b = await createRoot();
  const ca = await CertificateAuthority.createInMemory();
  const leaf = await ca.issue({ spiffe: SPIFFE });
  const old = await createRoot({ now: new Date(Date.now() - 48 * HOUR), ttlMs: HOUR });
  await writeFiles(dir, {
    'a.pem': a.certPem,
    'b-key.pem': b.keyPem,
    'leaf.pem': leaf.certPem,
    'leaf-key.pem': leaf.keyPem,
    'old.pem': old.certPem,
    'old-key.pem': old.keyPem,
  });

  await assert.rejects(
    CertificateAuthority.loadFiles({ certFile: join(dir, 'a.pem'), keyFile: join(dir, 'b-key.pem') }),
    isCertError(
      'CA_KEY_MISMATCH',
      new RegExp(`${join(dir, 'b-key.pem')} does not belong to the certificate in ${join(dir, 'a.pem')}`),
    ),
  );
  await assert.rejects(
    CertificateAuthority.loadFiles({ certFile: join(dir, 'leaf.pem'), keyFile: join(dir, 'leaf-key.pem') }),
    isCertError(
      'CA_NOT_CA',
      /leaf\.pem .* is not a CA certificate: it needs basicConstraints cA=true and keyUsage keyCertSign/,
    ),
  );
  await assert.rejects(
    CertificateAuthority.loadFiles({ certFile: join(dir, 'old.pem'), keyFile: join(dir, 'old-key.pem') }),
    isCertError('CA_EXPIRED', /old\.pem .* expired at .*renew the CA certificate/),
  );
  await assert.rejects(
    CertificateAuthority.loadFiles({ certFile: join(dir, 'missing.pem'), keyFile: join(dir, 'b-key.pem') }),
    isCertError('CA_FILE_MISSING', /missing\.pem does not exist/),
  );
  // An intermediate without its root cannot publish a trust bundle.
  const inter = await ca.issueIntermediate();
  await assert.rejects(
    CertificateAuthority.load({ certPem: inter.certPem, keyPem: inter.keyPem }),
    isCertError('CA_CHAIN_INVALID', /no root was given/),
  );
  // An intermediate with the wrong root.
  await assert.rejects(
    CertificateAuthority.load({ certPem: inter.certPem, keyPem: inter.keyPem, chainPem: a.certPem }),
    isCertError('CA_CHAIN_INVALID', /does not chain to its root: .*different key of the same name/),
  );

  // Half a state directory is refused rather than silently replaced.
  const half = join(dir, 'half');
  await CertificateAuthority.loadOrCreate(half);
  await rm(join(half, 'ca.pem'));
  await assert.rejects(
    CertificateAuthority.loadOrCreate(half),
    isCertError('CA_FILE_MISSING', /ca\.pem is missing but .*ca-key\.pem exists/),
  );

  // Keys never appear in errors.
  const keyBody = b.keyPem.split('\n')[1];
  try {
    await CertificateAuthority.loadFiles({ certFile: join(dir, 'a.pem'), keyFile: join(dir, 'b-key.pem') });
  } catch (err) {
    assert.ok(!(err as Error).message.includes(keyBody));
  }
  await assert.rejects(
    CertificateAuthority.load({ certPem: a.certPem, keyPem: 'garbage' }),
    isCertError('CA_KEY_INVALID'),
  );
});

test('issue requires exactly one valid identity', async () => {
  const ca = await CertificateAuthority.createInMemory();
  await assert.rejects(ca.issue({}), isCertError('SAN_REQUIRED'));
  await assert.rejects(ca.issue({ spiffe: SPIFFE, dns: 'a.example' }), isCertError('SAN_REQUIRED', /not both/));
  await assert.rejects(ca.issue({ spiffe: 'spiffe://Example.org/x' }), isCertError('SPIFFE_INVALID'));
  await assert.rejects(ca.issue({ dns: 'bad_name.example' }), isCertError('DNS_NAME_INVALID'));
  await assert.rejects(
    ca.issue({ dns: 'a.example', keyType: 'ed25519' as never }),
    isCertError('KEY_TYPE_INVALID', /ec-p256.*rsa-2048/),
  );
});

test('CSR in PEM and DER parses and verifies with openssl; signCsr issues exactly the requested SAN', async (t) => {
  const dir = await tempDir(t);
  const ca = await CertificateAuthority.createInMemory();
  const linkerd = 'gw.ingress.serviceaccount.identity.linkerd.cluster.local';
  const csr = await createCsr({ dns: linkerd });
  await writeFiles(dir, { 'req.der': csr.csrDer, 'req.pem': csr.csrPem });
  const der = openssl(['req', '-inform', 'DER', '-in', join(dir, 'req.der'), '-noout', '-verify', '-text']);
  assert.equal(der.status, 0, der.stderr);
  assert.match(der.stdout + der.stderr, /verify OK|Certificate request self-signature verify OK/);
  assert.match(der.stdout, new RegExp(`DNS:${linkerd.replace(/\./g, '\\.')}`));
  assert.match(der.stdout, /Subject: CN ?= ?gw\.ingress/);
  assert.equal(openssl(['req', '-in', join(dir, 'req.pem'), '-noout', '-verify']).status, 0);

  const signed = await ca.signCsr(csr.csrDer, { allowedSans: [linkerd], ttlMs: HOUR });
  const c = new X509Certificate(signed.certPem);
  assert.equal(c.subjectAltName, `DNS:${linkerd}`);
  assert.ok(c.checkPrivateKey(createPrivateKey(csr.keyPem)), 'the cert carries the CSR key');
  assert.equal(verifyChain(signed.chainPem, [], ca.bundlePem, { expectedSan: linkerd }).ok, true);

  const spiffeCsr = await createCsr({ spiffe: SPIFFE, keyType: 'rsa-2048' });
  const s2 = await ca.signCsr(spiffeCsr.csrPem, {
    allowedSans: (san) => san.startsWith('spiffe://example.org/ns/default/'),
    ttlMs: HOUR,
  });
  assert.deepEqual(sansOf(new X509Certificate(s2.certPem)), { uris: [SPIFFE], dns: [], other: [] });
});

test('signCsr refuses disallowed, multiple, malformed and tampered SANs, saying which and why', async (t) => {
  const dir = await tempDir(t);
  const ca = await CertificateAuthority.createInMemory();
  const csr = await createCsr({ spiffe: SPIFFE });
  await assert.rejects(
    ca.signCsr(csr.csrPem, { allowedSans: ['spiffe://example.org/ns/default/sa/other'], ttlMs: HOUR }),
    isCertError(
      'CSR_SAN_NOT_ALLOWED',
      /CSR SAN "spiffe:\/\/example\.org\/ns\/default\/sa\/gw" is not allowed .*allowed: spiffe:\/\/example\.org\/ns\/default\/sa\/other/,
    ),
  );
  await assert.rejects(
    ca.signCsr(csr.csrPem, { allowedSans: () => false }),
    isCertError('CSR_SAN_NOT_ALLOWED', /predicate/),
  );

  // Tampering with the SAN after signing breaks the CSR signature.
  const tampered = Buffer.from(csr.csrDer);
  const at = tampered.indexOf(Buffer.from('sa/gw'));
  tampered[at + 4] = 'x'.charCodeAt(0);
  await assert.rejects(ca.signCsr(tampered, { allowedSans: () => true }), isCertError('CSR_SIGNATURE_INVALID'));

  // A CSR with two SANs and one with a non-SPIFFE URI, built with openssl so they come from outside this package.
  await writeFile(join(dir, 'k.pem'), (await createCsr({ dns: 'x.example' })).keyPem);
  const two = openssl([
    'req',
    '-new',
    '-key',
    join(dir, 'k.pem'),
    '-subj',
    '/CN=x',
    '-addext',
    `subjectAltName=URI:${SPIFFE},DNS:x.example`,
  ]);
  assert.equal(two.status, 0, two.stderr);
  await assert.rejects(
    ca.signCsr(two.stdout, { allowedSans: () => true }),
    isCertError('CSR_SAN_COUNT', /2 SANs \(url:spiffe:\/\/example\.org\/ns\/default\/sa\/gw, dns:x\.example\)/),
  );
  const none = openssl(['req', '-new', '-key', join(dir, 'k.pem'), '-subj', '/CN=x']);
  await assert.rejects(
    ca.signCsr(none.stdout, { allowedSans: () => true }),
    isCertError('CSR_SAN_COUNT', /no subject alternative name/),
  );
  const http = openssl([
    'req',
    '-new',
    '-key',
    join(dir, 'k.pem'),
    '-subj',
    '/CN=x',
    '-addext',
    'subjectAltName=URI:https://example.org/x',
  ]);
  await assert.rejects(
    ca.signCsr(http.stdout, { allowedSans: () => true }),
    isCertError('CSR_SAN_INVALID', /CSR SAN "https:\/\/example\.org\/x" is refused/),
  );
  const ip = openssl([
    'req',
    '-new',
    '-key',
    join(dir, 'k.pem'),
    '-subj',
    '/CN=x',
    '-addext',
    'subjectAltName=IP:10.0.0.1',
  ]);
  await assert.rejects(
    ca.signCsr(ip.stdout, { allowedSans: () => true }),
    isCertError('CSR_SAN_INVALID', /only URI \(SPIFFE\) and DNS/),
  );
  await assert.rejects(ca.signCsr('not a csr', { allowedSans: () => true }), isCertError('CSR_INVALID'));
  // Linkerd-style policy: EC keys only.
  const rsa = await createCsr({ dns: 'x.example', keyType: 'rsa-2048' });
  await assert.rejects(
    ca.signCsr(rsa.csrDer, { allowedSans: () => true, keyTypes: ['ec-p256'] }),
    isCertError('CSR_KEY_UNSUPPORTED', /RSA 2048 key; this CA signs only ec-p256/),
  );
});

test('verifyChain gives a clear reason for each failure', async () => {
  const ca = await CertificateAuthority.createInMemory();
  const other = await CertificateAuthority.createInMemory();
  const leaf = await ca.issue({ spiffe: SPIFFE, ttlMs: HOUR });
  const ok = verifyChain(leaf.certPem, [], ca.bundlePem, { expectedSan: SPIFFE });
  assert.equal(ok.ok, true);

  const reason = (r: ReturnType<typeof verifyChain>) => (r.ok ? 'ok' : r.reason);
  assert.equal(reason(verifyChain(leaf.certPem, [], ca.bundlePem, { at: new Date(Date.now() + 2 * HOUR) })), 'expired');
  assert.equal(
    reason(verifyChain(leaf.certPem, [], ca.bundlePem, { at: new Date(Date.now() - 2 * HOUR) })),
    'not-yet-valid',
  );
  assert.equal(
    reason(verifyChain(leaf.certPem, [], other.bundlePem)),
    'signature-invalid',
    'same CA name, different key',
  );
  const named = await CertificateAuthority.createInMemory({ commonName: 'another CA' });
  const r = verifyChain(leaf.certPem, [], named.bundlePem);
  assert.equal(reason(r), 'unknown-issuer');
  assert.match(r.ok ? '' : r.message, /neither in the chain nor in the trust bundle/);
  const mismatch = verifyChain(leaf.certPem, [], ca.bundlePem, {
    expectedSan: 'spiffe://example.org/ns/default/sa/other',
  });
  assert.equal(reason(mismatch), 'san-mismatch');
  assert.match(
    mismatch.ok ? '' : mismatch.message,
    /\[spiffe:\/\/example\.org\/ns\/default\/sa\/gw\] do not include the expected "spiffe:\/\/example\.org\/ns\/default\/sa\/other"/,
  );

  assert.equal(reason(verifyChain('garbage', [], ca.bundlePem)), 'malformed');
});

test('verifyChain reports "not a CA" when a leaf signed another certificate', async (t) => {
  const dir = await tempDir(t);
  const ca = await CertificateAuthority.createInMemory();
  const leaf = await ca.issue({ dns: 'leaf.example' });
  await writeFiles(dir, {
    'leaf.pem': leaf.certPem,
    'leaf-key.pem': leaf.keyPem,
    'k.pem': (await createCsr({ dns: 'x.example' })).keyPem,
  });
  const csr = openssl(['req', '-new', '-key', join(dir, 'k.pem'), '-subj', '/CN=victim']);
  await writeFile(join(dir, 'v.csr'), csr.stdout);
  const forged = openssl([
    'x509',
    '-req',
    '-in',
    join(dir, 'v.csr'),
    '-CA',
    join(dir, 'leaf.pem'),
    '-CAkey',
    join(dir, 'leaf-key.pem'),
    '-days',
    '1',
    '-set_serial',
    '7',
  ]);
  assert.equal(forged.status, 0, forged.stderr);
  const r = verifyChain(forged.stdout, [leaf.certPem], ca.bundlePem);
  assert.equal(r.ok ? 'ok' : r.reason, 'not-a-ca');
  assert.match(r.ok ? '' : r.message, /leaf\.example.*is not a CA/);
  // readFile keeps the test honest about what is on disk.
  assert.match(await readFile(join(dir, 'leaf.pem'), 'utf8'), /BEGIN CERTIFICATE/);
});

test('loads CAs made by openssl (PKCS#1 RSA key, SEC1 EC key with a parameters block) and signs verifiable leaves', async (t) => {
  const dir = await tempDir(t);
  const run = (args: string[]) => {
    const r = openssl(args);
    assert.equal(r.status, 0, r.stderr);
  };
  run(['genrsa', '-traditional', '-out', join(dir, 'rsa.key'), '2048']);
  run([
    'req',
    '-x509',
    '-new',
    '-key',
    join(dir, 'rsa.key'),
    '-subj',
    '/C=US/O=Example Org/CN=Ext Root',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    join(dir, 'rsa.pem'),
  ]);
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-out', join(dir, 'ec.key')]);
  run([
    'req',
    '-x509',
    '-new',
    '-key',
    join(dir, 'ec.key'),
    '-subj',
    '/CN=Ext EC Root',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
    '-out',
    join(dir, 'ec.pem'),
  ]);
  for (const n of ['rsa', 'ec']) {
    const ca = await CertificateAuthority.loadFiles({
      certFile: join(dir, `${n}.pem`),
      keyFile: join(dir, `${n}.key`),
    });
    const leaf = await ca.issue({ spiffe: SPIFFE });
    await writeFile(join(dir, `${n}-leaf.pem`), leaf.chainPem);
    const v = openssl(['verify', '-CAfile', join(dir, `${n}.pem`), join(dir, `${n}-leaf.pem`)]);
    assert.equal(v.status, 0, `${n}: ${v.stderr}`);
  }
  // A CA certificate without keyCertSign is refused even with cA=true.
  run([
    'req',
    '-x509',
    '-new',
    '-key',
    join(dir, 'ec.key'),
    '-subj',
    '/CN=No Sign',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,digitalSignature',
    '-out',
    join(dir, 'nosign.pem'),
  ]);
  await assert.rejects(
    CertificateAuthority.loadFiles({ certFile: join(dir, 'nosign.pem'), keyFile: join(dir, 'ec.key') }),
    isCertError('CA_NOT_CA'),
  );
});
