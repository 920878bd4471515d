// Files generated from the one config schema: the reference docs' tables and the `config` part of
// the Helm chart's values schema. `npm run gen:config-docs` writes them; config-docs.test.ts fails
// when the committed files differ, so neither can drift from what meshgate accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fillDoc, toJsonSchema } from '@meshgate/config-schema';
import { CONFIG_SCHEMA } from './config-schema.ts';

export const DOCS_FILE = 'docs/config-reference.md';
export const CHART_SCHEMA_FILE = 'charts/meshgate/values.schema.json';

const CHART_CONFIG_DOC =
  'the meshgate config file (docs/config-reference.md); the chart renders it into a ConfigMap. Checked here for keys, types, enums and ranges; `meshgate validate` checks the rest';

/** Each generated file's path (relative to the repository root) and its content as it should be. */
export function generatedFiles(root: string): { path: string; content: string }[] {
  const doc = readFileSync(join(root, DOCS_FILE), 'utf8');
  const values = JSON.parse(readFileSync(join(root, CHART_SCHEMA_FILE), 'utf8')) as {
    properties: Record<string, unknown>;
  };
  values.properties.config = toJsonSchema(CONFIG_SCHEMA, CHART_CONFIG_DOC);
  return [
    { path: DOCS_FILE, content: fillDoc(doc, CONFIG_SCHEMA) },
    { path: CHART_SCHEMA_FILE, content: `${JSON.stringify(values, null, 2)}\n` },
  ];
}
