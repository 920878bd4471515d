// JSON Schema (draft 7 subset) generated from the schema, for the Helm chart's values.schema.json:
// keys, types, enums, ranges and patterns. Rules JSON Schema cannot say well (one-of groups,
// cross-field checks, files, references) are left to `meshgate validate`, which the chart's test
// runs on every rendered config.
import { DURATION_EXAMPLES, DURATION_PATTERN } from './duration.ts';
import type { Spec } from './spec.ts';

type Json = Record<string, unknown>;

function withDoc(s: Json, doc: string | undefined): Json {
  if (!doc) return s;
  const { type, ...rest } = s;
  return type === undefined ? { description: doc, ...rest } : { type, description: doc, ...rest };
}

/** The JSON Schema of `spec`; `doc` becomes its description. */
export function toJsonSchema(spec: Spec, doc?: string): Json {
  switch (spec.kind) {
    case 'string':
      return withDoc(
        {
          type: 'string',
          ...(spec.enum ? { enum: [...spec.enum] } : {}),
          ...(spec.nonEmpty || spec.pattern ? { minLength: 1 } : {}),
          ...(spec.pattern ? { pattern: spec.pattern.source } : {}),
        },
        doc,
      );
    case 'int':
      return withDoc({ type: 'integer', minimum: spec.min, maximum: spec.max }, doc);
    case 'duration':
      return withDoc(
        { type: 'string', pattern: DURATION_PATTERN },
        `${doc ? `${doc}; ` : ''}a duration such as ${DURATION_EXAMPLES}`,
      );
    case 'bool':
      return withDoc({ type: 'boolean' }, doc);
    case 'list':
      return withDoc({ type: 'array', ...(spec.nonEmpty ? { minItems: 1 } : {}), items: toJsonSchema(spec.of) }, doc);
    case 'headers':
      return withDoc(
        {
          type: 'object',
          propertyNames: { pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
          additionalProperties: { type: 'string' },
        },
        doc,
      );
    case 'object': {
      const required = Object.entries(spec.fields)
        .filter(([, f]) => f.required)
        .map(([k]) => k);
      return withDoc(
        {
          type: 'object',
          additionalProperties: false,
          properties: Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, toJsonSchema(f.spec, f.doc)])),
          ...(required.length ? { required } : {}),
        },
        doc,
      );
    }
    case 'stringOrObject':
      return withDoc({ oneOf: [{ type: 'string', minLength: 1 }, toJsonSchema(spec.object)] }, doc);
    case 'any':
      return withDoc({}, doc);
  }
}
