import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsulResponse } from './http.ts';
import {
  type VerdictChange,
  beginRound,
  checkIntentions,
  deniedServices,
  intentionsStep,
  recordVerdict,
} from './intentions.ts';
import { resolveSettings } from './settings.ts';
import { newState } from './state.ts';
import type { Query, WatchContext } from './watchers.ts';

test('recordVerdict: a table of verdicts in rounds', () => {
  const st = newState().intentions;
  // [round to use (0 = start a new one), service, allowed, expected change, denials total after]
  const rows: [number, string, boolean, VerdictChange, number][] = [
    [0, 'web', true, 'same', 0],
    [0, 'web', false, 'denied', 1],
    [0, 'web', false, 'same', 1],
    [0, 'pay', false, 'denied', 2],
    [0, 'web', true, 'allowed', 2],
    [0, 'web', false, 'denied', 3],
    // An older round answering late does not overwrite what a newer round said...
    [1, 'web', true, 'superseded', 3],
    // ...but does give a first verdict for a service nobody has checked yet.
    [1, 'api', false, 'denied', 4],
  ];
  for (const [i, [round, svc, ok, change, total]] of rows.entries()) {
    const r = round || beginRound(st);
    assert.equal(recordVerdict(st, r, svc, ok), change, `row ${i}`);
    assert.equal(st.denialsTotal, total, `row ${i}`);
  }
  assert.deepEqual(deniedServices(st), ['api', 'pay', 'web']);
});

function context(verdicts: Record<string, boolean | Error>) {
  const state = Object.assign(newState(), { dc: 'dc1' });
  const logs: string[] = [];
  const errors: string[] = [];
  const asked: Query[] = [];
  let flushes = 0;
  const ctx: WatchContext = {
    settings: resolveSettings({ gateway: { name: 'gw' } }),
    state,
    get: async (path, index, _signal, query = {}): Promise<ConsulResponse> => {
      if (path === '/v1/connect/intentions/match') return { status: 200, index: index + 1, body: { gw: [] } };
      assert.equal(path, '/v1/connect/intentions/check');
      assert.equal(index, 0, 'checks are plain reads');
      asked.push(query);
      const v = verdicts[String(query.destination)];
      if (v instanceof Error) throw v;
      return { status: 200, index: undefined, body: { Allowed: v } };
    },
    log: {
      debug() {},
      info: (_o, m) => logs.push(`info ${m}`),
      warn: (_o, m) => logs.push(`warn ${m}`),
      error() {},
    },
    noteError: (m) => errors.push(m),
    reconcile() {},
    changed: () => flushes++,
  };
  return { ctx, state, logs, errors, asked, flushes: () => flushes };
}

test('the intentions watch checks the Connect services only, logs a deny once, and notes a failed check', async () => {
  const c = context({ pay: false, ledger: true, cart: new Error('GET /v1/connect/intentions/check: HTTP 500') });
  for (const [name, connect] of [
    ['pay', true],
    ['ledger', true],
    ['cart', true],
    ['web', false],
  ] as const)
    c.state.services.set(name, { name, connect });
  const signal = new AbortController().signal;
  assert.equal(await intentionsStep(c.ctx, 4, signal), 5);
  assert.equal(c.state.intentions.answered, true);
  assert.deepEqual(c.asked.map((q) => `${q.source}->${q.destination}`).sort(), ['gw->cart', 'gw->ledger', 'gw->pay']);
  assert.deepEqual(deniedServices(c.state.intentions), ['pay']);
  assert.deepEqual(c.logs, [
    'warn consul: intention denies gw -> pay; requests to pay through the mesh will be refused',
  ]);
  assert.deepEqual(c.errors, ['GET /v1/connect/intentions/check: HTTP 500']);
  assert.equal(c.flushes(), 1);

  await intentionsStep(c.ctx, 5, signal);
  assert.equal(c.state.intentions.denialsTotal, 1, 'a deny that stays a deny is not counted again');
  assert.equal(c.logs.length, 1);
});

test('checkIntentions does nothing when checks are off or there is nothing to check', async () => {
  const c = context({ pay: false });
  await checkIntentions(c.ctx, [], new AbortController().signal);
  const off = { ...c.ctx, settings: resolveSettings({ gateway: { name: 'gw', checkIntentions: false } }) };
  await checkIntentions(off, ['pay'], new AbortController().signal);
  assert.deepEqual(c.asked, []);
  assert.equal(c.flushes(), 0);
});
