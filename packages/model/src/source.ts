import type { Model } from './types.ts';

/**
 * One watch on an outside system (a Consul blocking query, a Kubernetes informer, a file): the
 * unit a source's `synced` and `stale` are made of.
 */
export interface WatchState {
  /** Has given its first answer (a good one, or bad data that was reported and skipped). Never turns back. */
  readonly synced: boolean;
  /** Why the watch cannot reach the outside system right now; its last good data stays in use. */
  readonly failure?: string;
}

/** What a status says about a source's watches. */
export interface WatchSummary {
  readonly total: number;
  /** Watches still waiting for their first answer. */
  readonly pending: number;
  /** Keys of the failing watches, sorted. */
  readonly failing: readonly string[];
}

/**
 * Sums up per-watch states: the source is synced when no watch is pending and stale when one is
 * failing. A source may add conditions of its own (e.g. "a valid certificate was accepted").
 */
export function summarizeWatches(watches: Iterable<readonly [string, WatchState]>): WatchSummary {
  let total = 0;
  let pending = 0;
  const failing: string[] = [];
  for (const [key, w] of watches) {
    total++;
    if (!w.synced) pending++;
    if (w.failure !== undefined) failing.push(key);
  }
  return { total, pending, failing: failing.sort() };
}

/** Typed facts of the Consul source that meshgate acts on (metrics). */
export interface ConsulFacts {
  /** Connect services whose intentions deny the gateway, sorted. */
  readonly intentionDenied: readonly string[];
}

/**
 * What every adapter reports about itself. `synced` turns true once the source has a complete
 * first view and never turns back; `stale` means it keeps serving its last good view because
 * the outside system is unreachable or sent bad data.
 */
export interface SourceStatus {
  readonly name: string;
  readonly synced: boolean;
  readonly stale: boolean;
  /** Human-readable reason for staleness or the last rejected input; never contains secrets. */
  readonly lastError?: string;
  readonly lastErrorAt?: number;
  readonly lastUpdateAt?: number;
  /** The source's watches, for sources built from watches (see summarizeWatches). */
  readonly watches?: WatchSummary;
  /**
   * Typed facts meshgate acts on, one optional field per source kind: meshgate reads these and
   * nothing else. A new kind adds its own field here.
   */
  readonly consul?: ConsulFacts;
  /** Facts for people (counts, warnings, rejected inputs), shown as they are on /readyz. Never read by meshgate. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface SourceSink {
  /** The source's complete current view (not a delta). Called again on every change. */
  update(model: Model): void;
  /** Called whenever the status changes (synced, stale, errors). */
  status(status: SourceStatus): void;
}

/** An adapter: turns one outside system into a partial model. Adapters never import each other or xds-core. */
export interface Source {
  readonly name: string;
  start(sink: SourceSink): Promise<void>;
  stop(): Promise<void>;
}
