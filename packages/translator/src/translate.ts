import { isIP } from 'node:net';
import { emptyModel, validateModel } from '@meshgate/model';
import type { Model, ModelProblem, Service } from '@meshgate/model';
import type {
  Cluster,
  ClusterLoadAssignment,
  Listener,
  Resource,
  RouteConfiguration,
  Secret,
} from '@meshgate/envoy-api';
import { TYPE, type Profile, type ResourceSet } from './types.ts';
import { byName, cmp } from './common.ts';
import { translateCluster } from './clusters.ts';
import { translateEndpoints } from './endpoints.ts';
import { envoyListener, envoyRouteConfig, identitySecret, trustBundleSecret } from './envoy.ts';
import { grpcListener, grpcRouteConfig, grpcTargets } from './grpc.ts';

export function emptyResourceSet(): ResourceSet {
  return new Map(Object.values(TYPE).map((t) => [t, new Map<string, Resource>()]));
}

/**
 * Model -> xDS resources for one node profile. Pure. When the model has problems the
 * resource set is empty and the caller keeps serving its last good set (docs/architecture.md, rule 5).
 */
export function translate(model: Model, profile: Profile): { resources: ResourceSet; problems: ModelProblem[] } {
  const problems = [...validateModel(model), ...extraProblems(model)];
  if (problems.length > 0) return { resources: emptyResourceSet(), problems };

  const services = new Map(model.services.map((s) => [s.name, s]));
  const routes = new Map(model.routes.map((r) => [r.name, r]));
  const listeners = new Map<string, Listener>();
  const routeConfigs = new Map<string, RouteConfiguration>();
  const clusters = new Map<string, Cluster>();
  const assignments = new Map<string, ClusterLoadAssignment>();
  const secrets = new Map<string, Secret>();

  for (const s of [...model.services].sort(byName)) {
    clusters.set(s.name, translateCluster(s, profile));
    assignments.set(s.name, translateEndpoints(s, profile));
  }
  if (profile === 'envoy') {
    for (const l of [...model.listeners].sort(byName)) {
      listeners.set(l.name, envoyListener(l));
      routeConfigs.set(l.name, envoyRouteConfig(l, routes, services));
    }
    for (const i of [...model.identities].sort(byName)) secrets.set(i.name, identitySecret(i));
    for (const b of [...model.trustBundles].sort(byName)) secrets.set(b.name, trustBundleSecret(b));
  } else {
    for (const [target, rs] of grpcTargets(model)) {
      listeners.set(target, grpcListener(target));
      routeConfigs.set(target, grpcRouteConfig(target, rs, services));
    }
  }
  const out: ResourceSet = new Map<string, Map<string, Resource>>([
    [TYPE.listener, listeners],
    [TYPE.route, routeConfigs],
    [TYPE.cluster, clusters],
    [TYPE.endpoint, assignments],
    [TYPE.secret, secrets],
  ]);
  const broken = checkRefs(clusters, assignments, routeConfigs);
  if (broken.length > 0) return { resources: emptyResourceSet(), problems: broken };
  return { resources: out, problems: [] };
}

const MAX_WEIGHT = 0xffffffff;

/**
 * EDS rules beyond validateModel's: every endpoint address is an IP (clients NACK a name), and weights fit the
 * wire's uint32 (a larger one, or a locality whose sum is larger, would wrap: a locality weight of 0 is refused by
 * Envoy's own rules; any other wrap silently skews the split).
 */
function endpointProblems(services: readonly Service[]): ModelProblem[] {
  const problems: ModelProblem[] = [];
  for (const s of services) {
    let total = 0;
    for (const e of s.endpoints) {
      total += e.weight ?? 1;
      if (e.weight !== undefined && e.weight > MAX_WEIGHT) {
        problems.push({
          path: `services[${s.name}].endpoints[${e.address}:${e.port}]`,
          message: `weight ${e.weight} is more than ${MAX_WEIGHT}, the largest weight xDS can carry`,
          source: s.source,
        });
      }
    }
    if (total > MAX_WEIGHT && s.endpoints.every((e) => (e.weight ?? 1) <= MAX_WEIGHT)) {
      problems.push({
        path: `services[${s.name}]`,
        message: `endpoint weights add up to ${total}, more than ${MAX_WEIGHT} (xDS carries a locality's total weight as a uint32); scale the weights down`,
        source: s.source,
      });
    }
    for (const e of s.endpoints) {
      if (e.address && isIP(e.address) === 0) {
        problems.push({
          path: `services[${s.name}].endpoints[${e.address}:${e.port}]`,
          message: `address ${JSON.stringify(e.address)} is not an IP address; EDS endpoints must be IPs (resolve the name first, e.g. 127.0.0.1 instead of localhost)`,
          source: s.source,
        });
      }
    }
  }
  return problems;
}

