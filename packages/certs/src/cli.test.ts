import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertError, CertificateAuthority, certsInitCa, certsInspect, certsIssue, createCsr } from './index.ts';
import { openssl, tempDir } from './test-helpers.ts';

const SPIFFE = 'spiffe://example.org/ns/default/sa/gw';

test('certs issue --spiffe: output verifies with openssl, one exact URI SAN, EC P-256, key 0600', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const text = await certsIssue({ spiffe: SPIFFE, out, ca: join(dir, 'ca') });
  assert.match(text, /No CA found in .*ca: created a new root CA there/);
  assert.match(text, /Issued URI SAN spiffe:\/\/example\.org\/ns\/default\/sa\/gw \(EC P-256\)/);

  const v = openssl(['verify', '-CAfile', join(out, 'ca.pem'), join(out, 'cert.pem')]);
  assert.equal(v.status, 0, v.stderr);
  const ext = openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', join(out, 'cert.pem')]);
  assert.equal(ext.status, 0, ext.stderr);
  const sanLines = ext.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter(Boolean);
  assert.deepEqual(sanLines, [`URI:${SPIFFE}`]);
  const txt = openssl(['x509', '-noout', '-text', '-in', join(out, 'cert.pem')]).stdout;
  assert.match(txt, /Public Key Algorithm: id-ecPublicKey/);
  assert.match(txt, /ASN1 OID: prime256v1/);
  const key = await readFile(join(out, 'key.pem'), 'utf8');
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8');
  assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
  assert.ok(
    new X509Certificate(await readFile(join(out, 'cert.pem'))).checkPrivateKey(
      (await import('node:crypto')).createPrivateKey(key),
    ),
  );

  // A second issue reuses the CA.
  const again = await certsIssue({ spiffe: SPIFFE, out: join(dir, 'out2'), ca: join(dir, 'ca') });
  assert.match(again, /Using the CA in/);
  assert.equal(await readFile(join(dir, 'out2', 'ca.pem'), 'utf8'), await readFile(join(out, 'ca.pem'), 'utf8'));
});

test('certs issue --dns gives exactly one DNS SAN; --key-type rsa-2048 and --ttl are honoured', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const name = 'gw.ingress.serviceaccount.identity.linkerd.cluster.local';
  await certsIssue({ dns: name, out, ca: join(dir, 'ca'), keyType: 'rsa-2048', ttl: '90m' });
  const ext = openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', join(out, 'cert.pem')]).stdout;
  assert.deepEqual(
    ext
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean),
    [`DNS:${name}`],
  );
  const txt = openssl(['x509', '-noout', '-text', '-in', join(out, 'cert.pem')]).stdout;
  assert.match(txt, /Public-Key: \(2048 bit\)/);
  assert.match(txt, /rsaEncryption/);
  const c = new X509Certificate(await readFile(join(out, 'cert.pem')));
  const life = c.validToDate.getTime() - c.validFromDate.getTime();
  assert.ok(life >= 90 * 60_000 && life <= 92 * 60_000, `lifetime ${life} ms`);
  assert.equal(openssl(['verify', '-CAfile', join(out, 'ca.pem'), join(out, 'cert.pem')]).status, 0);
});

test('certs issue with no --ca creates ./meshgate-ca and says so', async (t) => {
  const dir = await tempDir(t);
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  const text = await certsIssue({ spiffe: SPIFFE, out: 'out' });
  assert.match(text, /created a new root CA there/);
  assert.ok((await stat(join(dir, 'meshgate-ca', 'ca-key.pem'))).isFile());
  assert.equal(
    openssl(['verify', '-CAfile', join(dir, 'meshgate-ca', 'ca.pem'), join(dir, 'out', 'cert.pem')]).status,
    0,
  );
});

