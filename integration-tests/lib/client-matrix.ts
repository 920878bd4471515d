// The client matrix: every proxyless xDS client generation meshgate is tested against, each a
// real implementation in its own process, all driven alike (same flags, same JSON lines):
//   grpc-js-xds     integration-tests/lib/grpc-js-client-cli.ts (the version in package-lock.json)
//   grpc-go         today's release (tools/grpc-go-client/go.mod) and OLD_GRPC_GO, both built by
//                   tools/build-grpc-go-client.sh from the Go module proxy, cached
//   gRPC C-core     Debian's python3-grpcio (C-core 1.51) running tools/c-core-client/client.py
// A client that cannot be built or found fails the suite with the fix; it is never skipped.
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { REPO_ROOT, runCli } from './meshgate-process.ts';
import { getJson } from './wait.ts';

const run = promisify(execFile);

/** An older grpc-go still common in the field, and the last release that reads an unset total_weight as 100. */
export const OLD_GRPC_GO = 'v1.53.0';
/** Debian's python (python3-grpcio installs there), not a pyenv or venv python without grpc. */
export const PYTHON = process.env.MESHGATE_GRPC_PYTHON ?? '/usr/bin/python3';

export interface MatrixClient {
  /** Short id used in node ids: grpc-js-xds, grpc-go, grpc-go-old, c-core. */
  id: string;
  /** What it is, with its version, for test names and reports. */
  label: string;
  argv: string[];
}

export interface Call {
  target: string;
  ok: boolean;
  /** Reply fields by number: 2 = backend name, 3 = backend port. */
  fields?: Record<string, string | number>;
  code?: number;
  error?: string;
}

async function buildGrpcGo(version?: string): Promise<string> {
  const script = join(REPO_ROOT, 'integration-tests/tools/build-grpc-go-client.sh');
  try {
    // A first build compiles grpc-go from the module proxy (minutes on 2 busy cores); later runs use the cache.
    const built = await run('bash', [script, ...(version ? [version] : [])], { maxBuffer: 1 << 24, timeout: 900_000 });
    return built.stdout.trim().split('\n').pop()!;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `could not build the grpc-go ${version ?? '(current)'} test client with ${script}: ${e.message}\n${e.stderr ?? ''}\n` +
        'The client matrix needs the go command and the Go module proxy (GOPROXY).',
    );
  }
}

async function cCoreVersion(script: string): Promise<string> {
  try {
    return (await run(PYTHON, [script, '-version'], { timeout: 60_000 })).stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `gRPC C-core (python3-grpcio) is not usable with ${PYTHON}: ${e.stderr || e.message}\n` +
        'Install it with `apt-get install -y python3-grpcio` (.ci/run does), or point MESHGATE_GRPC_PYTHON at a python with grpc.',
    );
  }
}

const C_CORE_SCRIPT = join(REPO_ROOT, 'integration-tests/tools/c-core-client/client.py');

/** gRPC C-core alone (Debian's python3-grpcio): for suites that want a third xDS implementation without the Go builds. */
export async function cCoreClient(): Promise<MatrixClient> {
  const grpcio = await cCoreVersion(C_CORE_SCRIPT);
  return { id: 'c-core', label: `gRPC C-core (python3-grpcio ${grpcio})`, argv: [PYTHON, C_CORE_SCRIPT] };
}

/** grpc-js-xds (this repository's version) and today's grpc-go only: for suites that need no old generations. */
export async function currentClients(): Promise<MatrixClient[]> {
  const all = prepared ? await prepared : undefined;
  if (all) return all.filter((c) => c.id === 'grpc-js-xds' || c.id === 'grpc-go');
  return [jsClient(), { id: 'grpc-go', label: `grpc-go ${goModVersion()}`, argv: [await buildGrpcGo()] }];
}

function jsClient(): MatrixClient {
  const require = createRequire(import.meta.url);
  const jsVersion = (require('@grpc/grpc-js-xds/package.json') as { version: string }).version;
  return {
    id: 'grpc-js-xds',
    label: `grpc-js-xds ${jsVersion}`,
    argv: [process.execPath, '--conditions=source', join(REPO_ROOT, 'integration-tests/lib/grpc-js-client-cli.ts')],
  };
}

function goModVersion(): string {
  const goMod = readFileSync(join(REPO_ROOT, 'integration-tests/tools/grpc-go-client/go.mod'), 'utf8');
  return /google\.golang\.org\/grpc (v\S+)/.exec(goMod)?.[1] ?? '?';
}

let prepared: Promise<MatrixClient[]> | undefined;

/** Builds or finds every client of the matrix (once per process); throws, naming the fix, when one is missing. */
export function matrixClients(): Promise<MatrixClient[]> {
  prepared ??= (async () => {
    // One build at a time: the machine has two cores.
    const goCurrent = await buildGrpcGo();
    const goOld = await buildGrpcGo(OLD_GRPC_GO);
    return [
      jsClient(),
      { id: 'grpc-go', label: `grpc-go ${goModVersion()}`, argv: [goCurrent] },
      { id: 'grpc-go-old', label: `grpc-go ${OLD_GRPC_GO}`, argv: [goOld] },
      await cCoreClient(),
    ];
  })();
  return prepared;
}

/**
 * The gRPC bootstrap `meshgate bootstrap --grpc` prints (extra CLI args such as --cert-provider),
 * written to a file per node id so each client reads it through GRPC_XDS_BOOTSTRAP.
 */
