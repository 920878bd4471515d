import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CertificateAuthority, createCsr, createRoot, parseCertsPem } from '@meshgate/certs';
import { type LinkerdError, redact } from './errors.ts';
import { checkIssuedCertificate, gatewayIdentityName, LinkerdIdentityClient } from './identity.ts';
import {
  decodeCertifyRequest,
  decodeCertifyResponse,
  encodeCertifyRequest,
  encodeCertifyResponse,
} from './identity-proto.ts';
import { parseTrustAnchors, trustAnchorsFromConfigMap } from './trust-anchors.ts';

const ID = 'gateway.edge.serviceaccount.identity.linkerd.cluster.local';
const DAY = 86_400_000;

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

describe('gatewayIdentityName', () => {
  test('builds the Linkerd name from the service account, namespace, control namespace and trust domain', () => {
    assert.equal(gatewayIdentityName({ serviceAccount: 'gateway', namespace: 'edge' }), ID);
    assert.equal(
      gatewayIdentityName({
        serviceAccount: 'gw',
        namespace: 'a',
        controlNamespace: 'l5d',
        trustDomain: 'example.org',
      }),
      'gw.a.serviceaccount.identity.l5d.example.org',
    );
  });
  test('a name that is no DNS label is a config error naming it', () => {
    assert.throws(
      () => gatewayIdentityName({ serviceAccount: 'Gate_way', namespace: 'edge' }),
      (e: LinkerdError) => e.code === 'CONFIG_INVALID' && /Gate_way/.test(e.message),
    );
  });
});

describe('Certify messages', () => {
  test('a request round-trips with its DER CSR and token bytes', () => {
    const req = { identity: ID, token: Buffer.from('tok'), certificateSigningRequest: new Uint8Array([0x30, 1, 2]) };
    const back = decodeCertifyRequest(encodeCertifyRequest(req));
    assert.equal(back.identity, ID);
    assert.deepEqual(Buffer.from(back.token), Buffer.from('tok'));
    assert.deepEqual(Buffer.from(back.certificateSigningRequest), Buffer.from([0x30, 1, 2]));
  });
  test('a response keeps the intermediates in order and valid_until to the millisecond', () => {
    const validUntil = new Date('2031-02-03T04:05:06.789Z');
    const res = {
      leafCertificate: new Uint8Array([1]),
      intermediateCertificates: [new Uint8Array([2]), new Uint8Array([3])],
      validUntil,
    };
    const back = decodeCertifyResponse(encodeCertifyResponse(res));
    assert.deepEqual([...back.leafCertificate], [1]);
    assert.deepEqual(
      back.intermediateCertificates.map((c) => [...c]),
      [[2], [3]],
    );
    assert.equal(back.validUntil?.toISOString(), validUntil.toISOString());
  });
});

describe('parseTrustAnchors', () => {
  let anchorPem: string;
  let rsaPem: string;
  let expiredPem: string;
  let leafPem: string;
  before(async () => {
    anchorPem = (await createRoot({ commonName: 'root.linkerd.cluster.local' })).certPem;
    rsaPem = (await createRoot({ keyType: 'rsa-2048' })).certPem;
    expiredPem = (await createRoot({ now: new Date(Date.now() - 10 * DAY), ttlMs: DAY })).certPem;
    const ca = await CertificateAuthority.createInMemory();
    leafPem = (await ca.issue({ dns: ID })).certPem;
  });

  const cases: { name: string; input: () => unknown; error?: RegExp }[] = [
    { name: 'one P-256 root', input: () => anchorPem },
    { name: 'two roots', input: () => anchorPem + anchorPem },
    { name: 'empty', input: () => '  \n', error: /is empty; put the PEM trust anchor/ },
    { name: 'not a string', input: () => undefined, error: /is empty/ },
    { name: 'garbage text', input: () => 'hello, not a certificate', error: /holds no "-----BEGIN CERTIFICATE-----"/ },
    {
      name: 'a PEM block that is not base64',
      input: () => '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n',
      error: /not base64/,
    },
    {
      name: 'a PEM block that is not X.509',
      input: () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      error: /certificate #1 is not a valid X.509/,
    },
    { name: 'an RSA root', input: () => rsaPem, error: /RSA 2048 key; Linkerd trust anchors are ECDSA P-256/ },
    { name: 'an expired root', input: () => expiredPem, error: /expired at .*rotate the Linkerd trust anchor/ },
    { name: 'a leaf, not a CA', input: () => leafPem, error: /is not a CA certificate/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const what = 'ConfigMap linkerd/linkerd-identity-trust-roots key ca-bundle.crt';
      if (!c.error) {
        const got = parseTrustAnchors(c.input());
        assert.ok(got.certs.length >= 1);
        assert.ok(got.pem.startsWith('-----BEGIN CERTIFICATE-----'));
        return;
      }
      assert.throws(
        () => parseTrustAnchors(c.input()),
        (e: LinkerdError) => e.code === 'TRUST_ANCHORS_INVALID' && e.message.includes(what) && c.error!.test(e.message),
      );
    });
  }

  test('a ConfigMap without ca-bundle.crt names the ConfigMap and the key', () => {
    assert.throws(
      () =>
        trustAnchorsFromConfigMap({ metadata: { namespace: 'l5d', name: 'linkerd-identity-trust-roots' }, data: {} }),
      /ConfigMap l5d\/linkerd-identity-trust-roots key ca-bundle.crt is missing/,
    );
    assert.equal(trustAnchorsFromConfigMap({ data: { 'ca-bundle.crt': anchorPem } }).certs.length, 1);
  });
});

