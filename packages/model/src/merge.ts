import type { Model } from './types.ts';

export interface MergeConflict {
  readonly kind: keyof Model;
  readonly name: string;
  /** The source whose item is kept (the earlier one in the list). */
  readonly kept: string;
  readonly dropped: string;
}

type Named = { readonly name: string; readonly source?: string };

/**
 * Merges partial models from several sources. Precedence is explicit: parts earlier in the list
 * win when two sources define the same name of the same kind; the loser is reported, never
 * silently mixed in. Each item is stamped with the source it came from. Output lists are sorted
 * by name so equal inputs give equal outputs.
 */
export function mergeModels(parts: readonly { readonly source: string; readonly model: Model }[]): {
  model: Model;
  conflicts: MergeConflict[];
} {
  const conflicts: MergeConflict[] = [];
  const mergeKind = <T extends Named>(kind: keyof Model, pick: (m: Model) => readonly T[]): T[] => {
    const seen = new Map<string, { source: string; item: T }>();
    for (const part of parts) {
      for (const item of pick(part.model)) {
        const prev = seen.get(item.name);
        if (prev) {
          conflicts.push({ kind, name: item.name, kept: prev.source, dropped: part.source });
          continue;
        }
        seen.set(item.name, { source: part.source, item: { source: part.source, ...item } });
      }
    }
    return [...seen.values()].map((v) => v.item).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  };
  const model: Model = {
    services: mergeKind('services', (m) => m.services),
    routes: mergeKind('routes', (m) => m.routes),
    listeners: mergeKind('listeners', (m) => m.listeners),
    identities: mergeKind('identities', (m) => m.identities),
    trustBundles: mergeKind('trustBundles', (m) => m.trustBundles),
  };
  return { model, conflicts };
}
