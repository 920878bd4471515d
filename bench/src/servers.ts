// Starts the server under test (meshgate's child or the Go peer) and talks to its control API.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Kind = 'ours' | 'peer';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface ServerStats {
  rssKB: number;
  hwmKB: number;
  cpuMs: number;
  heapKB: number;
  /** Ours only: V8 heapTotal (committed heap, used or free); absent for the Go peer. */
  heapCommittedKB?: number;
}

export interface ServerHandle {
  kind: Kind;
  xdsPort: number;
  pid: number;
  ctl<T = Record<string, unknown>>(path: string): Promise<T>;
  stats(): Promise<ServerStats>;
  gc(): Promise<ServerStats>;
  stop(): Promise<void>;
}

export interface StartOptions {
  peerBinary?: string;
  /** Write a V8 CPU profile of our server into this folder on exit. */
  cpuProfDir?: string;
}

function command(kind: Kind, o: StartOptions): [string, string[]] {
  if (kind === 'peer') {
    if (!o.peerBinary) throw new Error('the peer is not built (bench/scripts/build-peer.sh)');
    return [o.peerBinary, ['serve']];
  }
  // The V8 flag meshgate's bin runs with (packages/meshgate/bin/meshgate.js), so we measure what ships.
  const args = ['--conditions=source', '--expose-gc', '--max-semi-space-size=16'];
  if (o.cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`);
  args.push(join(BENCH_DIR, 'src', 'our-server.ts'));
  return [process.execPath, args];
}

export async function startServer(kind: Kind, o: StartOptions = {}): Promise<ServerHandle> {
  const [cmd, args] = command(kind, o);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise<{ xdsPort: number; ctlPort: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not print READY within 60 s`)), 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(6)));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} server exited with code ${code} before READY`));
    });
  });
  const base = `http://127.0.0.1:${ready.ctlPort}`;
  const ctl = async <T>(path: string): Promise<T> => {
    const res = await fetch(base + path, {
      method: path.startsWith('/stats') ? 'GET' : 'POST',
      signal: AbortSignal.timeout(120_000),
    });
    const body = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`${kind} ${path}: ${body.error ?? res.status}`);
    return body;
  };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    kind,
    xdsPort: ready.xdsPort,
    pid: ready.pid,
    ctl,
    stats: () => ctl<ServerStats>('/stats'),
    gc: () => ctl<ServerStats>('/gc'),
    async stop() {
      if (child.exitCode !== null) return;
      await ctl('/quit').catch(() => undefined);
      child.stdin?.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Builds (or finds in the cache) the Go peer; undefined with the reason when it cannot. */
export function buildPeer(): { binary?: string; reason?: string; seconds: number } {
  const t0 = Date.now();
  try {
    const out = execFileSync('bash', [join(BENCH_DIR, 'scripts', 'build-peer.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 15 * 60_000,
    });
    const lines = out.trim().split('\n');
    return { binary: lines[lines.length - 1], seconds: (Date.now() - t0) / 1000 };
  } catch (err) {
    const e = err as Error & { stderr?: string; signal?: string };
    const last = String(e.stderr ?? '')
      .trim()
      .split('\n')
      .filter(Boolean)
      .slice(-3)
      .join(' / ');
    const why =
      e.signal === 'SIGTERM' ? 'the build did not finish within 15 minutes' : last || e.message.split('\n')[0];
    return { reason: `peer build failed (bench/scripts/build-peer.sh): ${why}`, seconds: (Date.now() - t0) / 1000 };
  }
}
