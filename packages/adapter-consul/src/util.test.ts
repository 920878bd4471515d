import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore, sleep } from './util.ts';
import { ConsulSource } from './source.ts';

test('Semaphore never runs more than its limit, even as slots are handed over', async () => {
  const sem = new Semaphore(3);
  let active = 0;
  let max = 0;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      sem.run(async () => {
        active++;
        max = Math.max(max, active);
        await sleep(i % 3);
        active--;
      }),
    ),
  );
  assert.equal(max, 3);
});

test('sleep ends early when its signal aborts', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 10);
  await sleep(10_000, ac.signal);
  assert.ok(Date.now() - t0 < 5000);
});

test('ConsulSource refuses bad settings with the setting name and the fix', async () => {
  assert.throws(
    () => new ConsulSource({ address: 'not a url' }),
    /consul\.address: .* use e\.g\. http:\/\/127\.0\.0\.1:8500/,
  );
  assert.throws(() => new ConsulSource({ services: ['bad name'] }), /consul\.services/);
  delete process.env.MG_UNSET_TOKEN_VAR;
  const s = new ConsulSource({ tokenEnv: 'MG_UNSET_TOKEN_VAR' });
  await assert.rejects(
    s.start({ update() {}, status() {} }),
    /consul\.tokenEnv: environment variable MG_UNSET_TOKEN_VAR is not set/,
  );
  await s.stop();
});
