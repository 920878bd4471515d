import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type WatchState, summarizeWatches } from './source.ts';

test('summarizeWatches: a table of watch sets', () => {
  const rows: [string, [string, WatchState][], { total: number; pending: number; failing: string[] }][] = [
    ['no watches', [], { total: 0, pending: 0, failing: [] }],
    [
      'one pending, none failing',
      [
        ['b', { synced: true }],
        ['a', { synced: false }],
      ],
      { total: 2, pending: 1, failing: [] },
    ],
    [
      'failing ones sorted; a failing watch that answered before is not pending',
      [
        ['svc:web', { synced: true, failure: 'down' }],
        ['catalog', { synced: false, failure: 'down' }],
        ['roots', { synced: true }],
      ],
      { total: 3, pending: 1, failing: ['catalog', 'svc:web'] },
    ],
  ];
  for (const [what, watches, want] of rows) assert.deepEqual(summarizeWatches(watches), want, what);
});
