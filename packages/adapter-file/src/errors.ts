export type ConfigErrorCode =
  | 'syntax' // not parseable YAML
  | 'type' // wrong kind of value (string for a number, map for a list, ...)
  | 'required' // a required key is missing
  | 'unknown-key' // a key the schema does not have
  | 'range' // right type, value out of range or not one of the allowed values
  | 'duplicate' // a name used twice
  | 'reference' // a name that refers to nothing (route -> service, listener -> route, tls -> identity)
  | 'file' // a referenced file (certFile, keyFile, caFiles) cannot be read or is not PEM
  | 'io'; // the config file itself cannot be read

/**
 * One problem in a config file, located by file, path (`services[1].endpoints[0].port`) and
 * line:column (1-based). The message says what to write instead. Never contains key material.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly path: string;
  readonly line: number;
  readonly col: number;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(code: ConfigErrorCode, file: string, path: string, line: number, col: number, reason: string) {
    super(`${file}:${line}:${col}: ${path ? `${path}: ` : ''}${reason}`);
    this.name = 'ConfigError';
    this.code = code;
    this.file = file;
    this.path = path;
    this.line = line;
    this.col = col;
    this.reason = reason;
  }
}

export function formatErrors(errors: ConfigError[], max = 20): string {
  const lines = errors.slice(0, max).map((e) => e.message);
  if (errors.length > max) lines.push(`... and ${errors.length - max} more`);
  return lines.join('\n');
}
