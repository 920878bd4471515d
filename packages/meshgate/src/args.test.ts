import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, parseDuration, UsageError } from './args.ts';
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

test('durations', () => {
  assert.equal(parseDuration('250ms', 'x'), 250);
  assert.equal(parseDuration('24h', 'x'), 86_400_000);
  assert.throws(() => parseDuration('24', '--ttl'), /--ttl must be a duration/);
});
