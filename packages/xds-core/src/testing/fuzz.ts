// A small deterministic mutation fuzzer: a seeded PRNG, byte-level mutations of seed inputs, and a runner that
// counts inputs and crashes. No coverage feedback (that would need instrumentation and a native fuzzer); instead the
// seeds are valid inputs, so mutations land near the parsers' interesting paths, and a fixed seed makes every run
// (and every crash) reproducible from the seed and the input number alone.
//
// Inputs per run: MESHGATE_FUZZ_INPUTS (default: each test's short run in `npm test`); seed: MESHGATE_FUZZ_SEED.

/** xoshiro128**, seeded through a splitmix-style hash: fast, and identical on every platform. */
export class Prng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next() | 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.#s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.#s1 << 9) >>> 0;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Byte sequences that tend to reach edge cases of protobuf and YAML readers. */
const INTERESTING: readonly Buffer[] = [
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), // varint 2^32-1 (a huge length prefix)
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 10-byte varint
  Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]), // unterminated varint
  Buffer.from([0x00]),
  Buffer.from([0x7f]),
  Buffer.from([0xc3, 0x28]), // invalid UTF-8
  Buffer.from([0xed, 0xa0, 0x80]), // a lone surrogate in UTF-8
  Buffer.from([0xef, 0xbb, 0xbf]), // BOM
  Buffer.from('\u0000'),
];

export interface Mutator {
  /** Returns a mutated copy of one of the seeds (never the seed object itself). */
  mutate(): Buffer;
}

/**
 * Byte-level mutations (bit flips, random and interesting bytes, inserts, deletes, duplicated ranges, truncation,
 * splices of two seeds), 1 to 4 per input; `tokens` are inserted whole (format-aware fragments: protobuf field
 * headers, YAML syntax).
 */
export function byteMutator(prng: Prng, seeds: readonly Buffer[], tokens: readonly Buffer[] = []): Mutator {
  if (seeds.length === 0) throw new Error('byteMutator needs at least one seed input');
  const insert = (b: Buffer, at: number, add: Buffer) => Buffer.concat([b.subarray(0, at), add, b.subarray(at)]);
  const ops: Array<(b: Buffer) => Buffer> = [
    (b) => {
      if (!b.length) return b;
      const i = prng.below(b.length);
      b[i] ^= 1 << prng.below(8);
      return b;
    },
    (b) => {
      if (!b.length) return b;
      b[prng.below(b.length)] = prng.u32() & 0xff;
      return b;
    },
    (b) => insert(b, prng.below(b.length + 1), prng.bytes(1 + prng.below(8))),
    (b) => insert(b, prng.below(b.length + 1), prng.pick(INTERESTING)),
    (b) => (tokens.length ? insert(b, prng.below(b.length + 1), prng.pick(tokens)) : b),
    (b) => {
      const at = prng.below(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + prng.below(16))]);
    },
    (b) => {
      const at = prng.below(b.length + 1);
      const len = prng.below(Math.min(64, b.length - at) + 1);
      return insert(b, prng.below(b.length + 1), Buffer.from(b.subarray(at, at + len)));
    },
    (b) => b.subarray(0, prng.below(b.length + 1)),
    (b) => {
      const other = prng.pick(seeds);
      const at = prng.below(other.length + 1);
      return Buffer.concat([b.subarray(0, prng.below(b.length + 1)), other.subarray(at)]);
    },
  ];
  return {
    mutate() {
      let b: Buffer = Buffer.from(prng.pick(seeds));
      const n = 1 + prng.below(4);
      for (let i = 0; i < n; i++) b = ops[prng.below(ops.length)](b);
      return Buffer.from(b);
    },
  };
}

export interface FuzzCrash {
  /** 0-based input number: rerunning with the same seed reproduces it. */
  index: number;
  input: string;
  error: string;
}

export interface FuzzResult {
  seed: number;
  inputs: number;
  /** Inputs per outcome label the target returned (e.g. 'accepted', 'rejected'). */
  outcomes: Record<string, number>;
  crashes: FuzzCrash[];
  ms: number;
}

/** `shortRun`: the inputs of the run in `npm test` when MESHGATE_FUZZ_INPUTS is unset. */
export function fuzzSettings(shortRun = 5000, env: NodeJS.ProcessEnv = process.env): { inputs: number; seed: number } {
  const inputs = Number(env.MESHGATE_FUZZ_INPUTS || shortRun);
  const seed = Number(env.MESHGATE_FUZZ_SEED ?? 0x6d657368);
  if (!Number.isInteger(inputs) || inputs < 1) throw new Error(`MESHGATE_FUZZ_INPUTS must be a positive integer`);
  if (!Number.isInteger(seed)) throw new Error(`MESHGATE_FUZZ_SEED must be an integer`);
  return { inputs, seed };
}

/**
 * Feeds `inputs` mutated inputs to `target`, which returns an outcome label or throws: a throw is a crash (the
 * target turns broken invariants into throws). The first 20 crashes are kept, hex-encoded.
 */
export function fuzz(
  opts: { seed: number; inputs: number; seeds: readonly Buffer[]; tokens?: readonly Buffer[] },
  target: (input: Buffer) => string,
): FuzzResult {
  const prng = new Prng(opts.seed);
  const m = byteMutator(prng, opts.seeds, opts.tokens);
  const outcomes: Record<string, number> = {};
  const crashes: FuzzCrash[] = [];
  let crashCount = 0;
  const started = performance.now();
  // Long runs say where they are (stderr), so a run cut short still tells how many inputs it tried.
  const every = opts.inputs >= 100_000 ? 100_000 : 0;
  for (let i = 0; i < opts.inputs; i++) {
    if (every && i > 0 && i % every === 0)
      process.stderr.write(`fuzz: ${i} inputs, ${crashCount} crashes, ${Math.round(performance.now() - started)} ms\n`);
    const input = m.mutate();
    try {
      const o = target(input);
      outcomes[o] = (outcomes[o] ?? 0) + 1;
    } catch (err) {
      crashCount++;
      if (crashes.length < 20)
        crashes.push({
          index: i,
          input: input.toString('hex').slice(0, 2000),
          error: String((err as Error)?.stack ?? err),
        });
    }
  }
  if (crashCount > crashes.length) outcomes.crashesNotKept = crashCount - crashes.length;
  return { seed: opts.seed, inputs: opts.inputs, outcomes, crashes, ms: Math.round(performance.now() - started) };
}
