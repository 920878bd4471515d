// A real istiod (pilot-discovery) for the Istio suite, run against the real kube-apiserver of kube-env.ts: built
// from the Go module proxy by integration-tests/tools/build-istiod.sh (a 1.31 development pseudo-version, not an
// approved Istio release), Istio's CRDs from the same module applied, its own self-signed CA, every port on
// 127.0.0.1. Like a pod's istiod it writes the istio-ca-root-cert ConfigMap into every namespace.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeRequester } from '@meshgate/adapter-istio';
import { TYPE } from '@meshgate/xds-core';
import { AdsClient } from '@meshgate/xds-core/testing';
import { type KubeEnv, kubeBinaries, startKubeEnv } from './kube-env.ts';
import { freePort, waitFor } from './wait.ts';

const TOOLS = fileURLToPath(new URL('../tools', import.meta.url));
/** The default of build-istiod.sh: the 1.31 development line, not an approved Istio release. */
export const DEFAULT_ISTIO_VERSION = 'v0.0.0-20260827124520-eed52ebb66ad';

export interface IstiodBinaries {
  pilotDiscovery: string;
  crds: string;
}

/**
 * Why the suite cannot run here, or undefined. Only a missing Go toolchain (with nothing cached) is a reason: every
 * other failure to build is a test failure.
 */
export function istiodUnavailable(): string | undefined {
  if (spawnSync('go', ['version']).status === 0) return undefined;
  const cache = process.env.MESHGATE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'meshgate');
  const version = process.env.MESHGATE_ISTIO_VERSION ?? DEFAULT_ISTIO_VERSION;
  if (existsSync(join(cache, 'bin', `pilot-discovery-${version}`))) return undefined;
  return `the go command is missing and istiod ${version} is not cached in ${cache}/bin: install Go 1.26 (integration-tests/tools/build-istiod.sh builds istiod from the Go module proxy)`;
}

let binaries: Promise<IstiodBinaries> | undefined;
/** Builds (first use: ~4 min on an idle 2-core machine) or finds the cached istiod and CRDs. */
export function istiodBinaries(): Promise<IstiodBinaries> {
  binaries ??= new Promise((resolve, reject) => {
    execFile(
      'bash',
      [join(TOOLS, 'build-istiod.sh')],
      { timeout: 2_400_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`build-istiod.sh failed: ${String(stderr).trim().slice(-3000)}`));
        const [pilotDiscovery, crds] = String(stdout).trim().split('\n').slice(-2);
        resolve({ pilotDiscovery, crds });
      },
    );
  });
  binaries.catch(() => {
    binaries = undefined;
  });
  return binaries;
}

