// A real Kubernetes control plane for the tests: etcd and kube-apiserver, built from the Go module proxy by
// integration-tests/tools/build-{etcd,kube-apiserver}.sh and started on 127.0.0.1 (free ports) in a temp dir,
// with the Gateway API standard CRDs applied. No controller-manager runs: tests create EndpointSlices
// themselves, as the EndpointSlice controller would.
//
// Auth: a static admin token in system:masters for setup (RBAC is on); ServiceAccount tokens come from the
// TokenRequest API, so meshgate can run with exactly the permissions the chart grants it.
// TLS: a throwaway CA signs the serving cert (IP 127.0.0.1), and every kubeconfig carries that CA.
//   MESHGATE_KEEP_KUBE_ENV=1   keep the temp dir (logs, kubeconfigs) after stop()
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, 'integration-tests/tools');
const ADMIN_TOKEN_BYTES = 24;

export interface KubeEnvOptions {
  /** Apply the Gateway API standard CRDs and wait until they are Established (default true). */
  gatewayApiCrds?: boolean;
  /** Extra kube-apiserver flags, e.g. ['--max-requests-inflight=2000'] for the benchmark. */
  apiserverArgs?: string[];
}

export interface KubeEnv {
  /** Temp dir holding the certs, kubeconfigs and the etcd.log / kube-apiserver.log of this env. */
  dir: string;
  /** https://127.0.0.1:PORT */
  apiUrl: string;
  /** Kubeconfig of the static admin user (system:masters). */
  adminKubeconfig: string;
  /** The admin bearer token (for raw HTTP calls; never log it). */
  adminToken: string;
  /** PEM of the CA that signed the API server's serving cert. */
  caPem: string;
  etcdUrl: string;
  /** Runs kubectl as the admin; resolves to stdout, rejects with stderr. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Server-side apply of one or more YAML documents as the admin. */
  apply(yaml: string): Promise<void>;
  /**
   * A kubeconfig file for ServiceAccount ns/sa with a token from the TokenRequest API (24 h). Creates the
   * namespace and the ServiceAccount when missing; grants nothing.
   */
  serviceAccountKubeconfig(ns: string, sa: string): Promise<string>;
  /** Stops kube-apiserver and starts it again on the same port, same etcd; resolves when /readyz is 200. */
  restartApiserver(): Promise<void>;
  /**
   * Compacts etcd to its current revision, as the API server's own compactor would. Requests the API server
   * serves from etcd at an older resourceVersion then get 410 Gone; its watch cache keeps its window until
   * the API server restarts, as in a real cluster. So `compactEtcd(); restartApiserver()` makes every client
   * that resumes a watch from its last resourceVersion get 410 Gone (and relist).
   */
  compactEtcd(): Promise<void>;
  /** Process ids, e.g. for reading the API server's RSS in the benchmark. */
  pids(): { etcd?: number; apiserver?: number };
  /** Stops kube-apiserver, then etcd (the other order hangs), and removes dir. Idempotent. */
  stop(): Promise<void>;
}

