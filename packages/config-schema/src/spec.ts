/**
 * A small schema language: enough to check meshgate's config file and report every problem with
 * file, path and line:column, and to generate the reference docs and the Helm chart's JSON schema
 * from the same object, so none of them can drift from what the code accepts.
 */
export type Spec =
  | StringSpec
  | { kind: 'int'; min: number; max: number; typeName?: string }
  /** The one duration grammar (duration.ts); the value read is milliseconds. `minMs: 0` allows `0s`. */
  | { kind: 'duration'; minMs: number; maxMs?: number }
  /** `hint`: the fix added to a refusal, for a switch whose wrong value deserves more than "true or false". */
  | { kind: 'bool'; hint?: string }
  | { kind: 'list'; of: Spec; nonEmpty?: boolean; typeName?: string; hint?: string }
  | { kind: 'headers' } // map of header name -> string value; read as [{ name (lower-cased), value }]
  | ObjectSpec
  | { kind: 'stringOrObject'; object: ObjectSpec; typeName?: string }
  | { kind: 'any' }; // accepted unchecked (a section some other program checks)

export interface StringSpec {
  kind: 'string';
  pattern?: RegExp;
  /** Shown after an invalid value: what a valid one looks like. */
  hint?: string;
  enum?: readonly string[];
  nonEmpty?: boolean;
  /** A rule beyond the pattern; returns what is wrong (and how to fix it) or undefined. */
  check?: (value: string) => string | undefined;
  /** How the docs name the type (`name`, `host`, `path`); default "string". */
  typeName?: string;
}

export interface ObjectSpec {
  kind: 'object';
  fields: Record<string, Field>;
  /** Each group: exactly one of these keys must be set. */
  oneOf?: string[][];
  /** Each group: set all of these keys or none. */
  together?: string[][];
  /** Keys recognised only to be refused, with the reason and the fix (e.g. an inline secret). */
  refused?: Record<string, string>;
  /** How the docs name the type (`endpoint`, `tls`); default "map". */
  typeName?: string;
}

export interface Field {
  spec: Spec;
  required?: boolean;
  /** The default, written as it would be in the file (`5s`, `[]`, `http`); shown in the docs. */
  default?: string;
  /** What the setting does, for the docs and the chart's schema. */
  doc: string;
  /** A command-line flag of `meshgate serve` that overrides it (without the dashes). */
  flag?: string;
  /** An environment variable that overrides it (below the flag, above the file). */
  env?: string;
}

/** A top-level section of the config file, contributed by the package that owns it. */
export interface ConfigSection {
  /** Top-level key, e.g. `consul`. */
  key: string;
  field: Field;
  /** The npm package that owns (and converts) it, for the docs. */
  owner: string;
}

/** One object schema for the whole file. Two sections with the same key are a programming error. */
export function composeSchema(sections: readonly ConfigSection[]): ObjectSpec {
  const fields: Record<string, Field> = {};
  for (const s of sections) {
    if (s.key in fields) throw new Error(`config section ${JSON.stringify(s.key)} is contributed twice`);
    fields[s.key] = s.field;
  }
  return { kind: 'object', fields };
}

/** What a value of `spec` looks like, in the words messages use after "expected". */
export function expected(spec: Spec): string {
  switch (spec.kind) {
    case 'int':
      return `${spec.typeName ? `a ${spec.typeName}` : 'an integer'} ${spec.min}..${spec.max}`;
    case 'bool':
      return 'true or false';
    case 'duration':
      return 'a duration';
    case 'string':
      return spec.enum ? `one of ${spec.enum.join(', ')}` : 'a string';
    case 'list':
      return spec.hint ?? 'a list (- item or [a, b])';
    case 'headers':
      return 'a map of header name to value, e.g. { x-env: prod }';
    case 'object':
      return `a map with keys ${Object.keys(spec.fields).join(', ')}`;
    case 'stringOrObject':
      return `a string or ${expected(spec.object)}`;
    case 'any':
      return 'anything';
  }
}
