// ACL token handling: the token from a file or env var is sent, and never shows up in logs,
// errors or status. Real agent (with ACLs enabled) when available, else the contract server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { captureLogger, endpointsOf, startSource } from '../lib/consul-harness.ts';

const TOKEN = 'b1gs3cret-acl-token-7f3a9c21';
const WRONG = 'wr0ng-token-value-5e8d1b44';
let consul: ConsulDriver;
let dir: string;
before(async () => {
  consul = await startConsul({ aclToken: TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'meshgate-consul-acl-'));
});
after(async () => {
  await consul?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('consul ACL token', () => {
  test('token from an env var is sent and never logged; with a gateway, identity still works', async (t) => {
    process.env.MG_TEST_CONSUL_TOKEN = TOKEN;
    await consul.registerService({ id: 'acl-1', name: 'secured', address: '127.0.0.91', port: 80 });
    const cap = captureLogger();
    const { sink } = await startSource(t, {
      address: consul.address,
      tokenEnv: 'MG_TEST_CONSUL_TOKEN',
      services: ['secured'],
      gateway: { name: 'acl-gw' },
      logger: cap.logger,
    });
    await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/secured')?.length === 1 && m.identities.length === 1,
      'secured service and identity',
    );
    if (consul.contract) assert.ok(consul.contract.stats.tokensSeen.has(TOKEN), 'the token reached the agent');
    assert.ok(cap.lines.length > 0, 'something was logged');
    assert.ok(!cap.lines.some((l) => l.includes(TOKEN)), 'token never in logs');
    assert.ok(!JSON.stringify(sink.statuses).includes(TOKEN), 'token never in status');
  });

  test('a wrong token from a file: reported as an ACL problem, source stale, token value nowhere', async (t) => {
    const file = join(dir, 'token');
    writeFileSync(file, `${WRONG}\n`);
    const cap = captureLogger();
    const { sink } = await startSource(t, {
      address: consul.address,
      tokenFile: file,
      services: ['secured'],
      logger: cap.logger,
    });
    const st = await sink.waitStatus((s) => s.stale && /ACL/.test(s.lastError ?? ''), 'ACL failure reported');
    assert.match(st.lastError!, /403/);
    assert.match(st.lastError!, /tokenFile\/tokenEnv/);
    assert.ok(
      !cap.lines.some((l) => l.includes(WRONG)) && !JSON.stringify(sink.statuses).includes(WRONG),
      'the wrong token is not echoed either',
    );
    assert.equal(sink.models.length, 0, 'nothing is emitted before a first complete view');

    // Fixing the file is picked up on the next 403 without a restart.
    writeFileSync(file, `${TOKEN}\n`);
    await sink.waitModel(
      (m) => endpointsOf(m, 'consul/dc1/secured')?.length === 1,
      'recovered with the fixed token file',
      40_000,
    );
    assert.ok(!cap.lines.some((l) => l.includes(TOKEN)));
  });
});
