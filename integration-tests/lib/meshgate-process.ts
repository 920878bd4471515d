import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, getText, waitFor } from './wait.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../packages/meshgate/src/cli.ts', import.meta.url));

/** Runs `meshgate ARGS` to completion (for validate, bootstrap, translate). */
export async function runCli(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=source', CLI, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * A real `meshgate serve` child process on fixed (pre-chosen free) ports, so it can be stopped
 * and started again on the same ports while clients stay connected.
 */
export class MeshgateProcess {
  readonly configPath: string;
  xdsPort = 0;
  adminPort = 0;
  private child: ChildProcess | undefined;
  private output = '';
  private readonly extraArgs: string[];

  constructor(configPath: string, extraArgs: string[] = []) {
    this.configPath = configPath;
    this.extraArgs = extraArgs;
  }

  /** The running process's pid (undefined when stopped). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** Recent log output, for assertion messages. */
  logs(lastChars = 4000): string {
    return this.output.slice(-lastChars);
  }

  async start(): Promise<void> {
    if (!this.xdsPort) this.xdsPort = await freePort();
    if (!this.adminPort) this.adminPort = await freePort();
    const args = [
      '--conditions=source',
      CLI,
      'serve',
      '--config',
      this.configPath,
      '--xds-port',
      String(this.xdsPort),
      '--admin-port',
      String(this.adminPort),
      '--log-level',
      process.env.MESHGATE_E2E_LOG_LEVEL ?? 'info',
      ...this.extraArgs,
    ];
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MESHGATE_XDS_PORT: '', MESHGATE_ADMIN_PORT: '' },
    });
    this.child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-200_000);
      if (process.env.MESHGATE_E2E_VERBOSE) process.stderr.write(d);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exited: number | null | undefined;
    child.once('exit', (c) => (exited = c));
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`meshgate exited with code ${exited}:\n${this.logs()}`);
        return (await getText(`${this.adminUrl}/healthz`)).status === 200;
      },
      'meshgate /healthz',
      // Starting from TypeScript sources on a loaded 2-core machine has taken over 20 s; a wait is not a timing
      // assertion, so it is generous (a process that exits early still fails at once, above).
      60_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n--- meshgate output ---\n${this.logs()}`);
    });
  }

  async waitReady(timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => (await getText(`${this.adminUrl}/readyz`)).status === 200,
      'meshgate /readyz 200',
      timeoutMs,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n--- meshgate output ---\n${this.logs()}`);
    });
  }

  /** Kills at once (no graceful shutdown: leases are not released, streams are cut). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await done;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. Resolves with the exit code or signal. */
  async stop(): Promise<number | string | null> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const done = new Promise<number | string | null>((resolve) => child.once('exit', (c, s) => resolve(c ?? s)));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    const r = await done;
    clearTimeout(t);
    return r;
  }
}
