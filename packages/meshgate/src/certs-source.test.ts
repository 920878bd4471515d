import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { TYPE, XdsCache } from '@meshgate/xds-core';
import { CertsSource, parseCertsSection } from './certs-source.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { Pipeline } from './pipeline.ts';

test('the certs section is checked with messages naming the key', () => {
  const r = parseCertsSection({
    dir: '/x',
    identities: [
      { name: 'a', spiffe: 'spiffe://e/a', dns: 'a' },
      { name: 'b', dns: 'b', ttl: '5' },
    ],
    bogus: 1,
  });
  assert.equal(r.settings, undefined);
  const text = r.errors.map((e) => e.message).join('\n');
  assert.match(text, /certs\.bogus: unknown key "bogus"/);
  assert.match(text, /certs\.identities\[0\]: set only one of spiffe, dns/);
  assert.match(text, /certs\.identities\[1\]\.ttl: expected a duration such as .*1h30m.*, got "5"/);
  const nodes = parseCertsSection({
    dir: '/x',
    identities: [
      { name: 'a', spiffe: 'spiffe://e/a', allowedNodes: ['spiffe://e/gw', 'dns:', 'gw-1'] },
      { name: 'b', dns: 'b', allowedNodes: 'gw-1' },
    ],
  });
  assert.deepEqual(
    nodes.errors.map((e) => e.message),
    [
      'certs.identities[0].allowedNodes[1]: "dns:": write the DNS SAN after dns:, e.g. dns:gateway.example.org',
      'certs.identities[1].allowedNodes: expected a list of entries: spiffe://..., dns:<name>, or a node id or cluster, got "gw-1"',
    ],
  );
});

test('built-in CA identities are served as Secrets under a stable name and renewed from their lifetime', {
  timeout: 30_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { settings } = parseCertsSection({
    dir,
    identities: [{ name: 'mesh/meshgate/gateway', spiffe: 'spiffe://example.org/gateway', ttl: '4s' }],
  });
  const cache = new XdsCache();
  const metrics = createMetrics(() => 0);
  const pipeline = new Pipeline({
    sources: [new CertsSource(settings!, createLogger('silent'))],
    cache,
    logger: createLogger('silent'),
    metrics,
    debounceMs: 5,
    maxDelayMs: 20,
  });
  t.after(() => pipeline.stop());
  await pipeline.start();
  await pipeline.idle();
  assert.equal(cache.ready, true);
  const first = cache.get('envoy', TYPE.secret, 'mesh/meshgate/gateway')!;
  assert.ok(first, 'identity secret published');
  assert.ok(cache.get('envoy', TYPE.secret, 'mesh/meshgate/roots'), 'CA bundle published');
  const pem = (first.object as any).tls_certificate.certificate_chain.inline_string as string;
  assert.match(new X509Certificate(pem).subjectAltName ?? '', /spiffe:\/\/example\.org\/gateway/);
  assert.ok((metrics.certExpiry.get({ mesh: 'meshgate', identity: 'mesh/meshgate/gateway' }) ?? 0) > Date.now() / 1000);
  // A 4 s certificate is renewed at about half its life: a new Secret version under the same name.
  const deadline = Date.now() + 10_000;
  while (cache.get('envoy', TYPE.secret, 'mesh/meshgate/gateway')!.version === first.version && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  assert.notEqual(
    cache.get('envoy', TYPE.secret, 'mesh/meshgate/gateway')!.version,
    first.version,
    'certificate was not renewed',
  );
  assert.equal(pipeline.readiness().ready, true);
});
