import { isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from 'yaml';
import { ConfigError, type ConfigErrorCode } from './errors.ts';
import { closest } from './suggest.ts';

/**
 * A small hand-written schema language: enough to check the config file, report every
 * problem with file, path and line:column, and keep the reference docs honest (a test checks
 * that every key here is documented in docs/config-reference.md).
 */
export type Spec =
  | { kind: 'string'; pattern?: RegExp; hint?: string; enum?: readonly string[]; nonEmpty?: boolean }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'duration'; minMs: number }
  | { kind: 'bool' }
  | { kind: 'list'; of: Spec; nonEmpty?: boolean }
  | { kind: 'headers' } // map of header name -> string value
  | { kind: 'object'; fields: Record<string, Field>; oneOf?: string[][] }
  | { kind: 'stringOrObject'; object: Extract<Spec, { kind: 'object' }> }
  | { kind: 'any' }; // a section another component checks (meshgate's own top-level keys)

export interface Field {
  spec: Spec;
  required?: boolean;
  /** The default as documented; conversion applies it. */
  default?: string;
  doc: string;
}

/** Where a value came from, for errors found after conversion (references, duplicates). */
export interface Loc {
  path: string;
  line: number;
  col: number;
}

export class Reader {
  readonly errors: ConfigError[] = [];
  readonly file: string;
  readonly lines: LineCounter;
  /** Produced plain object -> where it was written. */
  readonly locs = new WeakMap<object, Loc>();
  /** Path (`listeners[0].routes[1]`) -> where its value was written. */
  readonly pathLocs = new Map<string, Loc>();

  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
  }

  loc(node: Node | null | undefined, path: string, fallback?: Loc): Loc {
    const offset = node?.range?.[0];
    if (offset === undefined) return fallback ? { ...fallback, path } : { path, line: 1, col: 1 };
    const p = this.lines.linePos(offset);
    return { path, line: p.line, col: p.col };
  }

  error(code: ConfigErrorCode, at: Loc, reason: string): void {
    this.errors.push(new ConfigError(code, this.file, at.path, at.line, at.col, reason));
  }

  /** Reads `node` against `spec`. Returns undefined (and records an error) when it does not fit. */
  read(node: Node | null | undefined, spec: Spec, path: string, at: Loc): unknown {
    this.pathLocs.set(path, at);
    switch (spec.kind) {
      case 'any':
        return true;
      case 'string':
        return this.readString(node, spec, at);
      case 'int': {
        const v = this.scalar(node);
        if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) {
          this.error(
            typeof v === 'number' && Number.isInteger(v) ? 'range' : 'type',
            at,
            `expected an integer ${spec.min}..${spec.max}, got ${show(node)}`,
          );
          return undefined;
        }
        return v;
      }
      case 'bool': {
        const v = this.scalar(node);
        if (typeof v !== 'boolean') {
          this.error('type', at, `expected true or false, got ${show(node)}`);
          return undefined;
        }
        return v;
      }
      case 'duration': {
        const v = this.scalar(node);
        const ms = typeof v === 'string' ? parseDuration(v) : undefined;
        if (ms === undefined) {
          this.error(
            'type',
            at,
            `expected a duration such as 250ms, 2s, 1m30s, got ${show(node)}${typeof v === 'number' ? ` (write ${v}ms or ${v}s)` : ''}`,
          );
          return undefined;
        }
        if (ms < spec.minMs) {
          this.error('range', at, `expected a duration of at least ${spec.minMs}ms, got ${show(node)}`);
          return undefined;
        }
        return ms;
      }
      case 'list': {
        if (!isSeq(node)) {
          this.error('type', at, `expected a list (- item or [a, b]), got ${show(node)}`);
          return undefined;
        }
        if (spec.nonEmpty && node.items.length === 0) {
          this.error('range', at, 'expected at least one item');
          return undefined;
        }
        const out: unknown[] = [];
        node.items.forEach((item, i) => {
          const p = `${path}[${i}]`;
          const v = this.read(item as Node, spec.of, p, this.loc(item as Node, p, at));
          if (v !== undefined) out.push(v);
        });
        return out;
      }
      case 'headers': {
        if (!isMap(node)) {
          this.error('type', at, `expected a map of header name to value, e.g. { x-env: prod }, got ${show(node)}`);
          return undefined;
        }
        const out: { name: string; value: string }[] = [];
        for (const pair of node.items as Pair<Node, Node>[]) {
          const name = this.scalar(pair.key);
          const p = `${path}.${String(name)}`;
          if (typeof name !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
            this.error(
              'type',
              this.loc(pair.key, p, at),
              `invalid header name ${show(pair.key)}: use letters, digits and -`,
            );
            continue;
          }
          const value = this.readString(pair.value, { kind: 'string' }, this.loc(pair.value ?? pair.key, p, at));
          if (value !== undefined) out.push({ name: name.toLowerCase(), value });
        }
        return out;
      }
      case 'stringOrObject':
        if (isScalar(node)) return this.readString(node, { kind: 'string', nonEmpty: true }, at);
        return this.read(node, spec.object, path, at);
      case 'object':
        return this.readObject(node, spec, path, at);
    }
  }

  private readString(
    node: Node | null | undefined,
    spec: Extract<Spec, { kind: 'string' }>,
    at: Loc,
  ): string | undefined {
    const v = this.scalar(node);
    if (typeof v !== 'string') {
      const quoted = typeof v === 'number' || typeof v === 'boolean' ? ` (quote it: "${String(v)}")` : '';
      this.error('type', at, `expected a string, got ${show(node)}${quoted}`);
      return undefined;
    }
    if (spec.enum && !spec.enum.includes(v)) {
      const near = closest(v, [...spec.enum]);
      this.error(
        'range',
        at,
        `expected one of ${spec.enum.join(', ')}, got ${JSON.stringify(v)}${near ? ` (did you mean ${near}?)` : ''}`,
      );
      return undefined;
    }
    if ((spec.nonEmpty || spec.pattern) && v === '') {
      this.error('range', at, `expected a non-empty string${spec.hint ? ` (${spec.hint})` : ''}`);
      return undefined;
    }
    if (spec.pattern && !spec.pattern.test(v)) {
      this.error('range', at, `invalid value ${JSON.stringify(v)}${spec.hint ? `: ${spec.hint}` : ''}`);
      return undefined;
    }
    return v;
  }

  private readObject(
    node: Node | null | undefined,
    spec: Extract<Spec, { kind: 'object' }>,
    path: string,
    at: Loc,
  ): Record<string, unknown> | undefined {
    if (!isMap(node)) {
      this.error('type', at, `expected a map with keys ${Object.keys(spec.fields).join(', ')}, got ${show(node)}`);
      return undefined;
    }
    const out: Record<string, unknown> = {};
    let ok = true;
    const seen = new Set<string>();
    for (const pair of node.items as Pair<Node, Node>[]) {
      const key = this.scalar(pair.key);
      const keyPath = `${path}${path ? '.' : ''}${String(key)}`;
      const keyAt = this.loc(pair.key, keyPath, at);
      const field = typeof key === 'string' ? spec.fields[key] : undefined;
      if (!field) {
        const near = typeof key === 'string' ? closest(key, Object.keys(spec.fields)) : undefined;
        this.error(
          'unknown-key',
          keyAt,
          `unknown key ${JSON.stringify(key)}${near ? `; did you mean ${JSON.stringify(near)}?` : ''} (allowed: ${Object.keys(spec.fields).join(', ')})`,
        );
        ok = false;
        continue;
      }
      seen.add(key as string);
      if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) {
        if (field.required) {
          this.error('required', keyAt, `${String(key)} has no value`);
          ok = false;
        }
        continue; // an empty optional key means "default"
      }
      const v = this.read(pair.value, field.spec, keyPath, this.loc(pair.value, keyPath, keyAt));
      if (v === undefined) ok = false;
      else out[key as string] = v;
    }
    for (const [k, f] of Object.entries(spec.fields)) {
      if (f.required && !seen.has(k)) {
        this.error('required', at, `missing required key ${JSON.stringify(k)} (${f.doc})`);
        ok = false;
      }
    }
    for (const group of spec.oneOf ?? []) {
      const present = group.filter((k) => seen.has(k));
      if (present.length !== 1) {
        this.error(
          'required',
          at,
          present.length === 0 ? `set one of ${group.join(', ')}` : `set only one of ${present.join(', ')}`,
        );
        ok = false;
      }
    }
    if (!ok) return undefined;
    this.locs.set(out, at);
    return out;
  }

  private scalar(node: Node | null | undefined): unknown {
    return isScalar(node) ? node.value : node === null || node === undefined ? null : node;
  }
}

function show(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : JSON.stringify(node.value);
  return 'an unsupported value';
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "2s", "1.5s", "1m30s" -> milliseconds; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(ms);
}
