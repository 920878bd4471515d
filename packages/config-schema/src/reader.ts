import { isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from 'yaml';
import { checkDuration, parseDuration } from './duration.ts';
import { ConfigError, type ConfigErrorCode, type Loc } from './errors.ts';
import { expected, type ObjectSpec, type Spec, type StringSpec } from './spec.ts';
import { closest } from './suggest.ts';

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * Reads YAML nodes against a Spec, collecting every problem as a located ConfigError, and
 * remembers where each value was written so that checks done after reading (references,
 * duplicates, files, cross-field rules) can be reported at the right line too.
 */
export class Reader {
  readonly errors: ConfigError[] = [];
  readonly file: string;
  readonly lines: LineCounter | undefined;
  /** Produced plain object -> where it was written. */
  readonly locs = new WeakMap<object, Loc>();
  /** Path (`listeners[0].routes[1]`) -> where its value was written. */
  readonly pathLocs = new Map<string, Loc>();

  /** `lines` absent: the nodes did not come from text (a program's plain value); locations are 0. */
  constructor(file: string, lines?: LineCounter) {
    this.file = file;
    this.lines = lines;
  }

  loc(node: Node | null | undefined, path: string, fallback?: Loc): Loc {
    const offset = node?.range?.[0];
    if (offset === undefined || !this.lines)
      return fallback ? { ...fallback, path } : { path, line: this.lines ? 1 : 0, col: this.lines ? 1 : 0 };
    const p = this.lines.linePos(offset);
    return { path, line: p.line, col: p.col };
  }

  /** Where `path` was written, or its nearest written parent, or the file's start. */
  at(path: string): Loc {
    for (let p = path; ; ) {
      const l = this.pathLocs.get(p);
      if (l) return { ...l, path };
      if (p === '') return { path, line: this.lines ? 1 : 0, col: this.lines ? 1 : 0 };
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      p = cut > 0 ? p.slice(0, cut) : '';
    }
  }

  error(code: ConfigErrorCode, at: Loc, reason: string, fix?: string): void {
    this.errors.push(new ConfigError(code, this.file, at, reason, fix));
  }

  /** Reads `node` against `spec`. Returns undefined (and records an error) when it does not fit. */
  read(node: Node | null | undefined, spec: Spec, path: string, at: Loc): unknown {
    this.pathLocs.set(path, at);
    switch (spec.kind) {
      case 'any':
        return node === null || node === undefined ? null : isScalar(node) ? node.value : node.toJSON();
      case 'string':
        return this.readString(node, spec, at);
      case 'int': {
        const v = this.scalar(node);
        if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) {
          this.error(
            typeof v === 'number' && Number.isInteger(v) ? 'range' : 'type',
            at,
            `expected ${expected(spec)}, got ${show(node)}`,
          );
          return undefined;
        }
        return v;
      }
      case 'bool': {
        const v = this.scalar(node);
        if (typeof v !== 'boolean') {
          this.error('type', at, `expected true or false, got ${show(node)}`, spec.hint);
          return undefined;
        }
        return v;
      }
      case 'duration': {
        const v = this.scalar(node);
        const r = checkDuration(v, spec);
        if ('expected' in r) {
          const code = typeof v === 'string' && parseDuration(v) !== undefined ? 'range' : 'type';
          this.error(code, at, `expected ${r.expected}, got ${show(node)}${r.hint}`);
          return undefined;
        }
        return r.ms;
      }
      case 'list': {
        if (!isSeq(node)) {
          this.error('type', at, `expected ${expected(spec)}, got ${show(node)}`);
          return undefined;
        }
        if (spec.nonEmpty && node.items.length === 0) {
          this.error('range', at, 'expected at least one item');
          return undefined;
        }
        const out: unknown[] = [];
        let ok = true;
        node.items.forEach((item, i) => {
          const p = `${path}[${i}]`;
          const v = this.read(item as Node, spec.of, p, this.loc(item as Node, p, at));
          if (v === undefined) ok = false;
          else out.push(v);
        });
        return ok ? out : undefined;
      }
      case 'headers': {
        if (!isMap(node)) {
          this.error('type', at, `expected ${expected(spec)}, got ${show(node)}`);
          return undefined;
        }
        const out: { name: string; value: string }[] = [];
        let ok = true;
        for (const pair of node.items as Pair<Node, Node>[]) {
          const name = this.scalar(pair.key);
          const p = `${path}.${String(name)}`;
          if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
            this.error(
              'type',
              this.loc(pair.key, p, at),
              `invalid header name ${show(pair.key)}: use letters, digits and -`,
            );
            ok = false;
            continue;
          }
          const value = this.readString(pair.value, { kind: 'string' }, this.loc(pair.value ?? pair.key, p, at));
          if (value === undefined) ok = false;
          else out.push({ name: name.toLowerCase(), value });
        }
        return ok ? out : undefined;
      }
      case 'stringOrObject':
        if (isScalar(node)) return this.readString(node, { kind: 'string', nonEmpty: true }, at);
        return this.read(node, spec.object, path, at);
      case 'object':
        return this.readObject(node, spec, path, at);
    }
  }

  /**
   * Reads a map against `spec` and returns the keys that were right even when others were not:
   * the whole file's top level, where each section goes to its own converter.
   */
  readSections(
    node: Node | null | undefined,
    spec: ObjectSpec,
    at: Loc,
  ): { values: Record<string, unknown>; failed: Set<string> } {
    const failed = new Set<string>();
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return { values: {}, failed }; // an empty file is an empty config
    const out = this.readObject(node, spec, '', at, failed);
    return { values: out ?? {}, failed };
  }

  private readString(node: Node | null | undefined, spec: StringSpec, at: Loc): string | undefined {
    const v = this.scalar(node);
    if (typeof v !== 'string') {
      const quoted = typeof v === 'number' || typeof v === 'boolean' ? ` (quote it: "${String(v)}")` : '';
      this.error('type', at, `expected ${expected(spec)}, got ${show(node)}${quoted}`);
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
    const bad = spec.check?.(v);
    if (bad) {
      this.error('range', at, bad);
      return undefined;
    }
    return v;
  }

  /** With `failed`, keeps the good keys and names the bad ones there instead of giving up. */
  private readObject(
    node: Node | null | undefined,
    spec: ObjectSpec,
    path: string,
    at: Loc,
    failed?: Set<string>,
  ): Record<string, unknown> | undefined {
    if (!isMap(node)) {
      this.error('type', at, `expected ${expected(spec)}, got ${show(node)}`);
      return undefined;
    }
    const out: Record<string, unknown> = {};
    let ok = true;
    const seen = new Set<string>();
    for (const pair of node.items as Pair<Node, Node>[]) {
      const key = this.scalar(pair.key);
      const keyPath = `${path}${path ? '.' : ''}${String(key)}`;
      const keyAt = this.loc(pair.key, keyPath, at);
      const refused = typeof key === 'string' ? spec.refused?.[key] : undefined;
      if (refused) {
        // The value is never shown: refused keys are the ones that would hold secrets.
        this.error('unknown-key', keyAt, refused);
        ok = false;
        failed?.add(String(key));
        continue;
      }
      const field = typeof key === 'string' && Object.hasOwn(spec.fields, key) ? spec.fields[key] : undefined;
      if (!field) {
        const near = typeof key === 'string' ? closest(key, Object.keys(spec.fields)) : undefined;
        this.error(
          'unknown-key',
          keyAt,
          `unknown key ${JSON.stringify(key)}${near ? `; did you mean ${JSON.stringify(near)}?` : ''} (allowed: ${Object.keys(spec.fields).join(', ')})`,
        );
        ok = false;
        failed?.add(String(key));
        continue;
      }
      seen.add(key as string);
      if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) {
        this.pathLocs.set(keyPath, keyAt);
        if (field.required) {
          this.error('required', keyAt, `${String(key)} has no value`);
          ok = false;
          failed?.add(String(key));
        }
        continue; // an empty optional key means "default"
      }
      const v = this.read(pair.value, field.spec, keyPath, this.loc(pair.value, keyPath, keyAt));
      if (v === undefined) {
        ok = false;
        failed?.add(String(key));
      } else out[key as string] = v;
    }
    for (const [k, f] of Object.entries(spec.fields)) {
      if (f.required && !seen.has(k)) {
        // The doc is Markdown; a message is plain text.
        this.error('required', at, `missing required key ${JSON.stringify(k)} (${f.doc.replace(/`/g, '')})`);
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
    for (const group of spec.together ?? []) {
      const present = group.filter((k) => seen.has(k));
      if (present.length > 0 && present.length < group.length) {
        this.error(
          'required',
          at,
          `${group.join(' and ')} go together: ${group.length === 2 ? 'set both or neither' : 'set all or none'}`,
        );
        ok = false;
      }
    }
    if (failed) return out;
    if (!ok) return undefined;
    this.locs.set(out, at);
    return out;
  }

  private scalar(node: Node | null | undefined): unknown {
    return isScalar(node) ? node.value : node === null || node === undefined ? null : node;
  }
}

export function show(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : JSON.stringify(node.value);
  return 'an unsupported value';
}
