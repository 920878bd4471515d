// Secrets with key material by default: only to clients whose certificate the xDS port verified; trust bundles to
// everyone; a refusal is visible (nodes(), one log line) and never carries the Secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { TYPE, type Logger } from './types.ts';
import { secretHoldsKey, UNAUTHENTICATED_REFUSAL } from './secret-access.ts';
import { parseSubjectAltName } from './peer.ts';
import { eventually, names, secret, startServer } from './test-helpers.ts';
import type { AdsClient } from './testing/ads-client.ts';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

/** Byte strings any encoding of the key would contain: the PEM, its first base64 line, the DER, the raw scalar. */
const NEEDLES: Buffer[] = [
  Buffer.from(KEY_PEM),
  Buffer.from(KEY_PEM.split('\n')[1]),
  privateKey.export({ type: 'pkcs8', format: 'der' }),
  Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'),
];
const leaks = (bufs: Buffer[]) => bufs.filter((b) => NEEDLES.some((n) => b.includes(n))).length;

function identity(name: string): object {
  return {
    name,
    tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: KEY_PEM } },
  };
}

const SECRETS = new Map([
  ['mesh/gw', identity('mesh/gw')],
  ['mesh/roots', secret('mesh/roots', 'ROOTS')],
]);

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const put = (obj: object, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  const logger: Logger = { debug: put, info: put, warn: put, error: put, child: () => logger };
  return { logger, lines };
}

test('secretHoldsKey: only a validation context (trust bundle) is public; anything else counts as key material', () => {
  assert.equal(secretHoldsKey(secret('roots')), false);
  assert.equal(secretHoldsKey({ name: 'x' }), false);
  assert.equal(secretHoldsKey(identity('x')), true);
  assert.equal(secretHoldsKey({ name: 'x', session_ticket_keys: { keys: [] } }), true);
  assert.equal(secretHoldsKey({ name: 'x', generic_secret: { secret: { inline_string: 's' } } }), true);
  assert.equal(secretHoldsKey({ name: 'x', something_new: {} }), true, 'an unknown field is not assumed public');
});

test('parseSubjectAltName decodes values Node quotes, so a comma inside a SAN cannot forge a second one', () => {
  assert.deepEqual(parseSubjectAltName('URI:"spiffe://a/x\\u002c URI:spiffe://victim", DNS:a.b'), {
    uriSans: ['spiffe://a/x, URI:spiffe://victim'],
    dnsSans: ['a.b'],
  });
});

for (const mode of ['sotw', 'delta'] as const) {
  test(`default rule, ${mode}: a plaintext node gets trust bundles but no private key, by name, wildcard or SDS service`, async (t) => {
    const { logger, lines } = captureLogger();
    const h = await startServer(t, { logger });
    h.cache.publish('envoy', new Map([[TYPE.secret, SECRETS]]));
    const wire: Buffer[] = [];
    const clients: AdsClient[] = [];
    for (const [i, method] of [
      undefined,
      `/envoy.service.secret.v3.SecretDiscoveryService/${mode === 'delta' ? 'Delta' : 'Stream'}Secrets`,
    ].entries()) {
      for (const list of [['mesh/gw', 'mesh/roots'], ['*']]) {
        const c = await h.client({
          id: `plain-${i}`,
          mode,
          ...(method ? { method } : {}),
          onWire: (b) => wire.push(b),
        });
        c.subscribe(TYPE.secret, list);
        const r = await c.next(TYPE.secret, 5000);
        assert.deepEqual(names(r), ['mesh/roots'], `${method ?? 'ADS'} ${list}`);
        if (mode === 'delta' && list[0] !== '*')
          assert.deepEqual(r.removed, ['mesh/gw'], 'delta says it does not exist');
        clients.push(c);
      }
    }
    for (const c of clients) assert.equal(await c.quiet(TYPE.secret, 200), true);
    assert.ok(wire.length >= 4);
    assert.equal(leaks(wire), 0, 'a response carried the private key');

    const node = h.server.nodes().find((n) => n.id === 'plain-0');
    assert.deepEqual(
      node?.refusedSecrets?.map((r) => [r.name, r.reason]),
      [['mesh/gw', UNAUTHENTICATED_REFUSAL]],
    );
    const warned = lines.filter((l) => l.includes('secret withheld'));
    assert.equal(
      warned.length,
      2,
      `one log line per node and Secret, not per stream or request:\n${warned.join('\n')}`,
    );
    assert.ok(warned.every((l) => l.includes('mesh/gw') && !l.includes('BEGIN') && !l.includes('CERT')));
  });
}

test('authorizeSecret: its reason shows on nodes(); recheckSecrets sends a newly allowed Secret and removes a newly refused one', async (t) => {
  let allowed = false;
  const h = await startServer(t, {
    authorizeSecret: (_node, name, _peer, info) =>
      !info.holdsKey || allowed || { refuse: `${name}: not in allowedNodes; add this node's SPIFFE ID` },
  });
  h.cache.publish('envoy', new Map([[TYPE.secret, SECRETS]]));
  const wire: Buffer[] = [];
  const c = await h.client({ id: 'gw', mode: 'delta', onWire: (b) => wire.push(b) });
  c.subscribe(TYPE.secret, ['mesh/gw']);
  assert.deepEqual((await c.next(TYPE.secret)).removed, ['mesh/gw']);
  assert.deepEqual(h.server.nodes()[0].refusedSecrets, [
    {
      name: 'mesh/gw',
      reason: "mesh/gw: not in allowedNodes; add this node's SPIFFE ID",
      since: h.server.nodes()[0].refusedSecrets![0].since,
    },
  ]);

  allowed = true;
  h.server.recheckSecrets();
  assert.deepEqual(names(await c.next(TYPE.secret)), ['mesh/gw']);
  assert.equal(leaks(wire), 1, 'the scan finds the key in the one response that carries it (control)');
  await eventually(() => h.server.nodes()[0].refusedSecrets === undefined, 2000, 'the refusal to clear');

  allowed = false;
  h.server.recheckSecrets();
  assert.deepEqual((await c.next(TYPE.secret)).removed, ['mesh/gw']);
  assert.equal(h.server.nodes()[0].refusedSecrets?.length, 1);
});

test('an authorizeSecret that throws withholds the Secret and says so', async (t) => {
  const h = await startServer(t, {
    authorizeSecret: () => {
      throw new Error('boom');
    },
  });
  h.cache.publish('envoy', new Map([[TYPE.secret, SECRETS]]));
  const c = await h.client({ id: 'gw' });
  c.subscribe(TYPE.secret, ['mesh/gw', 'mesh/roots']);
  assert.equal(await c.quiet(TYPE.secret, 300), true);
  assert.deepEqual(
    h.server.nodes()[0].refusedSecrets?.map((r) => r.name),
    ['mesh/gw', 'mesh/roots'],
  );
});
