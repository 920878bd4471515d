import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

/** Runs the real CLI in a child process (exit codes and stdout as a user sees them). */
export async function runCliProcess(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=source', CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(t);
  return { code, stdout, stderr };
}

export function runBootstrapCli(args: string[]) {
  return runCliProcess(['bootstrap', ...args]);
}

/** Writes `text` as a config file in a fresh directory, runs `fn` on it, then removes the directory. */
export function withConfigFile(text: string, fn: (file: string, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-config-'));
  try {
    const file = join(dir, 'm.yaml');
    writeFileSync(file, text);
    fn(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
