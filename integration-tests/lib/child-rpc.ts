import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A test client child process driven by JSON lines: each command carries an id, the child answers
 * with the same id (and `error` on failure). grpc-js-xds keeps one XdsClient per process, so every
 * client with its own bootstrap lives in its own child.
 */
export class ChildRpc {
  private child: ChildProcess;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private readonly label: string;

  /** `label` names the client in errors ("xDS client exited ..."). */
  constructor(script: string, bootstrap: object, label: string, extraEnv: Record<string, string> = {}) {
    this.label = label;
    this.child = spawn(process.execPath, ['--conditions=source', script], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        GRPC_XDS_BOOTSTRAP: '',
        GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap),
        ...extraEnv,
      },
    });
    this.child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-20_000)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id: number; error?: string };
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error));
      else p.resolve(msg);
    });
    this.child.once('exit', (code) => {
      for (const p of this.pending.values())
        p.reject(new Error(`${this.label} exited (${code}); stderr:\n${this.stderr}`));
      this.pending.clear();
    });
  }

  /** Recent stderr of the child (grpc traces when GRPC_TRACE is set), for assertion messages. */
  logs(): string {
    return this.stderr;
  }

  send<T>(cmd: Record<string, unknown>, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label} did not answer ${cmd.op} within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(t), resolve(v)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
