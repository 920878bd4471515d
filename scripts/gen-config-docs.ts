// Regenerates the files derived from meshgate's one config schema (docs/config-reference.md's tables,
// the `config` part of charts/meshgate/values.schema.json). Run after changing any config section:
//   npm run gen:config-docs
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles } from '@meshgate/meshgate/config-docs';

const root = new URL('..', import.meta.url).pathname;
for (const f of generatedFiles(root)) {
  const file = join(root, f.path);
  if (readFileSync(file, 'utf8') === f.content) continue;
  writeFileSync(file, f.content);
  console.log(`updated ${f.path}`);
}
