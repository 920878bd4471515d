// The chart's kubernetes mode on the real API server: `helm template` renders charts/meshgate, and the
// ServiceAccount, RBAC and GatewayClass it renders are applied as they are. Tests then run meshgate with a
// token of that ServiceAccount, which proves the chart grants enough (and a test that needs more fails).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { KubeEnv } from './kube-env.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(ROOT, 'charts/meshgate');
/** The kinds applied; the Deployment, Service and ConfigMap are not (meshgate runs as a test process). */
const KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'GatewayClass']);

export interface ChartRbac {
  /** Kubeconfig of the chart's ServiceAccount (TokenRequest token; the env's CA). */
  kubeconfig: string;
  namespace: string;
  serviceAccount: string;
  /** The `kubernetes:` section of the meshgate config the chart renders (namespaces, controllerName, ...). */
  config: Record<string, unknown>;
  /** The objects applied. */
  objects: Array<{ kind: string; metadata: { name: string; namespace?: string } }>;
}

let helmPath: Promise<string> | undefined;
function helm(): Promise<string> {
  helmPath ??= new Promise((resolve, reject) =>
    execFile(
      'bash',
      [join(ROOT, 'integration-tests/tools/build-helm.sh')],
      { timeout: 1_200_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`build-helm.sh failed: ${stderr}`)) : resolve(stdout.trim().split('\n').at(-1)!),
    ),
  );
  return helmPath;
}

/**
 * Renders the chart in kubernetes mode into namespace ns (release "meshgate" unless opts.release), applies
 * its ServiceAccount, ClusterRoles, Roles, bindings and GatewayClass, creating the namespaces they live in,
 * and returns a kubeconfig for the ServiceAccount. opts.set: extra `helm --set` values, e.g.
 * ['kubernetes.namespaces={shop,meshgate}']. Cluster-scoped names are prefixed by the release, so use a
 * distinct release per call in one env.
 */
export async function applyChartRbac(
  env: KubeEnv,
  ns: string,
  opts: { release?: string; set?: string[] } = {},
): Promise<ChartRbac> {
  const release = opts.release ?? 'meshgate';
  const args = ['template', release, CHART, '--namespace', ns, '--set', 'kubernetes.enabled=true'];
  for (const s of opts.set ?? []) args.push('--set', s);
  const bin = await helm();
  const rendered = await new Promise<string>((resolve, reject) =>
    execFile(bin, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`helm ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
    ),
  );
  const all = parseAllDocuments(rendered)
    .map((d) => d.toJS())
    .filter(Boolean);
  const objects = all.filter((o) => KINDS.has(o.kind));
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa) throw new Error('the chart rendered no ServiceAccount in kubernetes mode');
  const configMap = all.find((o) => o.kind === 'ConfigMap');
  const config = parse(configMap.data['meshgate.yaml']).kubernetes ?? {};

  const namespaces = new Set<string>([ns]);
  for (const o of objects) if (o.metadata.namespace) namespaces.add(o.metadata.namespace);
  await env.apply(
    [...namespaces].map((n) => stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })).join('---\n'),
  );
  await env.apply(objects.map((o) => stringify(o)).join('---\n'));
  const kubeconfig = await env.serviceAccountKubeconfig(ns, sa.metadata.name);
  return { kubeconfig, namespace: ns, serviceAccount: sa.metadata.name, config, objects };
}