/** The API server as the admin, for the adapter's KubeRequester (TokenRequest, ConfigMap reads). */
export function adminRequester(env: KubeEnv): KubeRequester {
  return {
    request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      return new Promise((resolve, reject) => {
        const req = request(
          `${env.apiUrl}${path}`,
          {
            method,
            ca: env.caPem,
            headers: { authorization: `Bearer ${env.adminToken}`, 'content-type': 'application/json' },
            timeout: 15_000,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => {
              text += d;
            });
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status < 200 || status > 299)
                reject(new Error(`${method} ${path}: ${status}: ${text.slice(0, 300)}`));
              else resolve(JSON.parse(text) as T);
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    },
  };
}

export interface Istiod {
  /** 127.0.0.1:PORT of the TLS port (xDS + CA; 15012 in a cluster). */
  caAddress: string;
  /** 127.0.0.1:PORT of the plaintext xDS port (15010 in a cluster). */
  xdsAddress: string;
  log: string;
  /** root-cert.pem from the istio-ca-root-cert ConfigMap of `namespace`, once istiod has written it. */
  rootOf(namespace: string): Promise<string>;
  stop(): Promise<void>;
}

export interface IstiodOptions {
  /** Extra environment, e.g. { DEFAULT_WORKLOAD_CERT_TTL: '1m' }. */
  env?: Record<string, string>;
}

export async function startIstiod(kube: KubeEnv, opts: IstiodOptions = {}): Promise<Istiod> {
  const bins = await istiodBinaries();
  await kube.kubectl(['create', 'namespace', 'istio-system']).catch((err: Error) => {
    if (!/AlreadyExists/.test(err.message)) throw err;
  });
  await kube.kubectl(['apply', '--server-side', '-f', bins.crds], { timeoutMs: 180_000 });
  await kube.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s'], {
    timeoutMs: 150_000,
  });
  const [grpcPort, securePort, httpPort, httpsPort, monPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const dir = join(kube.dir, 'istiod');
  mkdirSync(dir, { recursive: true });
  const log = join(kube.dir, 'istiod.log');
  const fd = openSync(log, 'a');
  const child: ChildProcess = spawn(
    bins.pilotDiscovery,
    [
      'discovery',
      `--kubeconfig=${kube.adminKubeconfig}`,
      `--grpcAddr=127.0.0.1:${grpcPort}`,
      `--secureGRPCAddr=127.0.0.1:${securePort}`,
      `--httpAddr=127.0.0.1:${httpPort}`,
      `--httpsAddr=127.0.0.1:${httpsPort}`,
      `--monitoringAddr=127.0.0.1:${monPort}`,
      '--ctrlz_port=0',
      '--domain=cluster.local',
    ],
    {
      cwd: dir,
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        POD_NAMESPACE: 'istio-system',
        POD_NAME: 'istiod-test',
        REVISION: 'default',
        ...opts.env,
      },
    },
  );
  closeSync(fd);
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const tail = () => readFileSync(log, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`istiod exited (${child.exitCode}):\n${tail()}`);
      const r = await fetch(`http://127.0.0.1:${httpPort}/ready`, { signal: AbortSignal.timeout(1000) });
      return r.ok;
    },
    'istiod /ready',
    90_000,
    200,
  );
  const api = adminRequester(kube);
  return {
    caAddress: `127.0.0.1:${securePort}`,
    xdsAddress: `127.0.0.1:${grpcPort}`,
    log,
    rootOf: (namespace) =>
      waitFor(
        async () => {
          const cm = await api.request<{ data?: Record<string, string> }>(
            'GET',
            `/api/v1/namespaces/${namespace}/configmaps/istio-ca-root-cert`,
          );
          return cm.data?.['root-cert.pem'];
        },
        `istio-ca-root-cert in ${namespace}`,
        30_000,
        200,
      ),
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The clusters istiod generates for an Istio ingress gateway (node type `router`) in `namespace`: the oracle that
 * meshgate's own Istio clusters are to agree with. Decoded as plain objects (snake_case; Struct values camelCase).
 */
export async function istiodRouterClusters(
  istiod: Istiod,
  o: { namespace: string; serviceAccount: string; podName?: string },
): Promise<Map<string, Record<string, unknown>>> {
  const str = (v: string) => ({ stringValue: v });
  const c = await AdsClient.connect({
    address: istiod.xdsAddress,
    node: {
      // <type>~<ip>~<pod>.<ns>~<ns>.svc.<domain>, as istiod parses a proxy's node id.
      id: `router~10.255.0.1~${o.podName ?? 'meshgate-oracle'}.${o.namespace}~${o.namespace}.svc.cluster.local`,
      metadata: {
        fields: {
          NAMESPACE: str(o.namespace),
          SERVICE_ACCOUNT: str(o.serviceAccount),
          CLUSTER_ID: str('Kubernetes'),
          ISTIO_VERSION: str('1.31.0'),
        },
      },
    },
  });
  try {
    c.subscribe(TYPE.cluster, []);
    const r = await c.next(TYPE.cluster, 20_000);
    return new Map(r.resources.map((x) => [x.name, x.object ?? {}]));
  } finally {
    c.close();
  }
}

/** What every Istio suite starts with: API server, istiod, the gateway's namespace and ServiceAccount, the root. */
export interface IstioEnv {
  env: KubeEnv;
  istiod: Istiod;
  /** istio-ca-root-cert of the gateway namespace. */
  root: string;
  namespace: string;
  serviceAccount: string;
  stop(): Promise<void>;
}

/**
 * Builds (once) and starts kube-apiserver + etcd and istiod, creates the gateway namespace and ServiceAccount and
 * waits for istiod's root in it. One build at a time on a shared machine: the API server's first, then istiod's.
 */
export async function startIstioEnv(
  o: { namespace?: string; serviceAccount?: string; istiod?: IstiodOptions } = {},
): Promise<IstioEnv> {
  const namespace = o.namespace ?? 'gateway';
  const serviceAccount = o.serviceAccount ?? 'meshgate';
  await kubeBinaries();
  await istiodBinaries();
  const env = await startKubeEnv({ gatewayApiCrds: false });
  let istiod: Istiod | undefined;
  try {
    istiod = await startIstiod(env, o.istiod);
    await env.kubectl(['create', 'namespace', namespace]);
    await env.kubectl(['create', 'serviceaccount', serviceAccount, '-n', namespace]);
    const root = await istiod.rootOf(namespace);
    const started = istiod;
    return {
      env,
      istiod: started,
      root,
      namespace,
      serviceAccount,
      async stop() {
        await started.stop();
        await env.stop();
      },
    };
  } catch (err) {
    await istiod?.stop();
    await env.stop();
    throw err;
  }
}
