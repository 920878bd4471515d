import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { TYPE } from './types.ts';
import { XdsCache } from './cache.ts';
import { XdsServer } from './server.ts';
import { AdsClient } from './testing/ads-client.ts';
import { parseSubjectAltName, type PeerIdentity } from './peer.ts';
import { secret, names, eventually } from './test-helpers.ts';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A throwaway CA with a server cert (IP 127.0.0.1) and two client certs with different SPIFFE IDs. */
function makePki(dir: string): void {
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  run(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  const leaf = (name: string, san: string) => {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    run(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  };
  leaf('server', 'IP:127.0.0.1,DNS:localhost');
  leaf('gw', 'URI:spiffe://mesh.local/ns/edge/sa/gateway,DNS:gw.edge');
  leaf('other', 'URI:spiffe://mesh.local/ns/other/sa/intruder');
}

test('parseSubjectAltName splits URI and DNS SANs', () => {
  assert.deepEqual(parseSubjectAltName('DNS:a.b, URI:spiffe://td/x, IP Address:127.0.0.1, DNS:c'), {
    uriSans: ['spiffe://td/x'],
    dnsSans: ['a.b', 'c'],
  });
  assert.deepEqual(parseSubjectAltName(undefined), { uriSans: [], dnsSans: [] });
});

test('SDS over mTLS: a secret is sent only when authorizeSecret allows it for the peer SANs', {
  skip: !hasOpenssl && 'openssl is not installed',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xds-sds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  makePki(dir);
  const read = (f: string) => readFileSync(join(dir, f));
  const cache = new XdsCache();
  cache.publish(
    'envoy',
    new Map([
      [
        TYPE.secret,
        new Map([
          ['mesh/gateway', secret('mesh/gateway', 'PEM-A')],
          ['mesh/other', secret('mesh/other', 'PEM-B')],
        ]),
      ],
    ]),
  );
  cache.markReady();
  const asked: Array<{ node: string; name: string; peer: PeerIdentity | undefined }> = [];
  const server = new XdsServer({
    cache,
    authorizeSecret: (node, name, peer) => {
      asked.push({ node: node.id, name, peer });
      return name === 'mesh/gateway' && !!peer?.uriSans.includes('spiffe://mesh.local/ns/edge/sa/gateway');
    },
  });
  const port = await server.listen(
    0,
    '127.0.0.1',
    grpc.ServerCredentials.createSsl(
      read('ca.crt'),
      [{ private_key: read('server.key'), cert_chain: read('server.crt') }],
      true,
    ),
  );
  t.after(() => server.close());
  const connect = async (who: string) => {
    const c = await AdsClient.connect({
      address: `127.0.0.1:${port}`,
      node: { id: who, user_agent_name: 'envoy' },
      method: '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets',
      credentials: grpc.credentials.createSsl(read('ca.crt'), read(`${who}.key`), read(`${who}.crt`)),
    });
    t.after(() => c.close());
    return c;
  };
  const gw = await connect('gw');
  gw.subscribe(TYPE.secret, ['mesh/gateway', 'mesh/other']);
  const r = await gw.next(TYPE.secret);
  assert.deepEqual(names(r), ['mesh/gateway']);
  assert.deepEqual((r.resources[0].object as { validation_context: unknown }).validation_context, {
    trusted_ca: { inline_string: 'PEM-A' },
  });

  const other = await connect('other');
  other.subscribe(TYPE.secret, ['mesh/gateway']);
  assert.equal(await other.quiet(TYPE.secret, 400), true, 'an unauthorized peer receives nothing');
  await eventually(() => asked.some((a) => a.node === 'other'), 5000, 'authorization asked for the other peer');
  assert.deepEqual(asked.find((a) => a.node === 'other')!.peer?.uriSans, ['spiffe://mesh.local/ns/other/sa/intruder']);
  const gwStatus = server.nodes().find((n) => n.id === 'gw')!;
  assert.deepEqual(gwStatus.peer, { uriSans: ['spiffe://mesh.local/ns/edge/sa/gateway'], dnsSans: ['gw.edge'] });
});
