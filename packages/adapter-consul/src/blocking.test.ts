import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TokenBucket,
  backoffDelay,
  blockingTimeout,
  formatWait,
  jitteredWait,
  nextIndex,
  parseIndexHeader,
} from './blocking.ts';
import { parseDuration } from '@meshgate/config-schema';

test('nextIndex echoes a growing index', () => {
  assert.equal(nextIndex(0, 17), 17);
  assert.equal(nextIndex(17, 17), 17);
  assert.equal(nextIndex(17, 42), 42);
});

test('nextIndex resets to 0 when the index goes backwards (snapshot restore, restart)', () => {
  assert.equal(nextIndex(42, 7), 0);
});

test('nextIndex never asks to block on index 0 (floor 1) and treats a missing header as a plain read', () => {
  assert.equal(nextIndex(0, 0), 1);
  assert.equal(nextIndex(5, undefined), 0);
  assert.equal(nextIndex(5, Number.NaN), 0);
});

test('parseIndexHeader accepts only non-negative integers', () => {
  assert.equal(parseIndexHeader('123'), 123);
  assert.equal(parseIndexHeader(['9']), 9);
  assert.equal(parseIndexHeader('-1'), undefined);
  assert.equal(parseIndexHeader('abc'), undefined);
  assert.equal(parseIndexHeader(undefined), undefined);
});

test('wait values: parse, format, cap at 10m, jitter within wait/16 below the wait', () => {
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('5 minutes'), undefined);
  assert.equal(formatWait(300_000), '300s');
  assert.equal(formatWait(1500), '1500ms');
  assert.equal(formatWait(3_600_000), '600s');
  assert.equal(
    jitteredWait(160_000, () => 0),
    160_000,
  );
  assert.equal(
    jitteredWait(160_000, () => 1),
    150_000,
  );
  assert.equal(blockingTimeout(160_000, 10_000), 180_000);
});

test('token bucket: burst of 2, then one per second; slows only under sustained churn and recovers when calm', () => {
  let now = 0;
  const b = new TokenBucket({ burst: 2, minIntervalMs: 1000, maxIntervalMs: 8000, churnThreshold: 3 }, () => now);
  assert.equal(b.take(), 0);
  assert.equal(b.take(), 0);
  const w1 = b.take();
  assert.equal(w1, 1000);
  now += w1;
  const w2 = b.take();
  assert.equal(w2, 1000, 'a short burst of changes keeps the calm pace');
  now += w2;
  const w3 = b.take();
  assert.equal(w3, 1000);
  assert.equal(b.currentIntervalMs, 2000, 'the third empty take in a row starts slowing down');
  now += w3;
  for (let i = 0; i < 10; i++) now += b.take();
  assert.equal(b.currentIntervalMs, 8000, 'capped at maxIntervalMs');
  now += 60_000; // calm: bucket refills fully
  assert.equal(b.take(), 0);
  assert.equal(b.currentIntervalMs, 1000, 'back to the calm pace');
});

test('backoff grows with attempts and stays within the cap', () => {
  assert.ok(backoffDelay(0, 250, 30_000, () => 1) <= 250);
  assert.equal(
    backoffDelay(3, 250, 30_000, () => 1),
    2000,
  );
  assert.equal(
    backoffDelay(30, 250, 30_000, () => 1),
    30_000,
  );
  assert.ok(backoffDelay(30, 250, 30_000, () => 0) >= 15_000);
});
