// Markdown generated from the schema. A hand-written page (prose, examples) holds marker blocks;
// `fillDoc` regenerates what is between them, so every key's type, default and meaning in the docs
// is the schema's, and a key the page has no table for is an error rather than a silent omission.
//
//   <!-- BEGIN config-table services -->      every key below `services` (not in a deeper table)
//   <!-- END config-table -->
//   <!-- BEGIN config-table . -->             the top-level keys (only)
//   <!-- BEGIN config-durations -->           the duration grammar, in words
import { DURATION_EXAMPLES, DURATION_UNITS, formatDuration } from './duration.ts';
import type { Field, ObjectSpec, Spec } from './spec.ts';

interface Row {
  path: string;
  field?: Field;
  /** For a refused key: why. */
  refused?: string;
}

function rows(schema: ObjectSpec): Row[] {
  const out: Row[] = [];
  const walk = (spec: Spec, path: string) => {
    if (spec.kind === 'list') return walk(spec.of, path);
    if (spec.kind === 'stringOrObject') return walk(spec.object, path);
    if (spec.kind !== 'object') return;
    for (const [k, f] of Object.entries(spec.fields)) {
      const p = path ? `${path}.${k}` : k;
      out.push({ path: p, field: f });
      walk(f.spec, p);
    }
    for (const [k, why] of Object.entries(spec.refused ?? {}))
      out.push({ path: path ? `${path}.${k}` : k, refused: why });
  };
  walk(schema, '');
  return out;
}

/** The type as the docs write it. */
export function typeText(spec: Spec): string {
  switch (spec.kind) {
    case 'string':
      return spec.typeName ?? (spec.enum ? spec.enum.map((e) => `\`${e}\``).join(' | ') : 'string');
    case 'int':
      return `integer ${spec.min}..${spec.max}`;
    case 'duration':
      if (spec.maxMs !== undefined) return `duration ${formatDuration(spec.minMs)}..${formatDuration(spec.maxMs)}`;
      return spec.minMs === 0
        ? 'duration (`0s` allowed)'
        : spec.minMs === 1
          ? 'duration > 0'
          : `duration ≥ ${formatDuration(spec.minMs)}`;
    case 'bool':
      return 'bool';
    case 'list': {
      if (spec.typeName) return spec.typeName;
      const inner = typeText(spec.of);
      // "identity" -> "identities", "trust bundle" -> "trust bundles", "IP address" -> "IP addresses".
      const plural = !/^[A-Za-z ]+$/.test(inner)
        ? inner
        : /[^aeiou]y$/.test(inner)
          ? `${inner.slice(0, -1)}ies`
          : /(s|x)$/.test(inner)
            ? `${inner}es`
            : `${inner}s`;
      return `${spec.nonEmpty ? 'non-empty list' : 'list'} of ${plural}`;
    }
    case 'headers':
      return 'headers';
    case 'object':
      return spec.typeName ?? 'map';
    case 'stringOrObject':
      return spec.typeName ?? 'string or map';
    case 'any':
      return 'any';
  }
}

function meaning(f: Field): string {
  const over = [f.flag ? `flag \`--${f.flag}\`` : '', f.env ? `env \`${f.env}\`` : ''].filter(Boolean).join(', ');
  return over ? `${f.doc}; ${over}` : f.doc;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(header: string[], body: string[][]): string {
  const all = [header, ...body].map((r) => r.map(cell));
  const w = header.map((_, i) => Math.max(3, ...all.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(all[0]), `| ${w.map((n) => '-'.repeat(n)).join(' | ')} |`, ...all.slice(1).map(line)].join('\n');
}

/** The duration grammar in words, for the docs. */
export function durationText(): string {
  return [
    `A **duration** is a number and a unit, or several of them summed, Go-style: ${DURATION_EXAMPLES.split(/, | or /)
      .map((d) => `\`${d}\``)
      .join(', ')}.`,
    `Units: ${DURATION_UNITS.map((u) => `\`${u}\``).join(', ')}; fractions are allowed (\`1.5s\`); a bare number is`,
    'an error (its unit would be a guess). The same grammar applies to every duration key, flag and environment',
    'variable, and to `meshgate certs issue --ttl`. Whether `0s` is allowed is said per key in the tables below.',
  ].join('\n');
}

const BLOCK = /(<!-- BEGIN (config-table|config-durations)(?: ([^ ]+))? -->\n)([\s\S]*?)(<!-- END \2 -->)/g;

/**
 * Regenerates every marker block of `doc` from `schema`. Throws when a key of the schema lands in
 * no table (add a marker block for it) or a marker names a path the schema does not have.
 */
export function fillDoc(doc: string, schema: ObjectSpec): string {
  const all = rows(schema);
  const roots = [...doc.matchAll(BLOCK)].filter((m) => m[2] === 'config-table').map((m) => m[3] ?? '.');
  for (const r of roots)
    if (r !== '.' && !all.some((row) => row.path === r))
      throw new Error(`docs marker "config-table ${r}" names no key of the config schema`);
  // `.` holds the top-level keys only, so a new section's keys need a table of their own.
  const under = (p: string, root: string) => (root === '.' ? !p.includes('.') : p.startsWith(`${root}.`));
  // Each key goes to the deepest table whose root it is strictly below.
  const home = new Map<string, string>();
  for (const row of all) {
    const best = roots.filter((r) => under(row.path, r)).sort((a, b) => b.length - a.length)[0];
    if (best === undefined)
      throw new Error(`config key ${row.path} is in no table of the docs: add a "config-table" marker block`);
    home.set(row.path, best);
  }
  return doc.replace(BLOCK, (_m, begin: string, kind: string, root: string | undefined, _body: string, end: string) => {
    if (kind === 'config-durations') return `${begin}${durationText()}\n${end}`;
    const body = all
      .filter((row) => home.get(row.path) === (root ?? '.'))
      .map((row) =>
        row.refused
          ? [`\`${row.path}\``, 'refused', '', row.refused]
          : [
              `\`${row.path}\``,
              typeText(row.field!.spec),
              row.field!.default !== undefined
                ? `\`${row.field!.default}\``
                : row.field!.required
                  ? 'required'
                  : 'none',
              meaning(row.field!),
            ],
      );
    return `${begin}\n${table(['key', 'type', 'default', 'meaning'], body)}\n\n${end}`;
  });
}
