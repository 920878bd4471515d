import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, UsageError } from './args.ts';
import type { CommandSpec } from './args.ts';

const spec: CommandSpec = {
  name: 'serve',
  summary: 's',
  options: {
    config: { type: 'string', description: 'c' },
    'xds-port': { type: 'string', default: '18000', description: 'p' },
    sotw: { type: 'boolean', description: 'b' },
  },
};

test('defaults apply and given flags win', () => {
  assert.deepEqual(parseCommand(spec, ['--config', 'a.yaml']).values, { config: 'a.yaml', 'xds-port': '18000' });
  assert.equal(parseCommand(spec, ['--xds-port=1']).values['xds-port'], '1');
});

test('an unknown flag is refused, naming it and listing the valid flags', () => {
  assert.throws(
    () => parseCommand(spec, ['--config', 'a', '--xds-prot', '1']),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /unknown flag --xds-prot/);
      assert.match(err.message, /--config, --xds-port, --sotw, --help/);
      return true;
    },
  );
});

test('a missing value and stray positionals are refused', () => {
  assert.throws(() => parseCommand(spec, ['--config']), /--config/);
  assert.throws(() => parseCommand(spec, ['extra']), /extra/);
});

test('--help short-circuits', () => {
  assert.equal(parseCommand(spec, ['--help']).help, true);
});

test("serve flags are read by their setting's rules, and name the flag when wrong", async () => {
  const { flagOverrides, spec: serve } = await import('./commands/serve.ts');
  const parse = (argv: string[]) => flagOverrides(parseCommand(serve, ['--config', 'x.yaml', ...argv]).values);
  assert.deepEqual(parse(['--xds-port', '0', '--admin-port', '19001', '--log-level', 'debug']), {
    xdsPort: 0,
    adminPort: 19001,
    logLevel: 'debug',
  });
  assert.deepEqual(parse(['--insecure-allow-unauthenticated-secrets']), { insecureAllowUnauthenticatedSecrets: true });
  assert.throws(() => parse(['--xds-port', '70000']), /--xds-port must be a port number 0\.\.65535, got "70000"/);
  assert.throws(() => parse(['--log-level', 'loud']), /--log-level must be one of trace, debug, info/);
});
