import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { grpcBootstrap } from '@meshgate/meshgate';

const CHILD = fileURLToPath(new URL('./xds-client-child.ts', import.meta.url));

export interface Summary {
  total: number;
  /** "backendName:port" -> successful calls. */
  counts: Record<string, number>;
  failures: number;
  errors: string[];
}

export interface Outcome {
  t: number;
  ok: boolean;
  server?: string;
  error?: string;
}

/** The gRPC xDS bootstrap `meshgate bootstrap --grpc` prints, so real clients exercise it. */
export function grpcBootstrapFor(xdsPort: number, nodeId: string): object {
  return grpcBootstrap({ xdsAddress: '127.0.0.1', xdsPort, nodeId, cluster: 'e2e' });
}

/** A grpc-js-xds client in its own process (one XdsClient per process), driven over stdin/stdout. */
export class XdsClientProcess {
  readonly nodeId: string;
  private child: ChildProcess;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private stderr = '';

  constructor(xdsPort: number, nodeId: string, extraEnv: Record<string, string> = {}) {
    this.nodeId = nodeId;
    this.child = spawn(process.execPath, ['--conditions=source', CHILD], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, GRPC_XDS_BOOTSTRAP: '', GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(grpcBootstrapFor(xdsPort, nodeId)), ...extraEnv },
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
      for (const p of this.pending.values()) p.reject(new Error(`xDS client exited (${code}); stderr:\n${this.stderr}`));
      this.pending.clear();
    });
  }

  private send<T>(cmd: Record<string, unknown>, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`xDS client did not answer ${cmd.op} within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(t), resolve(v)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.child.stdin!.write(JSON.stringify({ ...cmd, id }) + '\n');
    });
  }

  /** n calls to target (4 in flight), each with its own deadline. */
  burst(target: string, n: number, deadlineMs = 5000): Promise<Summary> {
    return this.send({ op: 'burst', target, n, deadlineMs });
  }

  /** Starts back-to-back calls (one at a time, intervalMs apart) until stop(). */
  start(target: string, intervalMs = 20, deadlineMs = 5000): Promise<void> {
    return this.send({ op: 'start', target, intervalMs, deadlineMs });
  }

  /** The latest outcomes of a running loop. */
  async peek(target: string, n = 20): Promise<Outcome[]> {
    return (await this.send<{ outcomes: Outcome[] }>({ op: 'peek', target, n })).outcomes;
  }

  stop(target: string): Promise<Summary & { outcomes: Outcome[] }> {
    return this.send({ op: 'stop', target });
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

/** Share of successful calls whose backend name starts with prefix. */
export function share(s: Summary, prefix: string): number {
  const ok = Object.values(s.counts).reduce((a, b) => a + b, 0);
  const hit = Object.entries(s.counts).filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
  return ok ? hit / ok : 0;
}
