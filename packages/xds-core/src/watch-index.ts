// Who watches what: group -> type -> name -> streams, plus wildcard watchers per group/type. A cache change wakes
// exactly the streams subscribed to the changed names (and the wildcard watchers of that type), nothing else.

export interface Watcher {
  /** `names` are the changed or removed names this watcher cares about. */
  markDirty(typeUrl: string, names: Iterable<string>): void;
}

interface TypeWatches<W> {
  byName: Map<string, Set<W>>;
  wildcard: Set<W>;
}

export class WatchIndex<W extends Watcher> {
  readonly #groups = new Map<string, Map<string, TypeWatches<W>>>();

  #entry(group: string, typeUrl: string, create: true): TypeWatches<W>;
  #entry(group: string, typeUrl: string, create: false): TypeWatches<W> | undefined;
  #entry(group: string, typeUrl: string, create: boolean): TypeWatches<W> | undefined {
    let g = this.#groups.get(group);
    if (!g) {
      if (!create) return undefined;
      this.#groups.set(group, (g = new Map()));
    }
    let t = g.get(typeUrl);
    if (!t && create) g.set(typeUrl, (t = { byName: new Map(), wildcard: new Set() }));
    return t;
  }

  #prune(group: string, typeUrl: string, t: TypeWatches<W>): void {
    if (t.byName.size || t.wildcard.size) return;
    const g = this.#groups.get(group);
    g?.delete(typeUrl);
    if (g && !g.size) this.#groups.delete(group);
  }

  watch(group: string, typeUrl: string, w: W, name: string): void {
    const t = this.#entry(group, typeUrl, true);
    let s = t.byName.get(name);
    if (!s) t.byName.set(name, (s = new Set()));
    s.add(w);
  }

  unwatch(group: string, typeUrl: string, w: W, name: string): void {
    const t = this.#entry(group, typeUrl, false);
    const s = t?.byName.get(name);
    if (!t || !s) return;
    s.delete(w);
    if (!s.size) t.byName.delete(name);
    this.#prune(group, typeUrl, t);
  }

  watchAll(group: string, typeUrl: string, w: W): void {
    this.#entry(group, typeUrl, true).wildcard.add(w);
  }

  unwatchAll(group: string, typeUrl: string, w: W): void {
    const t = this.#entry(group, typeUrl, false);
    if (!t) return;
    t.wildcard.delete(w);
    this.#prune(group, typeUrl, t);
  }

  /** Wakes the watchers of `names`; returns how many distinct watchers were woken. */
  notify(group: string, typeUrl: string, names: readonly string[]): number {
    const t = this.#entry(group, typeUrl, false);
    if (!t) return 0;
    const woken = new Map<W, string[]>();
    for (const w of t.wildcard) woken.set(w, names as string[]);
    if (t.byName.size) {
      for (const n of names) {
        const s = t.byName.get(n);
        if (!s) continue;
        for (const w of s) {
          if (t.wildcard.has(w)) continue;
          let list = woken.get(w);
          if (!list) woken.set(w, (list = []));
          list.push(n);
        }
      }
    }
    for (const [w, list] of woken) w.markDirty(typeUrl, list);
    return woken.size;
  }

  /** Totals for diagnostics and tests (an empty index after every stream closed means nothing leaked). */
  size(): { groups: number; names: number; watches: number; wildcard: number } {
    let names = 0;
    let watches = 0;
    let wildcard = 0;
    for (const g of this.#groups.values())
      for (const t of g.values()) {
        names += t.byName.size;
        for (const s of t.byName.values()) watches += s.size;
        wildcard += t.wildcard.size;
      }
    return { groups: this.#groups.size, names, watches, wildcard };
  }
}
