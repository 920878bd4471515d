import { readFileSync } from 'node:fs';
import { Document, LineCounter, parseDocument, type Node } from 'yaml';
import { checkDuration } from './duration.ts';
import { ConfigError, sortErrors } from './errors.ts';
import { Reader } from './reader.ts';
import { expected, type ObjectSpec, type Spec } from './spec.ts';

/** Reads a config file; a failure is the one `io` error every reader of the file reports alike. */
export function readConfigText(file: string): { text: string } | { error: ConfigError } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return {
      error: new ConfigError(
        'io',
        file,
        { path: '', line: 1, col: 1 },
        `cannot read the config file (${code})`,
        'check the path (--config) and its permissions',
      ),
    };
  }
}

export interface CheckedText {
  /** Each top-level section that was right, read (durations in ms, headers as lists, ...). */
  values: Record<string, unknown>;
  /** Top-level keys that had problems (their values are absent from `values`). */
  failed: Set<string>;
  /** Every problem, in file order. */
  errors: ConfigError[];
  /** Knows where every value was written: converters report their own findings through it. */
  reader: Reader;
  /** Set when the text is not YAML (then nothing else was checked). */
  syntax: boolean;
}

/**
 * Parses YAML text and checks it against the whole-file schema. Duplicate keys are syntax errors;
 * every problem is reported at once, with its line and column.
 */
export function checkConfigText(text: string, file: string, schema: ObjectSpec): CheckedText {
  const lines = new LineCounter();
  const reader = new Reader(file, lines);
  const doc = parseDocument(text, {
    keepSourceTokens: true,
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      const first = e.message.split('\n')[0].replace(/ at line \d+, column \d+.*$/, '');
      reader.error('syntax', { path: '', line: pos.line, col: pos.col }, `YAML syntax error: ${first}`);
    }
    return { values: {}, failed: new Set(), errors: sortErrors(reader.errors), reader, syntax: true };
  }
  const root = doc.contents as Node | null;
  const { values, failed } = reader.readSections(root, schema, reader.loc(root, ''));
  return { values, failed, errors: sortErrors(reader.errors), reader, syntax: false };
}

/**
 * Checks a plain value (from a program, or already parsed) against `spec`, reporting problems
 * under `path` (e.g. `consul`) without line numbers.
 */
export function checkValue(value: unknown, spec: Spec, path: string): { value?: unknown; reader: Reader } {
  const reader = new Reader('');
  const node = value === undefined || value === null ? null : (new Document(value).contents as Node);
  const at = { path, line: 0, col: 0 };
  const v = node === null ? undefined : reader.read(node, spec, path, at);
  return { ...(v !== undefined ? { value: v } : {}), reader };
}

/**
 * Reads a flag or environment value (always text) as `spec` says: integers, booleans, durations
 * and strings. The same rules as in the file, so `--ttl 1h30m` and `ttl: 1h30m` agree.
 */
export function readText(text: string, spec: Spec): { value: unknown } | { expected: string } {
  const t = text.trim();
  switch (spec.kind) {
    case 'int': {
      const n = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
      return Number.isSafeInteger(n) && n >= spec.min && n <= spec.max ? { value: n } : { expected: expected(spec) };
    }
    case 'bool':
      return t === 'true' || t === 'false' ? { value: t === 'true' } : { expected: expected(spec) };
    case 'duration': {
      const r = checkDuration(t, spec);
      return 'ms' in r ? { value: r.ms } : { expected: r.expected };
    }
    case 'string': {
      if (spec.enum && !spec.enum.includes(t)) return { expected: expected(spec) };
      if ((spec.nonEmpty || spec.pattern) && t === '') return { expected: 'a non-empty string' };
      if (spec.pattern && !spec.pattern.test(t)) return { expected: spec.hint ?? `a value matching ${spec.pattern}` };
      const bad = spec.check?.(t);
      return bad ? { expected: bad } : { value: t };
    }
    default:
      throw new Error(`a ${spec.kind} setting cannot be given as text`);
  }
}
