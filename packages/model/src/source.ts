import type { Model } from './types.ts';

/**
 * What every adapter reports about itself. `synced` turns true once the source has a complete
 * first view and never turns back; `stale` means it keeps serving its last good view because
 * the outside system is unreachable or sent bad data.
 */
export interface SourceStatus {
  name: string;
  synced: boolean;
  stale: boolean;
  /** Human-readable reason for staleness or the last rejected input; never contains secrets. */
  lastError?: string;
  lastErrorAt?: number;
  lastUpdateAt?: number;
  /** Adapter-specific facts for /readyz and /debug pages (counts, indexes, warnings). */
  details?: Record<string, unknown>;
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
