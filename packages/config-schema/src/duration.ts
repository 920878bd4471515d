// The one duration grammar of meshgate: config file, flags, environment and the certs CLI.
// Go-style sequences of a number and a unit, summed: `500ms`, `90s`, `1h30m`, `24h0m0s` (how Linkerd
// and Istio print durations), plus `d` for days (`7d`). A bare number is refused everywhere: its unit
// would be a guess. Zero (`0s`) is part of the grammar; whether a setting allows it is the setting's
// own minimum (see `{ kind: 'duration', minMs }`), never the parser's.

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;

/** The units, longest first, as the grammar reads them. */
export const DURATION_UNITS = ['d', 'h', 'm', 's', 'ms'] as const;

/** The grammar as a regular expression source, valid in ECMAScript and in RE2 (Helm's JSON-schema check). */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$';

/** How every message and document spells out the grammar. */
export const DURATION_EXAMPLES = '250ms, 90s, 1h30m, 24h or 7d';

const WHOLE = new RegExp(DURATION_PATTERN);
const PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)/g;

/**
 * "1h30m" -> 5400000. Surrounding blanks are ignored (a flag value may carry them); anything else
 * outside the grammar, or a total beyond what milliseconds can count exactly, gives undefined.
 */
export function parseDuration(text: string): number | undefined {
  const s = String(text).trim();
  if (!WHOLE.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  const out = Math.round(ms);
  return Number.isSafeInteger(out) ? out : undefined;
}

/** Milliseconds as the grammar writes them, largest units first: 5400000 -> "1h30m", 250 -> "250ms". */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const unit of DURATION_UNITS) {
    const size = UNIT_MS[unit];
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

export interface DurationBounds {
  minMs: number;
  maxMs?: number;
}

/**
 * Checks text against the grammar and a setting's bounds. Returns the milliseconds, or what was
 * wrong as `expected ...` (the caller adds where the value came from).
 */
export function checkDuration(
  text: unknown,
  bounds: DurationBounds,
): { ms: number } | { expected: string; hint: string } {
  const ms = typeof text === 'string' ? parseDuration(text) : undefined;
  if (ms === undefined)
    return {
      expected: `a duration such as ${DURATION_EXAMPLES}`,
      // A bare number is the one mistake whose fix is a guess between two units.
      hint: typeof text === 'number' ? ` (write ${text}ms or ${text}s)` : '',
    };
  if (ms < bounds.minMs || (bounds.maxMs !== undefined && ms > bounds.maxMs))
    return { expected: durationRange(bounds), hint: '' };
  return { ms };
}

/** "a duration of at least 1ms", "a duration from 1ms to 10m", "a duration" in words. */
export function durationRange(b: DurationBounds): string {
  const min = b.minMs === 1 ? 'greater than zero' : `of at least ${formatDuration(b.minMs)}`;
  if (b.maxMs !== undefined)
    return b.minMs > 0
      ? `a duration from ${formatDuration(b.minMs)} to ${formatDuration(b.maxMs)}`
      : `a duration of at most ${formatDuration(b.maxMs)}`;
  return b.minMs > 0 ? `a duration ${min}` : 'a duration';
}
