// Coalesces bursts of changes (e.g. flapping endpoints) into one run: `fn` runs once the triggers have been quiet
// for `quietMs`, but never later than `maxDelayMs` after the first trigger of the burst, so a constant trickle of
// changes cannot starve it. Runs never overlap: a trigger during a run starts a new burst after it finishes.

export interface DebouncerOptions {
  quietMs: number;
  maxDelayMs: number;
  /** Called when fn throws or rejects; the debouncer itself never throws across the event loop. */
  onError?: (err: unknown) => void;
}

export class Debouncer {
  readonly #quietMs: number;
  readonly #maxDelayMs: number;
  readonly #fn: () => unknown;
  readonly #onError: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #burstStart = 0;
  #lastTrigger = 0;
  #pending = false;
  #running = false;
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  constructor(opts: DebouncerOptions, fn: () => unknown) {
    if (!(opts.quietMs >= 0) || !(opts.maxDelayMs >= opts.quietMs)) {
      throw new RangeError(
        `Debouncer: need 0 <= quietMs <= maxDelayMs, got quietMs=${opts.quietMs} maxDelayMs=${opts.maxDelayMs}`,
      );
    }
    this.#quietMs = opts.quietMs;
    this.#maxDelayMs = opts.maxDelayMs;
    this.#fn = fn;
    this.#onError = opts.onError ?? (() => {});
  }

  /** Records a change; fn will run after the quiet period (or the max delay). */
  trigger(): void {
    if (this.#closed) return;
    const now = performance.now();
    if (!this.#pending) {
      this.#pending = true;
      this.#burstStart = now;
    }
    this.#lastTrigger = now;
    if (!this.#running) this.#arm();
  }

  /** True while a burst is waiting or fn is running. */
  get busy(): boolean {
    return this.#pending || this.#running;
  }

  /** Resolves once nothing is pending or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops any pending run; later triggers are ignored. */
  close(): void {
    this.#closed = true;
    this.#pending = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#running) this.#settle();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const now = performance.now();
    const due = Math.min(this.#lastTrigger + this.#quietMs, this.#burstStart + this.#maxDelayMs);
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, due - now));
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    if (!this.#pending || this.#running || this.#closed) return;
    const now = performance.now();
    // A trigger may have landed after the timer was armed for an earlier deadline.
    if (now < this.#lastTrigger + this.#quietMs && now < this.#burstStart + this.#maxDelayMs) {
      this.#arm();
      return;
    }
    this.#pending = false;
    this.#running = true;
    let result: unknown;
    try {
      result = this.#fn();
    } catch (err) {
      this.#onError(err);
    }
    Promise.resolve(result)
      .catch((err: unknown) => this.#onError(err))
      .finally(() => {
        this.#running = false;
        if (this.#pending && !this.#closed) this.#arm();
        else this.#settle();
      });
  }

  #settle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
