import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDuration, DURATION_PATTERN, formatDuration, parseDuration } from './duration.ts';

test('the grammar: Go-style sums of number+unit, with days; everything else is refused', () => {
  const good: [string, number][] = [
    ['500ms', 500],
    ['90s', 90_000],
    ['1.5s', 1500],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['24h0m0s', 86_400_000],
    ['7d', 604_800_000],
    ['1d12h', 129_600_000],
    ['0s', 0],
    [' 2s ', 2000],
  ];
  for (const [s, ms] of good) assert.equal(parseDuration(s), ms, s);
  for (const bad of ['', '10', '5y', 'h', '-1h', '1h x', '1 h', '.5s', '1e3s', '1h-30m', 'PT1H', '9999999999999999d'])
    assert.equal(parseDuration(bad), undefined, bad);
});

test('the JSON-schema pattern accepts exactly what the parser accepts', () => {
  const re = new RegExp(DURATION_PATTERN);
  for (const s of ['500ms', '1h30m', '7d', '0s', '1.5s', '10', '5y', '1 h', '-1h', '.5s'])
    assert.equal(re.test(s), parseDuration(s) !== undefined, s);
});

test("bounds are the setting's, not the grammar's: 0s where allowed, a clear refusal elsewhere", () => {
  assert.deepEqual(checkDuration('0s', { minMs: 0 }), { ms: 0 });
  assert.deepEqual(checkDuration('0s', { minMs: 1 }), { expected: 'a duration greater than zero', hint: '' });
  assert.deepEqual(checkDuration('20m', { minMs: 1, maxMs: 600_000 }), {
    expected: 'a duration from 1ms to 10m',
    hint: '',
  });
  assert.deepEqual(checkDuration(5, { minMs: 0 }), {
    expected: 'a duration such as 250ms, 90s, 1h30m, 24h or 7d',
    hint: ' (write 5ms or 5s)',
  });
});

test('formatDuration writes what parseDuration reads', () => {
  for (const ms of [0, 1, 250, 1000, 90_000, 5_400_000, 86_400_000, 90_061_001])
    assert.equal(parseDuration(formatDuration(ms)), ms, String(ms));
  assert.equal(formatDuration(5_400_000), '1h30m');
});
