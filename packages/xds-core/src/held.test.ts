// Held: what a SotW client holds, as a shared snapshot plus this stream's differences (held.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Held, type Snapshot } from './held.ts';
import type { CachedResource } from './types.ts';

const res = (name: string, version: string): CachedResource =>
  ({ name, version, typeUrl: 't', bytes: new Uint8Array([1]), object: {} }) as unknown as CachedResource;

function snapshot(...rs: CachedResource[]): Snapshot {
  return new Map(rs.map((r) => [r.name, r]));
}

test('reads through the shared snapshot and records only the differences', () => {
  const a1 = res('a', '1');
  const b1 = res('b', '1');
  const base = snapshot(a1, b1);
  const h = new Held();
  h.reset(base);
  assert.equal(h.size, 2);
  assert.equal(h.differences, 0);
  assert.ok(h.isShared(base));

  const a2 = res('a', '2');
  h.set('a', a2);
  assert.equal(h.get('a'), a2);
  assert.equal(h.differences, 1);
  h.set('a', a1); // back to the snapshot's own entry: no difference left
  assert.equal(h.differences, 0);

  assert.equal(h.delete('b'), true);
  assert.equal(h.has('b'), false);
  assert.equal(h.size, 1);
  assert.equal(h.delete('b'), false, 'deleting twice changes nothing');
  h.set('c', res('c', '1'));
  assert.deepEqual([...h.keys()].sort(), ['a', 'c']);
  assert.equal(h.size, 2);
  assert.equal(base.size, 2, 'the shared snapshot itself is never written');
});

test('moves onto a newer snapshot once it holds exactly that, and stops trying while it holds a subset', () => {
  const names = Array.from({ length: 100 }, (_, i) => `n${i}`);
  const v1 = snapshot(...names.map((n) => res(n, '1')));
  const h = new Held();
  h.reset(v1);
  const v2 = new Map(v1);
  for (const n of names.slice(0, 40)) {
    const r = res(n, '2');
    v2.set(n, r);
    h.set(n, r);
  }
  let asked = 0;
  h.maybeRebase(() => (asked++, v2));
  assert.equal(asked, 1);
  assert.ok(h.isShared(v2), 'the 40 differences collapsed into the newer snapshot');

  // A stream that dropped names holds less than the snapshot: it keeps its differences and backs off.
  for (const n of names.slice(0, 40)) h.delete(n);
  h.maybeRebase(() => (asked++, v2));
  assert.equal(asked, 2);
  assert.equal(h.differences, 40);
  h.maybeRebase(() => (asked++, v2));
  assert.equal(asked, 2, 'no new try before the differences double');
  assert.equal(h.size, 60);
});
