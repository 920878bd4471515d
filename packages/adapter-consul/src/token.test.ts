import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AclToken } from './token.ts';

test('the ACL token: where it comes from, and the error naming the setting when it cannot be read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'consul-token-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, '  from-file-token\n');
    process.env.MG_TOKEN_TEST_SET = ' from-env-token ';
    delete process.env.MG_TOKEN_TEST_UNSET;
    const rows: [string, ConstructorParameters<typeof AclToken>[0], string | RegExp][] = [
      ['none', {}, ''],
      ['inline wins', { token: ' inline-token ', tokenFile: file }, 'inline-token'],
      ['environment variable', { tokenEnv: 'MG_TOKEN_TEST_SET' }, 'from-env-token'],
      ['file', { tokenFile: file }, 'from-file-token'],
      [
        'unset variable',
        { tokenEnv: 'MG_TOKEN_TEST_UNSET' },
        /consul\.tokenEnv: environment variable MG_TOKEN_TEST_UNSET is not set/,
      ],
      [
        'missing file',
        { tokenFile: join(dir, 'nope') },
        /consul\.tokenFile: cannot read .*nope \(ENOENT\); fix the path/,
      ],
    ];
    for (const [what, o, want] of rows) {
      const t = new AclToken(o);
      if (typeof want === 'string') {
        t.load();
        assert.equal(t.get(), want, what);
      } else assert.throws(() => t.load(), want, what);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    delete process.env.MG_TOKEN_TEST_SET;
  }
});

test('a rotated token file is picked up on reload; a vanished one keeps the token in use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'consul-token-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, 'old-secret');
    const t = new AclToken({ tokenFile: file });
    t.load();
    writeFileSync(file, 'new-secret');
    t.reload();
    assert.equal(t.get(), 'new-secret');
    rmSync(file);
    t.reload();
    assert.equal(t.get(), 'new-secret');
    assert.equal(t.redact('403 for token new-secret (new-secret)'), '403 for token [redacted] ([redacted])');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a token shorter than 4 characters is not cut out of texts (it would cut ordinary words)', () => {
  const t = new AclToken({ token: 'ab' });
  t.load();
  assert.equal(t.redact('about'), 'about');
});
