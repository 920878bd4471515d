// A network namespace joined to the host by a veth pair, so test backends listen on a non-loopback address
// (the API server refuses loopback addresses in EndpointSlices). Needs root (CI runs as root).
//
// Addresses: a /28 out of 198.18.0.0/15 (RFC 2544 benchmarking range) that no interface or route of the host
// touches, checked against `ip -4 addr` and every routing table before use; the host's own subnet and gateway
// are never taken. Parallel test processes claim /28s with an atomic mkdir under /run/meshgate-netns;
// namespaces left by a killed test process are swept by the next one.
import { type ChildProcess, type SpawnOptions, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LOCKS = '/run/meshgate-netns';
const BASE = (198 << 24) | (18 << 16); // 198.18.0.0
const SLOTS = 8192; // /28s in a /15
const ECHO_SERVER = fileURLToPath(new URL('../../examples/backends/echo-server.ts', import.meta.url));

export interface BackendNetns {
  /** The namespace's name (`ip netns exec NAME ...`). */
  name: string;
  /** The host side of the veth pair. */
  hostIp: string;
  /** The namespace's first address; backends listen here. */
  nsIp: string;
  /** All addresses inside the namespace (options.addresses of them), nsIp first. */
  nsIps: string[];
  /** Runs a command inside the namespace; resolves to stdout. */
  exec(cmd: string[]): Promise<string>;
  /** Spawns a process inside the namespace (killed by destroy()). */
  spawnInNs(command: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Starts examples/backends/echo-server.ts inside the namespace on ip:port (defaults nsIp, a free port). */
  startEcho(name: string, opts?: { ip?: string; port?: number }): Promise<NsEcho>;
  /** Kills what spawnInNs started and deletes the namespace (and with it the veth pair). Idempotent. */
  destroy(): Promise<void>;
}

export interface NsEcho {
  name: string;
  ip: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

const ipOf = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
function parseIp(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** Every IPv4 range the host has on an interface or in any routing table, as [first, last]. */
function hostRanges(): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const text = [
    execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }),
    execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }),
  ].join('\n');
  for (const m of text.matchAll(/(?:^|\s)(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    const bits = m[2] === undefined ? 32 : Number(m[2]);
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    const first = (parseIp(m[1]) & mask) >>> 0;
    out.push([first, (first | (~mask >>> 0)) >>> 0]);
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes namespaces and claims whose owning process is gone. */
function sweepStale(): void {
  let slots: string[] = [];
  try {
    slots = readdirSync(LOCKS);
  } catch {
    return;
  }
  for (const slot of slots) {
    let owner: { pid: number; name: string } | undefined;
    try {
      owner = JSON.parse(readFileSync(join(LOCKS, slot, 'owner.json'), 'utf8'));
    } catch {
      continue; // being claimed right now
    }
    if (!owner || alive(owner.pid)) continue;
    try {
      execFileSync('ip', ['netns', 'del', owner.name], { stdio: 'ignore' });
    } catch {}
    try {
      execFileSync('ip', ['link', 'del', `mg${slot}h`], { stdio: 'ignore' });
    } catch {}
    rmSync(join(LOCKS, slot), { recursive: true, force: true });
  }
}

const created = new Map<string, () => void>();
process.once('exit', () => {
  for (const cleanup of created.values()) cleanup();
});

let counter = 0;

export async function createBackendNetns(options: { addresses?: number } = {}): Promise<BackendNetns> {
  const count = options.addresses ?? 1;
  if (count < 1 || count > 13) throw new Error(`createBackendNetns: addresses must be 1..13 (a /28), got ${count}`);
  if (process.getuid?.() !== 0) throw new Error('createBackendNetns needs root (ip netns add); CI runs as root');
  mkdirSync(LOCKS, { recursive: true });
  sweepStale();

  const taken = hostRanges();
  const name = `meshgate-test-${process.pid}-${++counter}`;
  let slot = -1;
  const start = Math.floor(Math.random() * SLOTS);
  for (let i = 0; i < SLOTS && slot < 0; i++) {
    const s = (start + i) % SLOTS;
    const first = (BASE + s * 16) >>> 0;
    const last = first + 15;
    if (taken.some(([a, b]) => a <= last && first <= b)) continue;
    try {
      mkdirSync(join(LOCKS, String(s))); // atomic claim against parallel test processes
    } catch {
      continue;
    }
    writeFileSync(join(LOCKS, String(s), 'owner.json'), JSON.stringify({ pid: process.pid, name }));
    slot = s;
  }
  if (slot < 0) throw new Error('createBackendNetns: no free /28 left in 198.18.0.0/15');

  const net = (BASE + slot * 16) >>> 0;
  const hostIp = ipOf(net + 1);
  const nsIps = Array.from({ length: count }, (_, i) => ipOf(net + 2 + i));
  const hostIf = `mg${slot}h`;
  const nsIf = `mg${slot}n`;
  const children = new Set<ChildProcess>();

  const cleanupSync = () => {
    for (const c of children) c.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {}
    try {
      execFileSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
    } catch {}
    rmSync(join(LOCKS, String(slot)), { recursive: true, force: true });
    created.delete(name);
  };
  created.set(name, cleanupSync);

  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', name);
    ip('addr', 'add', `${hostIp}/28`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    for (const a of nsIps) ip('-n', name, 'addr', 'add', `${a}/28`, 'dev', nsIf);
    ip('-n', name, 'link', 'set', nsIf, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    cleanupSync();
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`createBackendNetns: ${e.stderr?.toString().trim() || e.message}`);
  }

  const spawnInNs = (command: string, args: string[], opts: SpawnOptions = {}) => {
    const child = spawn('ip', ['netns', 'exec', name, command, ...args], opts);
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  const ns: BackendNetns = {
    name,
    hostIp,
    nsIp: nsIps[0],
    nsIps,
    exec: (cmd) =>
      new Promise((resolve, reject) =>
        execFile('ip', ['netns', 'exec', name, ...cmd], (err, stdout, stderr) =>
          err
            ? reject(new Error(`in netns ${name}: ${cmd.join(' ')}: ${String(stderr).trim() || err.message}`))
            : resolve(stdout),
        ),
      ),
    spawnInNs,
    async startEcho(backend, o = {}) {
      const host = o.ip ?? nsIps[0];
      const script = `const { startEchoServer } = await import(${JSON.stringify(ECHO_SERVER)});
const s = await startEchoServer(${JSON.stringify(backend)}, ${o.port ?? 0}, ${JSON.stringify(host)});
console.log(JSON.stringify({ port: s.port }));
const stop = () => s.close().then(() => process.exit(0));
process.on('SIGTERM', stop); process.on('SIGINT', stop);`;
      const child = spawnInNs(process.execPath, ['--conditions=source', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr?.on('data', (d) => {
        err += d;
      });
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (d) => {
          out += d;
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line).port);
        });
        child.once('exit', (code) => reject(new Error(`echo backend ${backend} in ${name} exited (${code}): ${err}`)));
      });
      return {
        name: backend,
        ip: host,
        port,
        process: child,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        },
      };
    },
    async destroy() {
      if (!created.has(name)) return;
      await Promise.all(
        [...children].map(
          (c) =>
            new Promise<void>((r) => {
              if (c.exitCode !== null || c.signalCode !== null) return r();
              c.once('exit', () => r());
              c.kill('SIGKILL');
            }),
        ),
      );
      cleanupSync();
    },
  };
  return ns;
}
