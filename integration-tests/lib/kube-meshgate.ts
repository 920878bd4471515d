// What the Kubernetes source suites share: a real API server (kube-env), echo backends in a network
// namespace (EndpointSlices refuse loopback), the chart's RBAC applied and meshgate started as a real
// `meshgate serve --kubeconfig` child process authenticated as the chart's ServiceAccount.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { applyChartRbac, type ChartRbac } from './kube-chart.ts';
import { type KubeEnv, kubeBinaries, startKubeEnv } from './kube-env.ts';
import { MeshgateProcess } from './meshgate-process.ts';
import { type BackendNetns, createBackendNetns, type NsEcho } from './netns.ts';
import { getJson } from './wait.ts';

/** Port every echo backend listens on, each on its own namespace address (one slice = one port). */
export const ECHO_PORT = 50051;
/** The namespace the chart is installed in (its Lease and its GatewayClass's Gateways live here). */
export const MESHGATE_NS = 'meshgate';

export interface KubeMeshgate {
  env: KubeEnv;
  netns: BackendNetns;
  echoes: Record<string, NsEcho>;
  rbac: ChartRbac;
  dir: string;
  /** Writes a meshgate config (the chart's kubernetes section plus `extra`) and returns a not yet started process. */
  meshgate(extra?: Record<string, unknown>, kubernetes?: Record<string, unknown>): MeshgateProcess;
  close(): Promise<void>;
}

export async function startKubeMeshgate(backends: string[]): Promise<KubeMeshgate> {
  await kubeBinaries();
  const env = await startKubeEnv();
  const netns = await createBackendNetns({ addresses: backends.length });
  const echoes: Record<string, NsEcho> = {};
  for (const [i, name] of backends.entries())
    echoes[name] = await netns.startEcho(name, { ip: netns.nsIps[i], port: ECHO_PORT });
  const rbac = await applyChartRbac(env, MESHGATE_NS);
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-kube-'));
  const procs: MeshgateProcess[] = [];
  let n = 0;
  return {
    env,
    netns,
    echoes,
    rbac,
    dir,
    meshgate(extra = {}, kubernetes = {}) {
      const file = join(dir, `meshgate-${++n}.yaml`);
      const config = {
        services: [],
        routes: [],
        listeners: [],
        ...extra,
        kubernetes: {
          ...rbac.config,
          leaderElection: { ...(rbac.config.leaderElection as object), leaseSeconds: 4 },
          ...kubernetes,
        },
      };
      writeFileSync(file, stringify(config));
      const p = new MeshgateProcess(file, ['--kubeconfig', rbac.kubeconfig]);
      procs.push(p);
      return p;
    },
    async close() {
      await Promise.all(procs.map((p) => p.stop()));
      await netns.destroy();
      await env.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SliceEndpoint {
  ip: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zone?: string;
}

export function serviceYaml(ns: string, name: string, port = ECHO_PORT): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  ports: [{name: grpc, port: ${port}, appProtocol: grpc}]
`;
}

/** An EndpointSlice of Service ns/svc, as the EndpointSlice controller would write it. */
export function sliceYaml(ns: string, svc: string, name: string, endpoints: SliceEndpoint[]): string {
  return stringify({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: ECHO_PORT, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ready: e.ready ?? true,
        serving: e.serving ?? e.ready ?? true,
        terminating: e.terminating ?? false,
      },
      ...(e.zone ? { zone: e.zone } : {}),
    })),
  });
}

/** The kubernetes source's status details from /readyz, plus the keys of its failing watches. */
export async function kubeDetails(
  p: MeshgateProcess,
): Promise<Record<string, unknown> & { leader?: boolean; failing: string[] }> {
  const r = await getJson(`${p.adminUrl}/readyz`);
  const k = r.body?.sources?.kubernetes ?? {};
  return { ...(k.details ?? {}), failing: k.watches?.failing ?? ['(no watches reported)'] };
}

/** An object as JSON, read as the admin. */
export async function getObject<T = any>(env: KubeEnv, args: string[]): Promise<T> {
  return JSON.parse(await env.kubectl(['get', ...args, '-o', 'json']));
}

/** Type -> "status/reason" of a condition list. */
export function conditions(
  list: { type: string; status: string; reason: string }[] | undefined,
): Record<string, string> {
  return Object.fromEntries((list ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}