export interface KubeBinaries {
  etcd: string;
  apiserver: string;
  kubectl: string;
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<string>((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 << 20, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
        else resolve(String(stdout));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

let binaries: Promise<KubeBinaries> | undefined;

/**
 * Builds (first use: etcd ~1 min, kube-apiserver ~8 min) or finds the cached binaries; kubectl is the one on
 * PATH (1.24+) or built. Call it in a before() hook with a long timeout; startKubeEnv calls it too.
 */
export function kubeBinaries(): Promise<KubeBinaries> {
  binaries ??= (async () => {
    const script = async (name: string) =>
      (await run('bash', [join(TOOLS, name)], { timeoutMs: 1_800_000 })).trim().split('\n').at(-1)!;
    // One after the other: both builds at once would need ~3 GB of RAM on a 2-core machine.
    const etcd = await script('build-etcd.sh');
    const apiserver = await script('build-kube-apiserver.sh');
    const kubectl = await script('build-kubectl.sh');
    return { etcd, apiserver, kubectl };
  })();
  binaries.catch(() => {
    binaries = undefined;
  });
  return binaries;
}

let gatewayCrds: Promise<string> | undefined;
export function gatewayApiCrdDir(): Promise<string> {
  gatewayCrds ??= run('bash', [join(TOOLS, 'gateway-api-crds.sh')]).then((s) => s.trim());
  return gatewayCrds;
}

/** Children still running when the test process exits are killed, so a failed test leaves no server behind. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function startProcess(bin: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

async function stopProcess(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function httpsStatus(url: string, ca: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function etcdPost(etcdUrl: string, path: string, body: object): Promise<any> {
  const res = await fetch(`${etcdUrl}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

const CERT_SCRIPT = `set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.crt -days 7 -subj /CN=meshgate-test-kube-ca \\
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
openssl req $ec -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\nkeyUsage=critical,digitalSignature\\n' > apiserver.ext
openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -extfile apiserver.ext -out apiserver.crt
# ServiceAccount token signing key (TokenRequest) and its public half for verification.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key
openssl pkey -in sa.key -pubout -out sa.pub
`;

function makeCerts(dir: string): { ca: string; cert: string; key: string; saKey: string; saPub: string } {
  execFileSync('bash', ['-c', CERT_SCRIPT], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const f = (n: string) => join(dir, n);
  return { ca: f('ca.crt'), cert: f('apiserver.crt'), key: f('apiserver.key'), saKey: f('sa.key'), saPub: f('sa.pub') };
}

/** A kubeconfig with the env's CA and a bearer token; written with mode 0600. */
export function writeKubeconfig(file: string, apiUrl: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: meshgate-test
  cluster:
    server: ${apiUrl}
    certificate-authority-data: ${ca}
users:
- name: ${JSON.stringify(user)}
  user:
    token: ${token}
contexts:
- name: meshgate-test
  context: {cluster: meshgate-test, user: ${JSON.stringify(user)}}
current-context: meshgate-test
`,
    { mode: 0o600 },
  );
  return file;
}

export async function startKubeEnv(opts: KubeEnvOptions = {}): Promise<KubeEnv> {
  const bins = await kubeBinaries();
  const crdDir = opts.gatewayApiCrds === false ? undefined : await gatewayApiCrdDir();
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-kube-'));
  const certs = makeCerts(dir);
  const caPem = readFileSync(certs.ca, 'utf8');
  const adminToken = randomBytes(ADMIN_TOKEN_BYTES).toString('hex');
  writeFileSync(join(dir, 'tokens.csv'), `${adminToken},meshgate-test-admin,meshgate-test-admin,"system:masters"\n`, {
    mode: 0o600,
  });

  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  let etcdUrl = '';
  let apiPort = 0;
  let stopped = false;

  const etcdLog = join(dir, 'etcd.log');
  const apiLog = join(dir, 'kube-apiserver.log');

  const startEtcd = async () => {
    // freePort() can race with another test taking the port; a few tries with fresh ports cover that.
    for (let attempt = 1; ; attempt++) {
      const [client, peer] = [await freePort(), await freePort()];
      etcdUrl = `http://127.0.0.1:${client}`;
      const peerUrl = `http://127.0.0.1:${peer}`;
      etcd = startProcess(
        bins.etcd,
        [
          '--name=meshgate-test',
          `--data-dir=${join(dir, 'etcd-data')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=meshgate-test=${peerUrl}`,
          // Test data only: skipping fsync makes writes ~10x faster on a shared disk.
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        etcdLog,
      );
      const proc = etcd;
      try {
        await waitFor(
          async () => {
            if (proc.exitCode !== null) throw new Error(`etcd exited (${proc.exitCode}):\n${tail(etcdLog)}`);
            const r = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(1000) });
            return r.ok;
          },
          'etcd /health',
          30_000,
          50,
        );
        return;
      } catch (err) {
        await stopProcess(proc, 2000);
        rmSync(join(dir, 'etcd-data'), { recursive: true, force: true });
        if (attempt >= 3 || !/address already in use/.test(tail(etcdLog, 200))) throw err;
      }
    }
  };

