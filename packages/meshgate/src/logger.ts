import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

const SECRET_KEYS = [
  'privateKeyPem',
  'private_key',
  'privateKey',
  'token',
  'aclToken',
  'password',
  'authorization',
  'inline_bytes',
  'inline_string',
  'keyPem',
];

/** Redaction paths for secret keys at the top level and up to three levels down. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * JSON logs to stderr so that commands printing results (bootstrap, translate) keep stdout
 * clean; serve logs there too, which container runtimes collect the same way.
 */
export function createLogger(level = 'info', destination: pino.DestinationStream = pino.destination(2)): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`log level ${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(', ')}`);
  }
  return pino(
    { level, base: { name: 'meshgate' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination,
  );
}
