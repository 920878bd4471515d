import type { Model } from './types.ts';
import { emptyModel } from './types.ts';

export interface MergeConflict {
  kind: keyof Model;
  name: string;
  kept: string;
  dropped: string;
}

/**
 * Merges partial models from several sources. Precedence is explicit: parts earlier in the list
 * win when two sources define the same name of the same kind; the loser is reported, never
 * silently mixed in. Output lists are sorted by name so equal inputs give equal outputs.
 */
export function mergeModels(parts: { source: string; model: Model }[]): { model: Model; conflicts: MergeConflict[] } {
  const out = emptyModel();
  const conflicts: MergeConflict[] = [];
  const kinds = Object.keys(out) as (keyof Model)[];
  for (const kind of kinds) {
    const seen = new Map<string, { source: string; item: { name: string; source?: string } }>();
    for (const part of parts) {
      for (const item of part.model[kind] as { name: string }[]) {
        const prev = seen.get(item.name);
        if (prev) {
          conflicts.push({ kind, name: item.name, kept: prev.source, dropped: part.source });
          continue;
        }
        seen.set(item.name, { source: part.source, item: { source: part.source, ...item } });
      }
    }
    const items = [...seen.values()]
      .map((v) => v.item)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    (out[kind] as { name: string }[]) = items;
  }
  return { model: out, conflicts };
}
