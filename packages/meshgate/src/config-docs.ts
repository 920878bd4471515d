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

interface ChartJson {
  properties?: Record<string, ChartJson>;
  required?: string[];
}

/** Each generated file's path (relative to the repository root) and its content as it should be. */
export function generatedFiles(root: string): { path: string; content: string }[] {
  const doc = readFileSync(join(root, DOCS_FILE), 'utf8');
  const values = JSON.parse(readFileSync(join(root, CHART_SCHEMA_FILE), 'utf8')) as {
    properties: Record<string, unknown>;
  };
  const config = toJsonSchema(CONFIG_SCHEMA, CHART_CONFIG_DOC) as ChartJson;
  // With istio.identity.enabled the chart fills in istio.serviceAccount (the release's ServiceAccount, whose token it
  // mounts), so values may leave it out; the template fails when neither is there.
  const istio = config.properties?.istio;
  if (istio?.required) {
    istio.required = istio.required.filter((k) => k !== 'serviceAccount');
    if (!istio.required.length) delete istio.required;
  }
  // Likewise linkerd.identity.enabled fills in linkerd.serviceAccount and linkerd.namespace.
  const linkerd = config.properties?.linkerd;
  if (linkerd?.required) {
    linkerd.required = linkerd.required.filter((k) => k !== 'serviceAccount' && k !== 'namespace');
    if (!linkerd.required.length) delete linkerd.required;
  }
  values.properties.config = config;
  return [
    { path: DOCS_FILE, content: fillDoc(doc, CONFIG_SCHEMA) },
    { path: CHART_SCHEMA_FILE, content: `${JSON.stringify(values, null, 2)}\n` },
  ];
}