test('certs issue refuses bad input with stable codes', async (t) => {
  const dir = await tempDir(t);
  const base = { out: join(dir, 'o'), ca: join(dir, 'ca') };
  const code = (c: string, re: RegExp) => (e: unknown) => e instanceof CertError && e.code === c && re.test(e.message);
  await assert.rejects(certsIssue({ ...base }), code('SAN_REQUIRED', /--spiffe .* or --dns/));
  await assert.rejects(certsIssue({ ...base, spiffe: SPIFFE, dns: 'a.example' }), code('SAN_REQUIRED', /not both/));
  await assert.rejects(
    certsIssue({ ...base, spiffe: 'spiffe://example.org/ns//x' }),
    code('SPIFFE_INVALID', /empty segment/),
  );
  await assert.rejects(
    certsIssue({ ...base, spiffe: SPIFFE, ttl: '1 day' }),
    code('DURATION_INVALID', /--ttl "1 day".*24h/),
  );
  await assert.rejects(
    certsIssue({ ...base, spiffe: SPIFFE, keyType: 'ed25519' }),
    code('KEY_TYPE_INVALID', /--key-type "ed25519"/),
  );
  await writeFile(join(dir, 'file'), 'x');
  await assert.rejects(
    certsIssue({ spiffe: SPIFFE, ca: join(dir, 'ca'), out: join(dir, 'file', 'sub') }),
    code('IO_FAILED', /choose a writable --out/),
  );
});

test('certs init-ca creates once and then keeps the CA', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  const first = await certsInitCa({ out: dir, trustDomain: 'example.org' });
  assert.match(first, /Created a new root CA/);
  assert.match(first, /Key:\s+EC P-256/);
  const pem = await readFile(join(dir, 'ca.pem'), 'utf8');
  const second = await certsInitCa({ out: dir });
  assert.match(second, /already exists .* kept it/);
  assert.equal(await readFile(join(dir, 'ca.pem'), 'utf8'), pem);
  assert.match(
    openssl(['x509', '-noout', '-text', '-in', join(dir, 'ca.pem')]).stdout,
    /CA:TRUE[\s\S]*Certificate Sign/,
  );
});

test('certs inspect: fields, chain order, and no key material', async (t) => {
  const dir = await tempDir(t);
  const root = await CertificateAuthority.createInMemory();
  const inter = await root.issueIntermediate({ commonName: 'mid' });
  const ica = await CertificateAuthority.load({ certPem: inter.certPem, keyPem: inter.keyPem, chainPem: root.certPem });
  const leaf = await ica.issue({ spiffe: SPIFFE });
  await writeFile(join(dir, 'chain.pem'), leaf.chainPem + root.certPem + leaf.keyPem);
  const text = await certsInspect(join(dir, 'chain.pem'));
  assert.match(
    text,
    /Certificate 1 of 3\n {2}Subject: {2}\(empty\)\n {2}SANs: {5}URI:spiffe:\/\/example\.org\/ns\/default\/sa\/gw\n {2}Key: {6}EC P-256/,
  );
  assert.match(text, /Validity: .* \(expires in 23h59m\d*s?\)|Validity: .* \(expires in 1d\)/);
  assert.match(text, /Issuer: {3}CN=mid/);
  assert.match(text, new RegExp(`Serial:   ${new X509Certificate(leaf.certPem).serialNumber}`));
  assert.match(text, /1 -> 2: issued by the next certificate \(signature verifies\)/);
  assert.match(text, /2 -> 3: issued by the next certificate/);
  assert.match(text, /3: self-signed root, end of chain/);
  assert.match(text, /\(1 private key block in the file, not shown\)/);
  for (const line of leaf.keyPem.split('\n').slice(1, -2))
    assert.ok(!text.includes(line), 'no key bytes in the output');

  // Wrong order is called out.
  await writeFile(join(dir, 'wrong.pem'), root.certPem + leaf.certPem);
  assert.match(
    await certsInspect(join(dir, 'wrong.pem')),
    /1 -> 2: NOT issued by the next certificate .* fix the order/,
  );

  // DER CSR (what Linkerd's Certify carries).
  const csr = await createCsr({ dns: 'gw.ingress.serviceaccount.identity.linkerd.cluster.local' });
  await writeFile(join(dir, 'req.der'), csr.csrDer);
  assert.match(
    await certsInspect(join(dir, 'req.der')),
    /Certificate request 1\n {2}Subject: {2}CN=gw\.ingress[\s\S]*SANs: {5}DNS:gw\.ingress/,
  );

  await assert.rejects(
    certsInspect(join(dir, 'nope.pem')),
    (e: unknown) => e instanceof CertError && /nope\.pem/.test(e.message),
  );
});
