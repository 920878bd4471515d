export type ConfigErrorCode =
  | 'syntax' // not parseable YAML
  | 'type' // wrong kind of value (string for a number, map for a list, ...)
  | 'required' // a required key is missing
  | 'unknown-key' // a key the schema does not have (or refuses, like an inline secret)
  | 'range' // right type, value out of range or not one of the allowed values
  | 'duplicate' // a name used twice
  | 'reference' // a name that refers to nothing (route -> service, listener -> route, tls -> identity)
  | 'file' // a referenced file (certFile, keyFile, caFiles) cannot be read or is not PEM
  | 'environment' // a setting names something outside the file that is missing (an unset variable)
  | 'io'; // the config file itself cannot be read

/** Where a value was written. line and col are 1-based; 0 when the value did not come from a file. */
export interface Loc {
  /** Dotted path with list indexes: `services[1].endpoints[0].port`; '' for the whole file. */
  path: string;
  line: number;
  col: number;
}

/**
 * One problem in meshgate's configuration, wherever it was found: the config file (any section,
 * whichever package owns it), a flag, an environment variable. Located by file, line:column and
 * the dotted path; the message says what was wrong and what to write instead. Never contains key
 * material or tokens: only names, paths and the offending value's shape.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** The config file; '' when the value came from elsewhere (flags, env, a program). */
  readonly file: string;
  readonly path: string;
  readonly line: number;
  readonly col: number;
  /** What was wrong, without the location. */
  readonly reason: string;
  /** What to write instead, when it is not already part of `reason`. */
  readonly fix: string | undefined;

  constructor(code: ConfigErrorCode, file: string, at: Loc, reason: string, fix?: string) {
    const where = file && at.line > 0 ? `${file}:${at.line}:${at.col}: ` : file ? `${file}: ` : '';
    super(`${where}${at.path ? `${at.path}: ` : ''}${reason}${fix ? `; ${fix}` : ''}`);
    this.name = 'ConfigError';
    this.code = code;
    this.file = file;
    this.path = at.path;
    this.line = at.line;
    this.col = at.col;
    this.reason = reason;
    this.fix = fix;
  }
}

/**
 * Thrown where a caller can only go on with a valid configuration (start-up): every problem
 * found, in file order. The message lists them one per line, as `meshgate validate` prints them.
 */
export class InvalidConfigError extends Error {
  readonly code = 'E_CONFIG';
  readonly problems: readonly ConfigError[];
  constructor(problems: readonly ConfigError[]) {
    super(formatErrors([...problems]));
    this.name = 'InvalidConfigError';
    this.problems = problems;
  }
}

export function formatErrors(errors: readonly ConfigError[], max = 20): string {
  const lines = errors.slice(0, max).map((e) => e.message);
  if (errors.length > max) lines.push(`... and ${errors.length - max} more`);
  return lines.join('\n');
}

/** File order: by line, then column; problems without a line keep their order, after those with one. */
export function sortErrors(errors: readonly ConfigError[]): ConfigError[] {
  const key = (e: ConfigError) => (e.line > 0 ? e.line : Number.MAX_SAFE_INTEGER);
  return [...errors].sort((a, b) => key(a) - key(b) || a.col - b.col);
}
