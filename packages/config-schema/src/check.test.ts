import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConfigText, checkValue, readText } from './check.ts';
import { composeSchema, type ConfigSection } from './spec.ts';

const sections: ConfigSection[] = [
  {
    key: 'server',
    owner: 'test',
    field: {
      doc: 'a server',
      spec: {
        kind: 'object',
        refused: { token: 'an inline token is refused; use tokenFile' },
        together: [['certFile', 'keyFile']],
        fields: {
          port: { spec: { kind: 'int', min: 1, max: 65535, typeName: 'port number' }, doc: 'port' },
          timeout: { spec: { kind: 'duration', minMs: 1 }, doc: 'timeout' },
          certFile: { spec: { kind: 'string', nonEmpty: true }, doc: 'cert' },
          keyFile: { spec: { kind: 'string', nonEmpty: true }, doc: 'key' },
        },
      },
    },
  },
  {
    key: 'peers',
    owner: 'test',
    field: {
      doc: 'peers',
      spec: {
        kind: 'list',
        of: {
          kind: 'object',
          oneOf: [['uri', 'dns']],
          fields: {
            name: { spec: { kind: 'string', nonEmpty: true }, required: true, doc: 'the name' },
            uri: { spec: { kind: 'string' }, doc: 'uri' },
            dns: { spec: { kind: 'string' }, doc: 'dns' },
          },
        },
      },
    },
  },
];
const SCHEMA = composeSchema(sections);

test('every problem is located by file:line:col and dotted path, in file order', () => {
  const text = ['server:', '  prot: 80', '  timeout: 0s', 'peers:', '  - name: a', '    uri: x', '    dns: y', ''].join(
    '\n',
  );
  const r = checkConfigText(text, 'gw.yaml', SCHEMA);
  assert.deepEqual(
    r.errors.map((e) => e.message),
    [
      'gw.yaml:2:3: server.prot: unknown key "prot"; did you mean "port"? (allowed: port, timeout, certFile, keyFile)',
      'gw.yaml:3:12: server.timeout: expected a duration greater than zero, got "0s"',
      'gw.yaml:5:5: peers[0]: set only one of uri, dns',
    ],
  );
  assert.deepEqual(
    r.errors.map((e) => [e.code, e.path, e.line, e.col]),
    [
      ['unknown-key', 'server.prot', 2, 3],
      ['range', 'server.timeout', 3, 12],
      ['required', 'peers[0]', 5, 5],
    ],
  );
});

test('a refused key is named with its fix and its value is never echoed', () => {
  const r = checkConfigText('server:\n  token: s3cr3t\n  certFile: c.pem\n', 'gw.yaml', SCHEMA);
  const text = r.errors.map((e) => e.message).join('\n');
  assert.match(text, /gw\.yaml:2:3: server\.token: an inline token is refused; use tokenFile/);
  assert.match(text, /gw\.yaml:2:3: server: certFile and keyFile go together: set both or neither/);
  assert.doesNotMatch(text, /s3cr3t/);
});

test('good sections are read even when another section has problems', () => {
  const r = checkConfigText('server: { port: 8080, timeout: 1h30m }\npeers: [{ uri: x }]\n', 'gw.yaml', SCHEMA);
  assert.deepEqual(r.values, { server: { port: 8080, timeout: 5_400_000 } });
  assert.deepEqual([...r.failed], ['peers']);
  assert.deepEqual(
    r.errors.map((e) => e.message),
    ['gw.yaml:2:9: peers[0]: missing required key "name" (the name)'],
  );
});

test('YAML syntax errors and duplicate keys are located too', () => {
  const dup = checkConfigText('server:\n  port: 1\n  port: 2\n', 'gw.yaml', SCHEMA);
  assert.equal(dup.syntax, true);
  assert.match(dup.errors[0].message, /^gw\.yaml:3:3: YAML syntax error: Map keys must be unique/);
  const bad = checkConfigText('server: [1\n', 'gw.yaml', SCHEMA);
  assert.match(bad.errors[0].message, /^gw\.yaml:\d+:\d+: YAML syntax error/);
});

test('a plain value is checked by the same rules, located by path only', () => {
  const { value, reader } = checkValue({ port: 'x', timeout: 7 }, sections[0].field.spec, 'server');
  assert.equal(value, undefined);
  assert.deepEqual(
    reader.errors.map((e) => e.message),
    [
      'server.port: expected a port number 1..65535, got "x"',
      'server.timeout: expected a duration such as 250ms, 90s, 1h30m, 24h or 7d, got 7 (write 7ms or 7s)',
    ],
  );
});

test("flag and env text is read by the setting's own rules", () => {
  assert.deepEqual(readText('7d', { kind: 'duration', minMs: 1 }), { value: 604_800_000 });
  assert.deepEqual(readText('0s', { kind: 'duration', minMs: 1 }), { expected: 'a duration greater than zero' });
  assert.deepEqual(readText('8080', { kind: 'int', min: 0, max: 65535 }), { value: 8080 });
  assert.deepEqual(readText('80x', { kind: 'int', min: 0, max: 65535, typeName: 'port number' }), {
    expected: 'a port number 0..65535',
  });
  assert.deepEqual(readText('true', { kind: 'bool' }), { value: true });
  assert.deepEqual(readText('loud', { kind: 'string', enum: ['info', 'debug'] }), { expected: 'one of info, debug' });
});