describe('checkIssuedCertificate', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let anchors: X509Certificate[];
  let good: { leafPem: string; intermediatesPem: string[]; keyPem: string };
  const issued: Record<string, { leafPem: string; intermediatesPem: string[]; keyPem: string }> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshgate-linkerd-'));
    const root = await createRoot({ commonName: 'root.linkerd.cluster.local' });
    const rootCa = await CertificateAuthority.load(root);
    // As Linkerd deploys it: a root trust anchor and an issuer (intermediate) that signs the workload leaves.
    const issuer = await rootCa.issueIntermediate({ commonName: 'identity.linkerd.cluster.local' });
    ca = await CertificateAuthority.load({ certPem: issuer.certPem, keyPem: issuer.keyPem, bundlePem: root.certPem });
    otherCa = await CertificateAuthority.createInMemory({ commonName: 'root.linkerd.cluster.local' });
    anchors = parseCertsPem(root.certPem, 'anchor');
    const from = async (c: CertificateAuthority, o: Parameters<CertificateAuthority['issue']>[0]) => {
      const x = await c.issue(o);
      const certs = parseCertsPem(x.chainPem, 'chain');
      return { leafPem: x.certPem, intermediatesPem: certs.slice(1).map((k) => k.toString()), keyPem: x.keyPem };
    };
    good = await from(ca, { dns: ID });
    issued.otherName = await from(ca, { dns: 'other.edge.serviceaccount.identity.linkerd.cluster.local' });
    issued.uri = await from(ca, { spiffe: 'spiffe://cluster.local/ns/edge/sa/gateway' });
    issued.rsa = await from(ca, { dns: ID, keyType: 'rsa-2048' });
    issued.otherRoot = await from(otherCa, { dns: ID });
    issued.expired = await from(ca, { dns: ID, now: new Date(Date.now() - 3 * DAY), ttlMs: DAY });

    // Two SANs (the identity plus another name): only openssl writes that here.
    writeFileSync(join(dir, 'issuer.pem'), issuer.certPem);
    writeFileSync(join(dir, 'issuer.key'), issuer.keyPem);
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=DNS:${ID},DNS:evil.example.com\n`);
    const csr = await createCsr({ dns: ID });
    writeFileSync(join(dir, 'req.pem'), csr.csrPem);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'req.pem',
        '-CA',
        'issuer.pem',
        '-CAkey',
        'issuer.key',
        '-CAcreateserial',
        '-days',
        '1',
      ].concat(['-extfile', 'ext.cnf', '-out', 'two.pem']),
      dir,
    );
    issued.twoSans = {
      leafPem: spawnSync('cat', [join(dir, 'two.pem')], { encoding: 'utf8' }).stdout,
      intermediatesPem: good.intermediatesPem,
      keyPem: csr.keyPem,
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a leaf for exactly our identity, P-256, chained through the issuer to the anchor, is accepted', () => {
    const got = checkIssuedCertificate({ ...good, identity: ID, anchors });
    assert.equal(parseCertsPem(got.chainPem, 'chain').length, 2, 'leaf and issuer, not the anchor');
    assert.ok(got.notAfter.getTime() > Date.now());
  });

  const refused: { name: string; make: () => Parameters<typeof checkIssuedCertificate>[0]; error: RegExp }[] = [
    {
      name: 'another identity',
      make: () => ({ ...issued.otherName, identity: ID, anchors }),
      error: /SANs are \[DNS:other\.edge\..*\], expected exactly DNS:gateway\.edge\./,
    },
    {
      name: 'a URI SAN instead of the DNS name',
      make: () => ({ ...issued.uri, identity: ID, anchors }),
      error: /SANs are \[URI:spiffe:\/\/cluster\.local\/ns\/edge\/sa\/gateway\]/,
    },
    {
      name: 'the identity plus another name',
      make: () => ({ ...issued.twoSans, identity: ID, anchors }),
      error: /SANs are \[DNS:gateway\..*, DNS:evil\.example\.com\], expected exactly/,
    },
    { name: 'an RSA key', make: () => ({ ...issued.rsa, identity: ID, anchors }), error: /RSA 2048.*ECDSA P-256/ },
    {
      name: 'a chain to another root with the same name',
      make: () => ({ ...issued.otherRoot, identity: ID, anchors }),
      error: /does not chain to the Linkerd trust anchors/,
    },
    {
      name: 'the issuer missing from the response',
      make: () => ({ ...good, intermediatesPem: [], identity: ID, anchors }),
      error: /does not chain to the Linkerd trust anchors/,
    },
    {
      name: 'an expired leaf',
      make: () => ({ ...issued.expired, identity: ID, anchors }),
      error: /expired/,
    },
    {
      name: 'a leaf for another key than ours',
      make: () => ({ ...good, keyPem: issued.otherName.keyPem, identity: ID, anchors }),
      error: /not issued for the key of our request/,
    },
    {
      name: 'a leaf that is not X.509',
      make: () => ({ ...good, leafPem: 'junk', identity: ID, anchors }),
      error: /not a valid X.509/,
    },
  ];
  for (const c of refused) {
    test(`refused: ${c.name}`, () => {
      assert.throws(
        () => checkIssuedCertificate({ ...c.make(), from: 'the identity controller at 127.0.0.1:1' }),
        (e: LinkerdError) =>
          e.code === 'CERT_REJECTED' &&
          e.message.includes(`for "${ID}" from the identity controller at 127.0.0.1:1 was rejected`) &&
          c.error.test(e.message),
      );
    });
  }
});

describe('LinkerdIdentityClient', () => {
  test('an address that is not host:port is refused before any call', () => {
    assert.throws(
      () =>
        new LinkerdIdentityClient({
          serviceAccount: 'gateway',
          namespace: 'edge',
          address: 'http://linkerd-identity:8080',
          token: 'x',
          trustAnchorsPem: '',
        }),
      /is not host:port/,
    );
  });
  test('a missing token is reported without a call', async () => {
    const c = new LinkerdIdentityClient({
      serviceAccount: 'gateway',
      namespace: 'edge',
      address: '127.0.0.1:1',
      token: () => '',
      trustAnchorsPem: '',
    });
    await assert.rejects(
      c.certify(),
      (e: LinkerdError) => e.code === 'TOKEN_MISSING' && /edge\/gateway/.test(e.message),
    );
  });
  test('an unreachable controller is a clear error that never carries the token', async () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlc2lnbmF0dXJl';
    const c = new LinkerdIdentityClient({
      serviceAccount: 'gateway',
      namespace: 'edge',
      address: '127.0.0.1:1',
      token,
      trustAnchorsPem: (await createRoot()).certPem,
      transport: 'plaintext',
      timeoutMs: 2000,
    });
    try {
      await assert.rejects(
        c.certify(),
        (e: LinkerdError) =>
          e.code === 'CERTIFY_UNAVAILABLE' && /127\.0\.0\.1:1/.test(e.message) && !e.message.includes(token),
      );
    } finally {
      c.close();
    }
  });
  test('redact removes the token and anything shaped like a JWT', () => {
    assert.equal(redact('bad token abcdefgh1234 here', 'abcdefgh1234'), 'bad token <redacted> here');
    assert.equal(redact('got eyJhbGc.eyJzdWIi.sig ok'), 'got <redacted> ok');
  });
});
