// One full garbage collection once the xDS port goes quiet after a burst of inbound bytes.
//
// Every request byte arrives in Buffers outside the JavaScript heap (Node's HTTP/2 read buffers, grpc-js's joined
// message), freed only when V8 collects their small heap wrappers. V8 collects when its heap fills or when such
// external memory has grown by 64 MB since the last collection; a process that goes idle after a burst smaller than
// that (20 requests naming 100,000 resources are 44 MB) runs no collection for as long as it stays idle, and the
// garbage Buffers pin the C allocator's heap, which cannot return pages beneath a live block. Measured on the abuse
// suite (docs/reliability.md): RSS stayed +31 % above the baseline after such a burst while the live heap was below
// the baseline's; one collection brings it back. The collection runs incrementally (V8's 'async' execution), only on a port that is
// quiet, at most once per period, and only after afterBytes came in since the last.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './types.ts';

type Gc = (opts?: { type: 'major'; execution: 'async' }) => Promise<void> | void;

let gcFn: Gc | null | undefined;

/** V8's gc(), exposed for this purpose only (a fresh context, not the process's global), or null where it cannot be. */
function gcFunction(): Gc | null {
  if (gcFn !== undefined) return gcFn;
  try {
    const g = (globalThis as { gc?: Gc }).gc;
    if (typeof g === 'function') return (gcFn = g);
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    gcFn = typeof f === 'function' ? (f as Gc) : null;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

export interface QuietGcOptions {
  /** Inbound bytes since the last collection that make one worth it (0: never collect). */
  afterBytes: number;
  /** How often the port is checked; quiet means less than `quietBytes` came in during the last period. */
  periodMs: number;
  quietBytes: number;
}

export const QUIET_GC_DEFAULTS: QuietGcOptions = {
  afterBytes: 16 * 1024 * 1024,
  periodMs: 5000,
  quietBytes: 1024 * 1024,
};

export class QuietGc {
  readonly #inbound: () => number;
  readonly #opts: QuietGcOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #atLastCheck = 0;
  #atLastGc = 0;
  collections = 0;

  /** `inbound`: bytes read from clients since start (monotonic). */
  constructor(inbound: () => number, opts: QuietGcOptions, log: Logger) {
    this.#inbound = inbound;
    this.#opts = opts;
    this.#log = log;
  }

  start(): void {
    if (this.#timer || this.#opts.afterBytes <= 0) return;
    this.#timer = setInterval(() => this.check(), this.#opts.periodMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  check(): void {
    const now = this.#inbound();
    const quiet = now - this.#atLastCheck < this.#opts.quietBytes;
    this.#atLastCheck = now;
    const since = now - this.#atLastGc;
    if (!quiet || since < this.#opts.afterBytes) return;
    const gc = gcFunction();
    if (!gc) return;
    this.#atLastGc = now;
    this.collections++;
    this.#log.debug(
      { inboundMb: +(since / 1048576).toFixed(1) },
      'xDS port quiet after a burst of requests: collecting their buffers',
    );
    try {
      void Promise.resolve(gc({ type: 'major', execution: 'async' })).catch(() => {});
    } catch {
      /* nothing to do: V8 collects on its own schedule */
    }
  }
}