  const startApiserver = async (fixedPort?: number) => {
    for (let attempt = 1; ; attempt++) {
      apiPort = fixedPort ?? (await freePort());
      const url = `https://127.0.0.1:${apiPort}`;
      apiserver = startProcess(
        bins.apiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${apiPort}`,
          `--tls-cert-file=${certs.cert}`,
          `--tls-private-key-file=${certs.key}`,
          `--token-auth-file=${join(dir, 'tokens.csv')}`,
          '--authorization-mode=RBAC',
          `--service-account-issuer=${url}`,
          `--service-account-key-file=${certs.saPub}`,
          `--service-account-signing-key-file=${certs.saKey}`,
          '--service-cluster-ip-range=10.96.0.0/16',
          // No controller-manager creates the `default` ServiceAccounts that this plugin would demand of pods.
          '--disable-admission-plugins=ServiceAccount',
          '--v=1',
          ...(opts.apiserverArgs ?? []),
        ],
        apiLog,
      );
      const proc = apiserver;
      try {
        await waitFor(
          async () => {
            if (proc.exitCode !== null) throw new Error(`kube-apiserver exited (${proc.exitCode}):\n${tail(apiLog)}`);
            return (await httpsStatus(`${url}/readyz`, caPem, adminToken)) === 200;
          },
          'kube-apiserver /readyz',
          120_000,
          100,
        );
        return;
      } catch (err) {
        await stopProcess(proc, 5000);
        if (fixedPort !== undefined || attempt >= 3 || !/address already in use/.test(tail(apiLog, 200))) {
          throw new Error(`${(err as Error).message}\n--- ${apiLog} ---\n${tail(apiLog)}`);
        }
      }
    }
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopProcess(apiserver, 30_000);
    await stopProcess(etcd, 10_000);
    if (process.env.MESHGATE_KEEP_KUBE_ENV !== '1') rmSync(dir, { recursive: true, force: true });
  };

  try {
    await startEtcd();
    await startApiserver();
  } catch (err) {
    await stop();
    throw err;
  }

  const apiUrl = `https://127.0.0.1:${apiPort}`;
  const adminKubeconfig = writeKubeconfig(join(dir, 'admin.kubeconfig'), apiUrl, caPem, 'admin', adminToken);
  const kubectl = (args: string[], o: { input?: string; timeoutMs?: number } = {}) =>
    run(bins.kubectl, ['--kubeconfig', adminKubeconfig, '--cache-dir', join(dir, 'kubectl-cache'), ...args], o);
  const apply = async (yaml: string) => {
    await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=meshgate-tests', '-f', '-'], {
      input: yaml,
    });
  };

  const env: KubeEnv = {
    dir,
    apiUrl,
    adminKubeconfig,
    adminToken,
    caPem,
    get etcdUrl() {
      return etcdUrl;
    },
    kubectl,
    apply,
    async serviceAccountKubeconfig(ns, sa) {
      // create, not apply: applying a bare ServiceAccount would strip what an earlier apply set on it.
      const create = (args: string[]) =>
        kubectl(['create', ...args]).catch((err: Error) => {
          if (!/AlreadyExists|already exists/.test(err.message)) throw err;
        });
      await create(['namespace', ns]);
      await create(['serviceaccount', sa, '-n', ns]);
      const token = (await kubectl(['create', 'token', sa, '-n', ns, '--duration=24h'])).trim();
      return writeKubeconfig(
        join(dir, `sa-${ns}-${sa}.kubeconfig`),
        apiUrl,
        caPem,
        `system:serviceaccount:${ns}:${sa}`,
        token,
      );
    },
    async restartApiserver() {
      await stopProcess(apiserver, 30_000);
      await startApiserver(apiPort);
    },
    async compactEtcd() {
      // As the API server's own compactor does: record the revision under compact_rev_key (the API server
      // watches that key to learn the compacted revision), then compact etcd to it. The put also moves the
      // revision past every resourceVersion a client has seen.
      const key = b64('compact_rev_key');
      const put = await etcdPost(etcdUrl, '/v3/kv/put', { key, value: b64('0') });
      const revision = String(put.header.revision);
      await etcdPost(etcdUrl, '/v3/kv/put', { key, value: b64(revision) });
      await etcdPost(etcdUrl, '/v3/kv/compaction', { revision, physical: true });
    },
    pids: () => ({ etcd: etcd?.pid, apiserver: apiserver?.pid }),
    stop,
  };

  try {
    if (crdDir) {
      await kubectl(['apply', '--server-side', '--field-manager=meshgate-tests', '-f', crdDir]);
      await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s'], { timeoutMs: 130_000 });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return env;
}