/**
 * The endpoint fast path: ClusterLoadAssignments for the services of `model` whose endpoints
 * alone changed, held to the same rules translate() applies to them. With problems nothing is
 * returned to publish, as with translate().
 */
export function translateEndpointUpdate(
  model: Model,
  services: readonly Service[],
  profile: Profile,
): { assignments: Map<string, ClusterLoadAssignment>; problems: ModelProblem[] } {
  // The services' references (trust bundle, client identity) are checked against the whole model.
  const sub: Model = { ...emptyModel(), services, identities: model.identities, trustBundles: model.trustBundles };
  const problems = [...validateModel(sub), ...endpointProblems(services)];
  if (problems.length > 0) return { assignments: new Map(), problems };
  return { assignments: new Map(services.map((s) => [s.name, translateEndpoints(s, profile)])), problems: [] };
}

/** Problems validateModel does not know about but a data plane would reject. */
function extraProblems(model: Model): ModelProblem[] {
  const problems: ModelProblem[] = [];
  const dup = (kind: string, items: readonly { name: string; source?: string }[]) => {
    const seen = new Set<string>();
    for (const it of items) {
      if (seen.has(it.name))
        problems.push({
          path: `${kind}[${it.name}]`,
          message: `duplicate name ${JSON.stringify(it.name)}; names must be unique`,
          source: it.source,
        });
      seen.add(it.name);
    }
  };
  dup('services', model.services);
  dup('routes', model.routes);
  dup('listeners', model.listeners);
  // Identities and trust bundles share the Secret namespace.
  dup('secrets', [...model.identities, ...model.trustBundles]);
  problems.push(...endpointProblems(model.services));
  for (const l of model.listeners) {
    if (l.address !== undefined && isIP(l.address) === 0) {
      problems.push({
        path: `listeners[${l.name}]`,
        message: `address ${JSON.stringify(l.address)} is not an IP address; use 0.0.0.0, :: or a local IP`,
        source: l.source,
      });
    }
  }
  for (const r of model.routes) {
    for (const h of r.hosts) {
      if (h === '' || /\s/.test(h) || (h.includes('*') && h !== '*' && !h.startsWith('*.'))) {
        problems.push({
          path: `routes[${r.name}].hosts[${h}]`,
          message: `invalid host ${JSON.stringify(h)}: use a DNS name, "*.suffix" or "*"`,
          source: r.source,
        });
      }
    }
  }
  return problems;
}

/**
 * Reference check on translated resources: every cluster a route names exists and every EDS
 * cluster has an assignment. A failure here is a translator bug, reported rather than shipped.
 */
export function checkResources(set: ResourceSet): ModelProblem[] {
  const clusters: ReadonlyMap<string, Cluster> = set.get(TYPE.cluster) ?? new Map();
  const assignments: ReadonlyMap<string, ClusterLoadAssignment> = set.get(TYPE.endpoint) ?? new Map();
  const routeConfigs: ReadonlyMap<string, RouteConfiguration> = set.get(TYPE.route) ?? new Map();
  return checkRefs(clusters, assignments, routeConfigs);
}

function checkRefs(
  clusters: ReadonlyMap<string, Cluster>,
  assignments: ReadonlyMap<string, ClusterLoadAssignment>,
  routeConfigs: ReadonlyMap<string, RouteConfiguration>,
): ModelProblem[] {
  const problems: ModelProblem[] = [];
  for (const [name, cl] of clusters) {
    const svc = cl.eds_cluster_config?.service_name || name;
    if (cl.type === 'EDS' && !assignments.has(svc))
      problems.push({
        path: `clusters[${name}]`,
        message: `EDS cluster has no ClusterLoadAssignment ${JSON.stringify(svc)}`,
      });
  }
  for (const [name, rc] of routeConfigs) {
    for (const vh of rc.virtual_hosts ?? []) {
      for (const r of vh.routes ?? []) {
        // Redirects and local responses have no route action and name no cluster.
        const names = r.route?.cluster
          ? [r.route.cluster]
          : (r.route?.weighted_clusters?.clusters ?? []).map((c) => c.name ?? '');
        for (const cn of names) {
          if (!clusters.has(cn))
            problems.push({
              path: `routeConfigurations[${name}].virtualHosts[${vh.name}].routes[${r.name}]`,
              message: `cluster ${JSON.stringify(cn)} does not exist`,
            });
        }
      }
    }
  }
  return problems.sort((a, b) => cmp(a.path, b.path));
}
