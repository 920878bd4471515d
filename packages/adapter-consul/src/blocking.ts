// Blocking-query bookkeeping for Consul watches (Consul HTTP API: blocking queries): index rules, wait durations,
// the per-loop token bucket and retry backoff. Pure functions and small classes, no I/O.

/** Default blocking wait Consul applies when none is sent. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
/** Consul caps `wait` at 10 minutes. */
export const MAX_WAIT_MS = 10 * 60_000;

/**
 * The index to send on the next request, given the one we sent and the X-Consul-Index we got.
 * - A missing or non-numeric header gives 0: the next request is a plain (non-blocking) read.
 * - A returned index lower than the previous one means the state was reset (snapshot restore,
 *   restart): start over from 0 so the next read is immediate and not a block on a future index.
 * - Otherwise the returned index, but never below 1 for a blocking request: an index of 0 makes
 *   Consul answer at once and the loop would spin.
 */
export function nextIndex(previous: number, returned: number | undefined): number {
  if (returned === undefined || !Number.isFinite(returned) || returned < 0) return 0;
  if (returned < previous) return 0;
  return Math.max(1, Math.floor(returned));
}

/** Parses the X-Consul-Index header value; undefined when absent or not a non-negative integer. */
export function parseIndexHeader(v: string | string[] | undefined | null): number | undefined {
  if (Array.isArray(v)) v = v[0];
  if (v === undefined || v === null || !/^\d{1,20}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses a Go-style duration such as "250ms", "10s", "5m", "1h"; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  const m = DURATION_RE.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const mult = m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * mult);
}

/** Formats milliseconds as a Consul `wait` value, clamped to 1ms..10m. */
export function formatWait(ms: number): string {
  const v = Math.min(MAX_WAIT_MS, Math.max(1, Math.round(ms)));
  return v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`;
}

/**
 * The wait we ask for on one request: the configured wait minus up to 1/16 of random jitter, so
 * that many loops started together do not all time out (and re-request) at the same instant.
 */
export function jitteredWait(waitMs: number, random: () => number = Math.random): number {
  const w = Math.min(MAX_WAIT_MS, Math.max(1, waitMs));
  return Math.max(1, Math.round(w - (w / 16) * random()));
}

/**
 * How long a client should wait for a blocking answer before it gives up: the wait, plus the
 * server's own jitter (up to wait/16), plus the normal request timeout for the transfer itself.
 */
export function blockingTimeout(waitMs: number, requestTimeoutMs: number): number {
  return Math.ceil(waitMs + waitMs / 16 + requestTimeoutMs);
}

export interface TokenBucketOptions {
  /** Requests allowed back to back. Default 2. */
  burst?: number;
  /** Refill interval when calm. Default 1000 ms (one request per second). */
  minIntervalMs?: number;
  /** Refill interval under sustained churn. Default 15000 ms (Consul blocking-query guidance). */
  maxIntervalMs?: number;
  /** Consecutive empty-bucket takes before the pace starts to slow. Default 3. */
  churnThreshold?: number;
}

/**
 * A token bucket that slows a watch loop that keeps waking up. Each request takes a token;
 * tokens refill one per interval. When the loop finds the bucket empty (sustained churn), the
 * interval doubles up to maxIntervalMs, but only after `churnThreshold` empty takes in a row, so
 * a short burst of ordinary changes still shows up within about a second (docs/architecture.md, rule 14);
 * a request that finds a full bucket (a calm period) brings it back to minIntervalMs. `take()` returns how long to wait first; 0 = go now.
 */
export class TokenBucket {
  readonly burst: number;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  private tokens: number;
  private intervalMs: number;
  private last: number;
  private empties = 0;
  private readonly churnThreshold: number;
  private readonly now: () => number;

  constructor(opts: TokenBucketOptions = {}, now: () => number = () => performance.now()) {
    this.burst = opts.burst ?? 2;
    this.minIntervalMs = opts.minIntervalMs ?? 1000;
    this.maxIntervalMs = Math.max(this.minIntervalMs, opts.maxIntervalMs ?? 15_000);
    this.tokens = this.burst;
    this.intervalMs = this.minIntervalMs;
    this.churnThreshold = opts.churnThreshold ?? 3;
    this.now = now;
    this.last = now();
  }

  get currentIntervalMs(): number {
    return this.intervalMs;
  }

  private refill(): void {
    const t = this.now();
    const gained = (t - this.last) / this.intervalMs;
    if (gained > 0) {
      this.tokens = Math.min(this.burst, this.tokens + gained);
      this.last = t;
    }
  }

  /** Takes one token; returns the delay in ms the caller must wait before its request. */
  take(): number {
    this.refill();
    if (this.tokens >= this.burst) this.intervalMs = this.minIntervalMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.empties = 0;
      return 0;
    }
    // Empty: reserve the next token; under sustained churn also slow the refill for later ones.
    const wait = Math.ceil((1 - this.tokens) * this.intervalMs);
    this.tokens -= 1;
    if (++this.empties >= this.churnThreshold) this.intervalMs = Math.min(this.maxIntervalMs, this.intervalMs * 2);
    return wait;
  }
}

/** Exponential backoff with full jitter: attempt 0 -> up to base, doubling to the cap. */
export function backoffDelay(
  attempt: number,
  baseMs = 250,
  capMs = 30_000,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
