// What a SotW client holds of one type: name -> the shared CachedResource last sent to it. A gateway usually holds
// every resource of a type exactly as the cache has it (all clusters, all of their assignments), so a map per
// stream would cost ~30 bytes per name per proxy for the same content. Instead the held set is an immutable
// snapshot shared by many streams (the cache's) plus this stream's few differences; when the differences pile up
// (a stream under endpoint churn) and the stream turns out to hold exactly the cache's current snapshot, it moves
// onto that snapshot and drops them. Streams holding a subset (a sidecar asking for ten names) just keep their
// differences against no base, which is the plain map they always had.
import type { CachedResource } from './types.ts';

export type Snapshot = ReadonlyMap<string, CachedResource>;

/** Differences held before a re-base is tried; doubles after each failed try so a subset holder stops trying. */
const FIRST_REBASE_AT = 32;

export class Held {
  #base: Snapshot | undefined;
  /** name -> what the client holds instead of the base's entry; null: it does not hold the base's entry. */
  #over: Map<string, CachedResource | null> | undefined;
  #size = 0;
  #rebaseAt = FIRST_REBASE_AT;

  get size(): number {
    return this.#size;
  }

  /** How many names differ from the shared snapshot (the per-stream cost). */
  get differences(): number {
    return this.#over?.size ?? 0;
  }

  /** Whether the held set currently is the snapshot itself (tests and diagnostics). */
  isShared(snapshot: Snapshot): boolean {
    return this.#base === snapshot && this.differences === 0;
  }

  get(name: string): CachedResource | undefined {
    const o = this.#over?.get(name);
    if (o !== undefined) return o ?? undefined;
    return this.#base?.get(name);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, r: CachedResource): void {
    const had = this.has(name);
    // Equal versions are the same content for every comparison streams make, so they are no difference.
    const b = this.#base?.get(name);
    if (b !== undefined && b.version === r.version) this.#over?.delete(name);
    else (this.#over ??= new Map()).set(name, r);
    if (!had) this.#size++;
  }

  delete(name: string): boolean {
    if (!this.has(name)) return false;
    if (this.#base?.has(name)) (this.#over ??= new Map()).set(name, null);
    else this.#over?.delete(name);
    this.#size--;
    return true;
  }

  *keys(): IterableIterator<string> {
    if (this.#base) for (const n of this.#base.keys()) if (this.#over?.get(n) !== null) yield n;
    if (this.#over) for (const [n, r] of this.#over) if (r !== null && !this.#base?.has(n)) yield n;
  }

  /** Holds exactly `base` (nothing when undefined). */
  reset(base?: Snapshot): void {
    this.#base = base;
    this.#over = undefined;
    this.#size = base?.size ?? 0;
    this.#rebaseAt = FIRST_REBASE_AT;
  }

  /** After changes were recorded: when enough differences piled up and this holds exactly `snapshot()` (same names,
   *  same versions), share it. */
  maybeRebase(snapshot: () => Snapshot): void {
    if (this.differences < this.#rebaseAt) return;
    const s = snapshot();
    let same = s.size === this.#size;
    if (same) {
      for (const [n, r] of s) {
        if (this.get(n)?.version !== r.version) {
          same = false;
          break;
        }
      }
    }
    if (same) this.reset(s);
    else this.#rebaseAt = this.differences * 2;
  }
}
