// The load generator against meshgate's real server child: it must converge like a proxy fleet
// and see every announced change, or the benchmark figures mean nothing. No timing assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeTracker, Loadgen, type Mode } from './loadgen.ts';
import { serviceName } from './model.ts';
import { startServer } from './servers.ts';

test('ChangeTracker: a newer marker also settles the older changes it superseded, once per stream', () => {
  const t = new ChangeTracker();
  const a = t.announce('svc-1', 20001, 1);
  const b = t.announce('svc-1', 20002, 1);
  const seen = new Map<string, number>();
  assert.deepEqual(t.resolve(seen, 'svc-1', [8080, 20002]), [a, b]);
  assert.deepEqual(t.resolve(seen, 'svc-1', [8080, 20002]), [], 'a resend of the same content is not a second ACK');
  assert.deepEqual(t.resolve(new Map(), 'svc-2', [20002]), [], 'a marker counts only for its own assignment');
  t.record(a, a.t0 + 5);
  assert.equal(a.acked, 1);
  assert.equal(t.pending('svc-1'), true);
  t.record(b, b.t0 + 5);
  assert.equal(t.pending('svc-1'), false);
});

for (const mode of ['sotw', 'delta'] as Mode[]) {
  test(`a ${mode} fleet converges on meshgate and ACKs an endpoint change on every stream`, async (t) => {
    const server = await startServer('ours');
    t.after(() => server.stop());
    await server.ctl('/setup?n=5');
    const lg = new Loadgen({
      target: `127.0.0.1:${server.xdsPort}`,
      mode,
      streams: 6,
      streamsPerChannel: 3,
      expectedServices: 5,
      nodePrefix: `test-${mode}`,
    });
    t.after(() => lg.close());
    lg.start();
    const full = await lg.waitFull(30_000);
    assert.deepEqual(lg.errors(), []);
    assert.equal(full.full, 6, 'every stream holds 5 clusters and 5 assignments');
    const c = lg.tracker.announce(serviceName(3), 20003, 6);
    await server.ctl(`/change?svc=3&port=${c.port}`);
    assert.equal(await lg.waitChanges([c], 30_000), true, 'every stream ACKed the changed assignment');
    assert.equal(c.lags.length, 6);
    // LDS and RDS may still be on their way when the assignments are complete: wait for them, bounded.
    const deadline = Date.now() + 30_000;
    while (lg.totals().messages < 6 * 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      lg.totals().messages >= 6 * 5,
      `CDS, EDS, LDS, RDS and the change reached each stream (${lg.totals().messages} messages)`,
    );
  });
}
