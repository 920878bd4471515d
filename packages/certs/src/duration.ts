import { checkDuration, formatDuration as formatExact } from '@meshgate/config-schema';
import { CertError } from './errors.ts';

/**
 * Parses a lifetime such as `--ttl` with meshgate's one duration grammar (`90s`, `1h30m`, `7d`,
 * Go-style sums such as `24h0m0s`, which Linkerd and Istio print) into milliseconds. A bare
 * number is refused (its unit would be a guess), and so is anything below `minMs` (default: a
 * lifetime must be greater than zero).
 */
export function parseDuration(input: string, what = 'duration', minMs = 1): number {
  const s = String(input ?? '').trim();
  const r = checkDuration(s, { minMs });
  if ('expected' in r) throw new CertError('DURATION_INVALID', `invalid ${what} "${s}": use ${r.expected}`);
  return r.ms;
}

/** For messages: whole seconds once above a second (`1d1h1m1s`), milliseconds below. */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  return ms >= 1000 ? formatExact(Math.round(ms / 1000) * 1000) : `${Math.round(ms)}ms`;
}
