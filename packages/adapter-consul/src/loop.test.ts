import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopEngine, type LoopEvents } from './loop.ts';

class BadData extends Error {}
class Down extends Error {}

/** What one request of the scripted watch does: answer with an index, or throw. */
type Move = { answer: number | undefined } | { throws: 'bad' | 'down' };

/** Runs one loop through a script; records the index each request sent and the events, in order. */
async function runScript(script: Move[]) {
  const log: string[] = [];
  const sent: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const events: LoopEvents = {
    answered: (key, recovered) => log.push(`answered ${key}${recovered ? ' recovered' : ''}`),
    badData: (key, err) => log.push(`bad ${key}: ${(err as Error).message}`),
    failed: (key, err, first) => log.push(`failed ${key}${first ? ' first' : ''}: ${(err as Error).message}`),
    internalError: (err) => log.push(`internal: ${(err as Error).message}`),
  };
  const engine = new LoopEngine({
    rateLimit: { burst: 1000, minIntervalMs: 1, maxIntervalMs: 1 },
    backoff: { baseMs: 1, capMs: 2 },
    isBadData: (e) => e instanceof BadData,
    events,
  });
  engine.start('w', async (index, signal) => {
    sent.push(index);
    const move = script[sent.length - 1];
    if (!move) {
      // Script over: block like a quiet blocking query until the loop is stopped.
      done();
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      throw new Down('aborted');
    }
    if ('throws' in move) throw move.throws === 'bad' ? new BadData('garbled') : new Down('unreachable');
    return move.answer;
  });
  await finished;
  const counts = engine.requestCounts();
  await engine.close();
  return { sent, log, counts };
}

const cases: { name: string; script: Move[]; sent: number[]; log: string[] }[] = [
  {
    name: 'echoes a growing index and blocks on it',
    script: [{ answer: 5 }, { answer: 7 }, { answer: 7 }],
    sent: [0, 5, 7, 7],
    log: ['answered w', 'answered w', 'answered w'],
  },
  {
    name: 'an index that goes backwards resets to a plain read',
    script: [{ answer: 40 }, { answer: 3 }, { answer: 4 }],
    sent: [0, 40, 0, 4],
    log: ['answered w', 'answered w', 'answered w'],
  },
  {
    name: 'never blocks on index 0; a missing index means a plain read next',
    script: [{ answer: 0 }, { answer: undefined }],
    sent: [0, 1, 0],
    log: ['answered w', 'answered w'],
  },
  {
    name: 'a failure resets the index; the first of a run is marked; the next answer is a recovery',
    script: [{ answer: 9 }, { throws: 'down' }, { throws: 'down' }, { answer: 12 }, { answer: 13 }],
    sent: [0, 9, 0, 0, 12, 13],
    log: ['answered w', 'failed w first: unreachable', 'failed w: unreachable', 'answered w recovered', 'answered w'],
  },
  {
    name: 'bad data is its own event, resets the index and does not end a failure run',
    script: [{ answer: 9 }, { throws: 'bad' }, { throws: 'down' }, { throws: 'bad' }, { answer: 2 }],
    sent: [0, 9, 0, 0, 0, 2],
    log: ['answered w', 'bad w: garbled', 'failed w first: unreachable', 'bad w: garbled', 'answered w recovered'],
  },
];

for (const c of cases)
  test(`loop engine: ${c.name}`, async () => {
    const r = await runScript(c.script);
    assert.deepEqual(r.sent, c.sent);
    assert.deepEqual(r.log, c.log);
    assert.deepEqual(r.counts, { w: c.sent.length });
  });

test('loop engine: stop() aborts the in-flight request, reports nothing more, and keeps the request count', async () => {
  const log: string[] = [];
  const engine = new LoopEngine({
    rateLimit: { burst: 10, minIntervalMs: 1, maxIntervalMs: 1 },
    backoff: { baseMs: 1, capMs: 2 },
    isBadData: () => false,
    events: {
      answered: (k) => log.push(`answered ${k}`),
      badData: (k) => log.push(`bad ${k}`),
      failed: (k) => log.push(`failed ${k}`),
      internalError: (e) => log.push(`internal ${e}`),
    },
  });
  let started!: () => void;
  const inFlight = new Promise<void>((r) => (started = r));
  let aborted = false;
  assert.equal(
    engine.start('a', (_i, signal) => {
      started();
      return new Promise((_r, reject) =>
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        }),
      );
    }),
    true,
  );
  assert.equal(
    engine.start('a', async () => 1),
    false,
    'a second loop under the same key is refused',
  );
  await inFlight;
  engine.stop('a');
  assert.equal(aborted, true);
  assert.equal(engine.has('a'), false);
  await engine.close();
  assert.deepEqual(log, []);
  assert.deepEqual(engine.requestCounts(), { a: 1 });
  assert.equal(
    engine.start('b', async () => 1),
    false,
    'a closed engine starts nothing',
  );
});

test('loop engine: retry() backs off until the task succeeds and gives up quietly when closed', async () => {
  const engine = new LoopEngine({
    rateLimit: {},
    backoff: { baseMs: 1, capMs: 2 },
    isBadData: () => false,
    events: { answered() {}, badData() {}, failed() {}, internalError() {} },
  });
  const errors: string[] = [];
  let calls = 0;
  const v = await engine.retry(
    async () => {
      if (++calls < 3) throw new Error(`attempt ${calls}`);
      return 'dc1';
    },
    (e) => errors.push((e as Error).message),
  );
  assert.equal(v, 'dc1');
  assert.deepEqual(errors, ['attempt 1', 'attempt 2']);

  const closing = engine.retry(
    async (signal) => {
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      throw new Error('aborted');
    },
    (e) => errors.push((e as Error).message),
  );
  await engine.close();
  assert.equal(await closing, undefined);
  assert.deepEqual(errors, ['attempt 1', 'attempt 2'], 'the abort at close is not reported as a failure');
});
