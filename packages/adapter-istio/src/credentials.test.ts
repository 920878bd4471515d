// credentialName Secrets read as istiod reads them, with certificates from @meshgate/certs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthority } from '@meshgate/certs';
import { type IstioSecret, resolveCredential } from './credentials.ts';
import { destinationRuleCredentials } from './upstream.ts';

const ca = await CertificateAuthority.createInMemory({ commonName: 'upstream ca' });
const other = await CertificateAuthority.createInMemory({ commonName: 'other ca' });
const leaf = await ca.issue({ dns: 'gateway.example' });
const stranger = await ca.issue({ dns: 'stranger.example' });
const secrets = (...list: IstioSecret[]) => new Map(list.map((s) => [`${s.namespace}/${s.name}`, s]));
const secret = (name: string, data: Record<string, string>): IstioSecret => ({ namespace: 'gw', name, data });

test('a TLS Secret with ca.crt: identity and trust bundle under stable names', () => {
  const r = resolveCredential(
    'client',
    'gw',
    secrets(secret('client', { 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem, 'ca.crt': ca.certPem })),
  );
  assert.equal(r.identity?.name, 'istio/dr/gw/client');
  assert.equal(r.identity?.certChainPem, leaf.certPem);
  assert.deepEqual(r.trustBundle, { name: 'istio/dr/gw/client/ca', caPems: [ca.certPem], source: 'kubernetes' });
});

test('Istio precedence: cert/key before tls.crt/tls.key; the -cacert companion before the own CA; cacert before ca.crt', () => {
  const r = resolveCredential(
    'c',
    'gw',
    secrets(
      secret('c', {
        cert: leaf.certPem,
        key: leaf.keyPem,
        'tls.crt': stranger.certPem,
        'tls.key': stranger.keyPem,
        'ca.crt': other.certPem,
      }),
      secret('c-cacert', { cacert: ca.certPem, 'ca.crt': other.certPem }),
    ),
  );
  assert.equal(r.identity?.certChainPem, leaf.certPem);
  assert.deepEqual(r.trustBundle?.caPems, [ca.certPem]);
  // SIMPLE needs only the CA: the companion alone is enough.
  const onlyCa = resolveCredential('s', 'gw', secrets(secret('s-cacert', { 'ca.crt': ca.certPem })));
  assert.deepEqual(onlyCa.trustBundle?.caPems, [ca.certPem]);
  assert.match(String(onlyCa.certProblem), /Secret gw\/s does not exist/);
});

test('bad Secrets: clear problems naming the Secret and key, never their content', () => {
  const mismatched = resolveCredential(
    'm',
    'gw',
    secrets(secret('m', { 'tls.crt': leaf.certPem, 'tls.key': stranger.keyPem, 'ca.crt': 'not a pem' })),
  );
  assert.equal(mismatched.identity, undefined);
  assert.equal(mismatched.certProblem, 'Secret gw/m: tls.key is not the key of the certificate in tls.crt');
  assert.equal(mismatched.caProblem, 'Secret gw/m: ca.crt is not a PEM certificate');
  const noCa = resolveCredential('n', 'gw', secrets(secret('n', { 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem })));
  assert.ok(noCa.identity);
  assert.match(String(noCa.caProblem), /no CA certificate in Secret gw\/n: put it under ca\.crt/);
  const missing = resolveCredential('x', 'gw', secrets());
  assert.match(String(missing.caProblem), /neither Secret gw\/x nor gw\/x-cacert exists/);
  for (const p of [mismatched.certProblem, mismatched.caProblem, noCa.caProblem])
    assert.ok(!String(p).includes('BEGIN'), 'no PEM in messages');
});

test('destinationRuleCredentials: the Secrets SIMPLE/MUTUAL rules name, port level included', () => {
  const dr = (name: string, trafficPolicy: object) => ({ namespace: 'shop', name, spec: { host: 'x', trafficPolicy } });
  const m = destinationRuleCredentials([
    dr('a', { tls: { mode: 'SIMPLE', credentialName: 'ca-only' } }),
    dr('b', { portLevelSettings: [{ port: { number: 443 }, tls: { mode: 'MUTUAL', credentialName: 'client' } }] }),
    dr('c', { tls: { mode: 'SIMPLE', credentialName: 'client' } }),
    dr('d', { tls: { mode: 'ISTIO_MUTUAL', credentialName: 'ignored' } }),
    dr('e', { tls: { mode: 'SIMPLE', credentialName: 'kubernetes://cm' } }),
  ]);
  assert.deepEqual(Object.fromEntries(m), { 'ca-only': { mutual: false }, client: { mutual: true } });
});
