import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillDoc } from './docs.ts';
import { toJsonSchema } from './json-schema.ts';
import type { ObjectSpec } from './spec.ts';

const SCHEMA: ObjectSpec = {
  kind: 'object',
  fields: {
    xds: {
      doc: 'the server',
      spec: {
        kind: 'object',
        refused: { token: 'refused: use tokenFile' },
        fields: {
          port: { spec: { kind: 'int', min: 0, max: 65535 }, default: '18000', doc: 'port', flag: 'xds-port' },
          debounce: { spec: { kind: 'duration', minMs: 0 }, default: '100ms', doc: 'quiet period' },
        },
      },
    },
  },
};

test('marker blocks are filled from the schema; each key lands in the deepest table that covers it', () => {
  const doc = [
    '# Ref',
    '<!-- BEGIN config-table . -->',
    'stale',
    '<!-- END config-table -->',
    'prose',
    '<!-- BEGIN config-table xds -->',
    '<!-- END config-table -->',
    '',
  ].join('\n');
  const out = fillDoc(doc, SCHEMA);
  assert.match(out, /\| `xds` +\| map +\| none +\| the server +\|/);
  assert.match(out, /\| `xds\.port` +\| integer 0\.\.65535 +\| `18000` +\| port; flag `--xds-port` +\|/);
  assert.match(out, /\| `xds\.debounce` +\| duration \(`0s` allowed\) +\| `100ms` +\| quiet period +\|/);
  assert.match(out, /\| `xds\.token` +\| refused +\|/);
  assert.doesNotMatch(out, /stale/);
  assert.equal(fillDoc(out, SCHEMA), out, 'filling is idempotent');
});

test('a key with no table, or a marker naming no key, is an error rather than a silent gap', () => {
  assert.throws(
    () => fillDoc('<!-- BEGIN config-table xds -->\n<!-- END config-table -->\n', SCHEMA),
    /config key xds is in no table/,
  );
  assert.throws(
    () => fillDoc('<!-- BEGIN config-table . -->\n<!-- END config-table -->\n', SCHEMA),
    /config key xds\.port is in no table/,
  );
  assert.throws(
    () =>
      fillDoc(
        '<!-- BEGIN config-table . -->\n<!-- END config-table -->\n<!-- BEGIN config-table xsd -->\n<!-- END config-table -->\n',
        SCHEMA,
      ),
    /marker "config-table xsd" names no key/,
  );
});

test('the JSON schema refuses unknown and refused keys and types durations by the grammar', () => {
  const j = toJsonSchema(SCHEMA) as any;
  assert.equal(j.additionalProperties, false);
  assert.equal(j.properties.xds.additionalProperties, false);
  assert.equal(j.properties.xds.properties.token, undefined);
  assert.deepEqual(j.properties.xds.properties.port, {
    type: 'integer',
    description: 'port',
    minimum: 0,
    maximum: 65535,
  });
  assert.equal(j.properties.xds.properties.debounce.pattern, '^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$');
});
