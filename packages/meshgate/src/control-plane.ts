// Wires meshgate together: sources -> pipeline -> cache -> xDS server, plus the admin server.
import { collectDefaultMetrics, Registry as PromRegistry } from 'prom-client';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Source } from '@meshgate/model';
import { FileSource } from '@meshgate/adapter-file';
import type { FileSourceOptions } from '@meshgate/adapter-file';
import { ConsulSource } from '@meshgate/adapter-consul';
import { createKubeClient, KubernetesSource, loadKubeConfig } from '@meshgate/adapter-kubernetes';
import type { KubeClient } from '@meshgate/adapter-kubernetes';
import { ConfigError, InvalidConfigError } from '@meshgate/config-schema';
import { TYPE, XdsCache, XdsServer } from '@meshgate/xds-core';
import type { PeerIdentity, SecretDecision, SecretInfo, XdsNode } from '@meshgate/xds-core';
import { AdminServer } from './admin.ts';
import { loadSettings } from './config.ts';
import { CONFIG_SCHEMA } from './config-schema.ts';
import type { MeshgateSettings, Overrides } from './config.ts';
import { nodesPage, resourcesPage } from './debug.ts';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import type { Metrics } from './metrics.ts';
import { Pipeline } from './pipeline.ts';
import { CertsSource } from './certs-source.ts';
import { IstioSource } from './istio-source.ts';
import { istioMeshHook } from './istio-upstreams.ts';
import { LinkerdSource } from './linkerd-source.ts';
import { ServiceProfileCheck } from './linkerd-profiles.ts';
import { ConvergenceTracker } from './convergence.ts';
import { secretAccess, secretsWarnings } from './node-authz.ts';
import type { SecretsPolicy } from './node-authz.ts';

export interface ControlPlaneOptions extends Overrides {
  /** The YAML config file (adapter-file format plus meshgate's own sections). */
  configPath: string;
  logger?: Logger;
  /** Extra sources after the configured ones (embedding, tests). */
  extraSources?: Source[];
  env?: NodeJS.ProcessEnv;
}

export interface ControlPlane {
  xdsPort: number;
  adminPort: number;
  settings: MeshgateSettings;
  cache: XdsCache;
  server: XdsServer;
  pipeline: Pipeline;
  metrics: Metrics;
  close(): Promise<void>;
}

const SHORT_TYPE: Record<string, string> = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
const typeLabel = (typeUrl: string) => SHORT_TYPE[typeUrl] ?? 'other';

/**
 * The file source reads the same file and checks all of it against the one schema on each
 * reload; it converts only the model's sections. With other sources configured
 * (`externalReferences`), routes may name their services (e.g. `consul/dc1/web`): the merged model
 * is checked for references nobody resolves instead.
 */
export function fileSourceOptions(path: string, externalReferences = false): FileSourceOptions {
  return {
    path,
    name: 'file',
    schema: CONFIG_SCHEMA,
    ...(externalReferences ? { externalReferences } : {}),
  };
}

/** Route backends that name Consul services (`consul/<dc>/<svc>`), for ConsulSource.watchServices. */
export function consulBackends(names: Iterable<string>): string[] {
  return [...names].filter((n) => /^consul\/[^/]+\/[^/]+$/.test(n)).sort();
}

function buildSources(
  settings: MeshgateSettings,
  log: Logger,
  env: NodeJS.ProcessEnv,
): { sources: Source[]; consul?: ConsulSource } {
  const external =
    settings.consul !== undefined || settings.kubernetes !== undefined || !!settings.linkerd?.services.length;
  const sources: Source[] = [new FileSource(fileSourceOptions(settings.configPath, external))];
  let consul: ConsulSource | undefined;
  if (settings.consul) {
    consul = new ConsulSource({ ...settings.consul, logger: log.child({ component: 'source', source: 'consul' }) });
    sources.push(consul);
  }
  const linkerd = settings.linkerd
    ? new LinkerdSource(settings.linkerd, log.child({ component: 'source', source: 'linkerd' }), settings.kubeconfig)
    : undefined;
  if (settings.kubernetes) {
    const options = settings.kubernetes;
    // Outside a pod there is no service account to fall back on: say which setting is missing.
    if (!settings.kubeconfig && !env.KUBERNETES_SERVICE_HOST)
      throw new Error(
        `${settings.configPath}: kubernetes: no kubeconfig and not running in a pod; pass --kubeconfig PATH or set kubernetes.kubeconfig`,
      );
    sources.push(
      new KubernetesSource({
        ...options,
        kubeconfig: settings.kubeconfig,
        // readSettings refuses both at once.
        ...(settings.istio?.upstreams ? { mesh: istioMeshHook(settings.istio, options.clusterDomain) } : {}),
        ...(linkerd && settings.linkerd?.kubernetesServices
          ? { mesh: linkerd.kubernetesHook(options.clusterDomain) }
          : {}),
        logger: log.child({ component: 'source', source: options.name ?? 'kubernetes' }),
      }),
    );
  }
  if (settings.certs)
    sources.push(new CertsSource(settings.certs, log.child({ component: 'source', source: 'certs' })));
  if (settings.istio)
    sources.push(
      new IstioSource({
        settings: settings.istio,
        kubeconfig: settings.kubeconfig,
        logger: log.child({ component: 'source', source: 'istio' }),
      }),
    );
  if (linkerd) sources.push(linkerd);
  return { sources, ...(consul ? { consul } : {}) };
}