export async function bootstrapFiles(
  dir: string,
  xdsPort: number,
  extraArgs: string[] = [],
): Promise<(nodeId: string) => string> {
  const b = await runCli(['bootstrap', '--grpc', '--xds-port', String(xdsPort), '--node-id', 'X', ...extraArgs]);
  assert.equal(b.code, 0, b.stderr);
  const doc = JSON.parse(b.stdout) as { node: { id: string } };
  return (nodeId) => {
    const file = join(dir, `bootstrap-${nodeId}.json`);
    writeFileSync(file, JSON.stringify({ ...doc, node: { ...doc.node, id: nodeId } }));
    return file;
  };
}

export interface RunOptions {
  bootstrapFile: string;
  targets: string[];
  calls: number;
  timeoutS?: number;
  xdsCreds?: boolean;
  /** Runs after the calls while the client is still connected (its xDS stream open). */
  whileConnected?: () => Promise<void>;
  /** Extra environment for the client process (e.g. GRPC_EXPERIMENTAL_XDS_SNI for grpc-go). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs one client process over the targets; resolves with every call's outcome once it has exited.
 * The first failed call ends the run (after `whileConnected`), so a broken config fails fast.
 */
export async function runClient(c: MatrixClient, o: RunOptions): Promise<Call[]> {
  const args = [
    ...c.argv.slice(1),
    '-target',
    o.targets.join(','),
    '-calls',
    String(o.calls),
    '-timeout',
    `${o.timeoutS ?? 20}s`,
    '-hold',
    ...(o.xdsCreds ? ['-xds-creds'] : []),
  ];
  const child = spawn(c.argv[0], args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...o.env, GRPC_XDS_BOOTSTRAP: o.bootstrapFile, GRPC_XDS_BOOTSTRAP_CONFIG: '' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const calls: Call[] = [];
  let heldError: unknown;
  let stoppedEarly = false;
  const held = async () => {
    try {
      await o.whileConnected?.();
    } catch (err) {
      heldError = err;
    }
  };
  // Whatever happens, the client does not outlive the test.
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const msg = JSON.parse(line) as Call & { done?: boolean };
      if (msg.done) {
        await held();
        child.stdin.end();
      } else {
        calls.push(msg);
        if (!msg.ok) {
          // A failed call usually means a rejected config, and every further call would wait out its
          // deadline: look at the node while it is connected (that names the NACK), then stop.
          stoppedEarly = true;
          await held();
          child.kill('SIGKILL');
          break;
        }
      }
    }
    const code = await exited;
    if (heldError) throw heldError;
    if (code !== 0 && !stoppedEarly) throw new Error(`${c.label} exited with ${code}; stderr:\n${stderr}`);
    return calls;
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Calls per backend name ("fields.2") for one target; failures under "error: <message>". */
export function countByServer(calls: Call[], target: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls.filter((x) => x.target === target)) {
    const k = c.ok ? String(c.fields?.['2']) : `error: ${c.error}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Calls per backend port for one target and backend name. */
export function countByPort(calls: Call[], target: string, server: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls.filter((x) => x.target === target && x.ok && x.fields?.['2'] === server)) {
    const k = String(c.fields?.['3']);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * Asserts that every call to target succeeded and that `server`'s share is p within five standard
 * deviations of a binomial share over that many calls (a false alarm about once in 3.5 million runs).
 */
export function assertShare(calls: Call[], target: string, server: string, p: number, label: string): number {
  const mine = calls.filter((x) => x.target === target);
  const counts = countByServer(calls, target);
  const failed = mine.filter((x) => !x.ok);
  assert.equal(
    failed.length,
    0,
    `${label} ${target}: ${failed.length} of ${mine.length} calls failed: ${JSON.stringify(counts)}`,
  );
  const share = (counts[server] ?? 0) / mine.length;
  const band = 5 * Math.sqrt((p * (1 - p)) / mine.length);
  assert.ok(
    Math.abs(share - p) <= band,
    `${label} ${target}: ${server} took ${share.toFixed(3)} of ${mine.length} calls, expected ${p.toFixed(3)} ± ${band.toFixed(3)}: ${JSON.stringify(counts)}`,
  );
  return share;
}

interface NodesPage {
  nodes: Array<{ id: string; userAgent: string; status: Record<string, string>; types: any[] }>;
  recentlyDisconnected: Array<{ id: string; nacks: any[] }>;
}

/**
 * While the client is connected: meshgate lists the node, every xDS type it uses is SYNCED (its
 * last response ACKed) and none carries a NACK. Returns the node's user agent.
 */
export async function assertSyncedNoNacks(adminUrl: string, nodeId: string, types: string[]): Promise<string> {
  const page = (await getJson<NodesPage>(`${adminUrl}/debug/nodes`)).body;
  const n = page.nodes.find((x) => x.id === nodeId);
  assert.ok(n, `node ${nodeId} is connected: ${JSON.stringify(page.nodes.map((x) => x.id))}`);
  const nacked = n.types.filter((t) => t.lastNack);
  assert.deepEqual(nacked, [], `node ${nodeId} NACKed: ${JSON.stringify(nacked)}`);
  for (const t of types) assert.equal(n.status[t], 'SYNCED', `${nodeId} ${t}: ${JSON.stringify(n.status)}`);
  return n.userAgent;
}

/** After the client left: no NACK of the node was kept on /debug/nodes (none happened during its whole stream). */
export async function assertNoDepartedNacks(adminUrl: string, nodeId: string): Promise<void> {
  const page = (await getJson<NodesPage>(`${adminUrl}/debug/nodes`)).body;
  const gone = page.recentlyDisconnected.find((x) => x.id === nodeId);
  assert.equal(gone, undefined, `node ${nodeId} left with NACKs: ${JSON.stringify(gone)}`);
}
