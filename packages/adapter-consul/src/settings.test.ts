import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSettings } from './settings.ts';

test('resolveSettings fills every default once', () => {
  const s = resolveSettings({ gateway: {} });
  assert.deepEqual(
    {
      name: s.name,
      address: s.address,
      connect: s.connect,
      waitMs: s.waitMs,
      rateLimit: s.rateLimit,
      backoff: s.backoff,
      concurrency: s.concurrency,
      gateway: s.gateway,
    },
    {
      name: 'consul',
      address: 'http://127.0.0.1:8500',
      connect: 'auto',
      waitMs: 300_000,
      rateLimit: { burst: 2, minIntervalMs: 1000, maxIntervalMs: 15_000 },
      backoff: { baseMs: 250, capMs: 30_000 },
      concurrency: 32,
      gateway: {
        name: 'meshgate-gateway',
        register: true,
        kind: 'ingress-gateway',
        address: '127.0.0.1',
        port: 8443,
        ingressRoutes: true,
        checkIntentions: true,
      },
    },
  );
  assert.equal(resolveSettings({}).gateway, undefined);
});

test('resolveSettings clamps the wait to 1 ms .. 10 min', () => {
  const rows: [number | undefined, number][] = [
    [undefined, 300_000],
    [0, 1],
    [3_600_000, 600_000],
    [2500, 2500],
  ];
  for (const [waitMs, want] of rows) assert.equal(resolveSettings({ waitMs }).waitMs, want, String(waitMs));
});

test('resolveSettings refuses a bad service name or address, naming the setting and the fix', () => {
  assert.throws(
    () => resolveSettings({ services: ['ok', 'bad name'] }),
    /consul\.services: "bad name" .* letters, digits/,
  );
  assert.throws(
    () => resolveSettings({ address: '127.0.0.1:8500' }),
    /consul\.address: .* e\.g\. http:\/\/127\.0\.0\.1:8500/,
  );
});
