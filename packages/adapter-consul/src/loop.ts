// The blocking-loop engine: runs one step per watch, over and over, with the index rules of
// blocking.ts, a token bucket per loop, full-jitter backoff after errors and cancellation. It
// knows nothing about Consul's paths or answers: a step does one request and returns the index it
// saw; a classifier tells bad data from a failure; the owner hears about every outcome through
// events and keeps its own state.
import { TokenBucket, type TokenBucketOptions, backoffDelay, nextIndex } from './blocking.ts';
import { sleep } from './util.ts';

/** One request of a watch: given the index to send (0 = plain read), returns the index seen. */
export type LoopStep = (index: number, signal: AbortSignal) => Promise<number | undefined>;

export interface LoopEvents {
  /** The step answered; `recovered` when the loop had been failing until now. */
  answered(key: string, recovered: boolean): void;
  /** The answer was bad data: it counts as an answer, is skipped, and says nothing about reachability. */
  badData(key: string, err: unknown): void;
  /** The step failed (unreachable, refused, timed out); `first` for the first failure in a row. */
  failed(key: string, err: unknown, first: boolean): void;
  /** A bug in a background task: the owner logs it. */
  internalError(err: unknown): void;
}

export interface LoopEngineOptions {
  rateLimit: TokenBucketOptions;
  backoff: { baseMs: number; capMs: number };
  /** True for errors that mean "bad data" rather than "the system is unreachable". */
  isBadData(err: unknown): boolean;
  events: LoopEvents;
}

interface Loop {
  readonly abort: AbortController;
  index: number;
  requests: number;
  failing: boolean;
}

export class LoopEngine {
  private readonly o: LoopEngineOptions;
  private readonly loops = new Map<string, Loop>();
  private readonly running = new Set<Promise<void>>();
  private readonly root = new AbortController();
  /** Requests of loops that have stopped, so the counts only grow. */
  private readonly pastRequests = new Map<string, number>();

  constructor(o: LoopEngineOptions) {
    this.o = o;
  }

  /** Aborted by close(): for one-shot requests that must end with the engine. */
  get signal(): AbortSignal {
    return this.root.signal;
  }

  get closed(): boolean {
    return this.root.signal.aborted;
  }

  has(key: string): boolean {
    return this.loops.has(key);
  }

  /** The index the loop sends next; undefined when no such loop runs. */
  index(key: string): number | undefined {
    return this.loops.get(key)?.index;
  }

  /** Requests made per key since the engine started (stopped loops included). */
  requestCounts(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.pastRequests);
    for (const [k, l] of this.loops) out[k] = (out[k] ?? 0) + l.requests;
    return out;
  }

  /** Starts a loop under `key`; false (and nothing started) when one already runs or the engine is closed. */
  start(key: string, step: LoopStep): boolean {
    if (this.closed || this.loops.has(key)) return false;
    const loop: Loop = { abort: new AbortController(), index: 0, requests: 0, failing: false };
    this.loops.set(key, loop);
    this.spawn(this.run(key, loop, step));
    return true;
  }

  /** Stops a loop: its in-flight request is aborted and it reports nothing more. */
  stop(key: string): void {
    const l = this.loops.get(key);
    if (!l) return;
    l.abort.abort();
    this.loops.delete(key);
    this.pastRequests.set(key, (this.pastRequests.get(key) ?? 0) + l.requests);
  }

  /**
   * Runs `fn` until it succeeds, backing off between attempts; `onError` hears each failure.
   * Resolves with fn's value, or undefined when the engine closed first.
   */
  async retry<T>(fn: (signal: AbortSignal) => Promise<T>, onError: (err: unknown) => void): Promise<T | undefined> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        return await fn(this.root.signal);
      } catch (e) {
        if (this.closed) return undefined;
        onError(e);
        await sleep(backoffDelay(attempt, this.o.backoff.baseMs, this.o.backoff.capMs), this.root.signal);
      }
    }
    return undefined;
  }

  /** Runs a background task the engine waits for on close; a throw is an internal error. */
  spawn(p: Promise<void>): void {
    const q = p.catch((e) => this.o.events.internalError(e)).finally(() => this.running.delete(q));
    this.running.add(q);
  }

  /** Stops every loop and waits for every loop and task to end. */
  async close(): Promise<void> {
    this.root.abort();
    for (const key of [...this.loops.keys()]) this.stop(key);
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  private async run(key: string, loop: Loop, step: LoopStep): Promise<void> {
    const { events, backoff } = this.o;
    const bucket = new TokenBucket(this.o.rateLimit);
    const signal = loop.abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const delay = bucket.take();
      if (delay > 0) await sleep(delay, signal);
      if (signal.aborted) break;
      try {
        loop.requests++;
        const sent = loop.index;
        const returned = await step(sent, signal);
        if (signal.aborted) break;
        loop.index = nextIndex(sent, returned);
        const recovered = loop.failing;
        loop.failing = false;
        attempt = 0;
        events.answered(key, recovered);
      } catch (e) {
        if (signal.aborted) break;
        if (this.o.isBadData(e)) events.badData(key, e);
        else {
          const first = !loop.failing;
          loop.failing = true;
          events.failed(key, e, first);
        }
        // After an error the agent may have restarted with a fresh (lower) index: read afresh.
        loop.index = 0;
        await sleep(backoffDelay(attempt++, backoff.baseMs, backoff.capMs), signal);
      }
    }
  }
}