function serverCredentials(settings: MeshgateSettings): grpc.ServerCredentials {
  const tls = settings.xds.tls;
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f);
    } catch (err) {
      throw new InvalidConfigError([
        new ConfigError(
          'file',
          settings.configPath,
          { path: `xds.tls.${what}`, line: 0, col: 0 },
          `cannot read ${f} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
          'check the path (relative paths are resolved against the config file)',
        ),
      ]);
    }
  };
  // Clients must present a certificate from the CA: the xDS port hands out mesh identities.
  return grpc.ServerCredentials.createSsl(
    read(tls.caFile, 'caFile'),
    [{ cert_chain: read(tls.certFile, 'certFile'), private_key: read(tls.keyFile, 'keyFile') }],
    true,
  );
}

/**
 * Starts a control plane: admin server first (so /healthz answers during start-up), then the
 * xDS server (which answers no stream before the cache is ready), then the sources.
 */
export async function createControlPlane(o: ControlPlaneOptions): Promise<ControlPlane> {
  const settings = loadSettings(o.configPath, o, o.env);
  const log = o.logger ?? createLogger(settings.logLevel);
  const built = buildSources(settings, log, o.env ?? process.env);
  const sources = [...built.sources, ...(o.extraSources ?? [])];
  const consul = built.consul;
  const cache = new XdsCache();
  let pipeline: Pipeline | undefined;
  const policy: SecretsPolicy = {
    xdsTls: settings.xds.tls !== undefined,
    insecureAllowUnauthenticated: settings.xds.insecureAllowUnauthenticatedSecrets,
  };
  const server = new XdsServer({
    cache,
    logger: log,
    departedRetentionMs: settings.xds.nackRetentionMs,
    maxRequestBytes: settings.xds.maxRequestBytes,
    stalledStreamMs: settings.xds.stalledStreamMs,
    maxConnections: settings.xds.maxConnections,
    maxStreamsPerConnection: settings.xds.maxStreamsPerConnection,
    authorizeSecret: (node: XdsNode, secretName: string, peer: PeerIdentity | undefined, info: SecretInfo) => {
      // Trust bundles are public. A Secret with a private key needs an authenticated client that the
      // identity's allowedNodes admits (node-authz.ts); one no identity claims (a race with a reload)
      // is treated as an identity without allowedNodes.
      if (!info.holdsKey) return true;
      const id = pipeline?.model?.identities.find((i) => i.name === secretName);
      const d = secretAccess(id?.allowedNodes, node, peer, policy);
      return d.ok ? true : ({ refuse: d.reason } satisfies SecretDecision);
    },
  });
  const metrics = createMetrics(
    () => server.stats().streams,
    () => server.stats().connections,
  );
  pipeline = new Pipeline({
    sources,
    cache,
    logger: log.child({ component: 'pipeline' }),
    metrics,
    debounceMs: settings.xds.debounceMs,
    maxDelayMs: settings.xds.maxDelayMs,
    // Consul watches only configured services by default; routes (the file's, or Consul's own
    // ingress routes) name the rest, so the source watches exactly what traffic can reach.
    ...(consul ? { onRouteBackends: (names: ReadonlySet<string>) => consul.watchServices(consulBackends(names)) } : {}),
  });
  const p = pipeline;

  server.on('push', (e) => {
    metrics.pushes.inc({ type: typeLabel(e.typeUrl) });
    metrics.pushBytes.inc({ type: typeLabel(e.typeUrl) }, e.bytes);
  });
  server.on('nack', (e) => {
    metrics.nacks.inc({ type: typeLabel(e.typeUrl) });
  });
  metrics.refusedConnections.inc({}, 0);
  server.on('refused', () => metrics.refusedConnections.inc({}));

  const convergence = new ConvergenceTracker((seconds) => metrics.convergence.observe({ stage: 'ack' }, seconds));
  server.on('connect', (e) => convergence.connect(e));
  server.on('disconnect', (e) => convergence.disconnect(e));
  server.on('push', (e) => convergence.push(e));
  server.on('ack', (e) => convergence.answer(e));
  server.on('nack', (e) => convergence.answer(e));
  p.on('published', (e) => convergence.published(e.at, e.groups));
  // Checked at start and on every publish (each reload), each warning logged once. A reload that
  // changes who may fetch an identity re-decides every Secret already asked for.
  const warned = new Set<string>();
  let warnings: string[] = [];
  const warn = (list: string[]) => {
    warnings = list;
    for (const w of list) {
      if (warned.has(w)) continue;
      warned.add(w);
      log.warn({ xdsTls: policy.xdsTls, insecureAllowUnauthenticatedSecrets: policy.insecureAllowUnauthenticated }, w);
    }
  };
  warn(secretsWarnings({ ...policy, identities: [] }));
  let rules = '';
  p.on('published', () => {
    const identities = (p.model?.identities ?? []).map((i) => ({ name: i.name, allowedNodes: i.allowedNodes }));
    warn(secretsWarnings({ ...policy, identities }));
    const next = JSON.stringify(identities);
    if (rules !== '' && next !== rules) server.recheckSecrets();
    rules = next;
  });

  // Linkerd injected ingress: routed Services without a ServiceProfile are warned about (linkerd-profiles.ts).
  let kube: KubeClient | undefined;
  const profiles = settings.kubernetes?.linkerdIngress
    ? new ServiceProfileCheck(
        () =>
          (kube ??= createKubeClient(
            loadKubeConfig(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : { inCluster: true }),
          )),
      )
    : undefined;
  const profileWarned = new Set<string>();
  const profileWarnings = () => {
    const list = profiles?.warnings() ?? [];
    for (const w of list) if (!profileWarned.has(w) && profileWarned.add(w)) log.warn(w);
    return list;
  };
  if (profiles) p.on('published', () => p.model && profiles.update(p.model));

  const runtimeMetrics = new PromRegistry();
  collectDefaultMetrics({ register: runtimeMetrics });

  const admin = new AdminServer(
    {
      readiness: () => {
        const r = p.readiness();
        return {
          ready: r.ready,
          detail: {
            ...r.detail,
            // How Secrets with private keys are served, and what is unsafe or unserved about it.
            secrets: {
              clientAuthentication: policy.xdsTls ? 'mtls' : 'none',
              insecureAllowUnauthenticatedSecrets: policy.insecureAllowUnauthenticated,
              ...(warnings.length ? { warnings } : {}),
            },
            ...(profiles && profileWarnings().length ? { linkerdIngress: { warnings: profileWarnings() } } : {}),
          },
        };
      },
      // meshgate_ series first, then prom-client's process, heap and event-loop collectors.
      metrics: async () => metrics.registry.render() + (await runtimeMetrics.metrics()),
      nodes: () => nodesPage(server.nodes(), server.departedNodes()),
      resources: (q) => resourcesPage(cache, q, p.profiles),
    },
    log.child({ component: 'admin' }),
  );

  let adminPort = 0;
  let xdsPort = 0;
  try {
    adminPort = await admin.listen(settings.admin.port, settings.admin.address);
    xdsPort = await server.listen(settings.xds.port, settings.xds.address, serverCredentials(settings));
    await p.start();
    profiles?.start();
  } catch (err) {
    await p.stop().catch(() => {});
    await server.close().catch(() => {});
    await admin.close().catch(() => {});
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    xdsPort,
    adminPort,
    settings,
    cache,
    server,
    pipeline: p,
    metrics,
    close: () =>
      (closing ??= (async () => {
        profiles?.stop();
        await p.stop();
        await server.close();
        await admin.close();
        log.info('meshgate stopped');
      })()),
  };
}
