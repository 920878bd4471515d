import { CertError } from './errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parse "90s", "15m", "24h", "7d", "500ms" and Go-style sums such as "24h0m0s" or "1h30m" (Linkerd and Istio
 * print durations that way) into milliseconds. A bare number is refused: its unit would be a guess.
 */
export function parseDuration(input: string, what = 'duration'): number {
  const s = String(input ?? '').trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length) {
    throw new CertError(
      'DURATION_INVALID',
      `invalid ${what} "${s}": use a number with a unit, e.g. 90s, 15m, 24h or 7d`,
    );
  }
  if (total <= 0) throw new CertError('DURATION_INVALID', `invalid ${what} "${s}": it must be greater than zero`);
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length ? parts.join('') : `${ms}ms`;
}
