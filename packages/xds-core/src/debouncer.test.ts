import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Debouncer } from './debouncer.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a burst of triggers runs fn once, after the quiet period', async () => {
  let runs = 0;
  const d = new Debouncer({ quietMs: 30, maxDelayMs: 1000 }, () => void runs++);
  for (let i = 0; i < 10; i++) d.trigger();
  await d.idle();
  assert.equal(runs, 1);
  d.trigger();
  await d.idle();
  assert.equal(runs, 2);
});

test('a constant trickle of triggers still runs fn by maxDelayMs', async () => {
  let runs = 0;
  const d = new Debouncer({ quietMs: 50, maxDelayMs: 150 }, () => void runs++);
  const end = Date.now() + 1000;
  while (Date.now() < end && runs === 0) {
    d.trigger();
    await sleep(10);
  }
  assert.equal(runs, 1, 'fn ran although triggers never went quiet');
  d.close();
});

test('never runs concurrently with itself; a trigger during a run causes one more run', async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  let release!: () => void;
  const d = new Debouncer({ quietMs: 5, maxDelayMs: 20 }, async () => {
    active++;
    runs++;
    maxActive = Math.max(maxActive, active);
    if (runs === 1) await new Promise<void>((r) => (release = r));
    active--;
  });
  d.trigger();
  while (runs === 0) await sleep(5);
  d.trigger();
  d.trigger();
  await sleep(50);
  assert.equal(runs, 1, 'second run waits for the first');
  release();
  await d.idle();
  assert.equal(runs, 2);
  assert.equal(maxActive, 1);
});

test('errors from fn go to onError and do not stop later runs', async () => {
  const errors: unknown[] = [];
  let runs = 0;
  const d = new Debouncer({ quietMs: 5, maxDelayMs: 10, onError: (e) => errors.push(e) }, () => {
    runs++;
    throw new Error('boom');
  });
  d.trigger();
  await d.idle();
  d.trigger();
  await d.idle();
  assert.equal(runs, 2);
  assert.equal(errors.length, 2);
  assert.throws(() => new Debouncer({ quietMs: 10, maxDelayMs: 5 }, () => {}), /quietMs <= maxDelayMs/);
});
