// Linkerd's identity controller as a source: the gateway's Linkerd certificate (Certify with the gateway
// ServiceAccount's token) becomes a model identity served over SDS, and the Linkerd trust anchors a trust bundle.
// Renewal follows the certificate's own lifetime through the RotationManager (docs/architecture.md, rule 11); a
// failed renewal keeps the last good certificate in service and says why on /readyz. The token is read from its
// file on every call (kubelet rotates projected tokens) and never reaches a log, an error or the status.
import { readFile } from 'node:fs/promises';
import {
  type DestinationState,
  DestinationWatch,
  destinationServerName,
  destinationTls,
  IDENTITY_TOKEN_AUDIENCE,
  LinkerdCertificateProvider,
  LinkerdIdentityClient,
  type LinkerdServiceConfig,
  type LinkerdServiceReport,
  linkerdService,
  TRUST_ROOTS_CONFIGMAP,
  TRUST_ROOTS_KEY,
  trustAnchorsFromConfigMap,
  trustRootsSource,
} from '@meshgate/adapter-linkerd';
import { createKubeClient, loadKubeConfig, tokenRequestSource } from '@meshgate/adapter-kubernetes';
import type { KubeClient } from '@meshgate/adapter-kubernetes';
import { ALLOWED_NODES, NAME } from '@meshgate/adapter-file';
import { RotationManager } from '@meshgate/certs';
import { parseDuration } from '@meshgate/config-schema';
import type { ConfigSection, Spec } from '@meshgate/config-schema';
import { emptyModel } from '@meshgate/model';
import type { Source, SourceSink } from '@meshgate/model';
import { dnsName, HOST_PORT, KUBE_NAME, PATH } from './config-specs.ts';
import { LinkerdMeshHook } from './linkerd-upstreams.ts';
import type { Logger } from './logger.ts';

export const LINKERD_DEFAULTS = {
  identityAddress: 'linkerd-identity.linkerd.svc.cluster.local:8080',
  linkerdNamespace: 'linkerd',
  trustDomain: 'cluster.local',
  transport: 'tls',
  secretName: 'linkerd/identity',
  trustBundle: 'linkerd/roots',
  timeout: '10s',
  destinationAddress: 'linkerd-dst-headless.linkerd.svc.cluster.local:8086',
  destinationTransport: 'tls',
} as const;

const AUTHORITY: Spec = {
  kind: 'string',
  pattern:
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.svc\.[a-z0-9]([a-z0-9.-]*[a-z0-9])?:\d{1,5}$/,
  hint: 'a Service port as Linkerd names it: <service>.<namespace>.svc.<cluster-domain>:<port>, e.g. web.shop.svc.cluster.local:8080',
  typeName: 'authority',
};

const LINKERD_SERVICE: Spec = {
  kind: 'object',
  typeName: 'linkerd service',
  fields: {
    name: {
      spec: NAME,
      required: true,
      doc: 'the model service name routes use as a backend (and the `xds:///<name>` target)',
    },
    authority: {
      spec: AUTHORITY,
      required: true,
      doc: 'the Service port the destination controller resolves: `<svc>.<ns>.svc.<cluster-domain>:<port>`',
    },
    protocol: {
      spec: { kind: 'string', enum: ['http', 'http2', 'grpc', 'tcp'] },
      default: 'http',
      doc: '`http2` and `grpc` make Envoy speak HTTP/2 upstream',
    },
    allowPlaintextUnmeshed: {
      spec: { kind: 'bool' },
      default: 'false',
      doc: 'reach endpoints the controller gives no Linkerd identity (pods without the mesh) in plaintext; by default they are left out and reported on `/readyz`',
    },
  },
};

export const LINKERD_SECTION: ConfigSection = {
  key: 'linkerd',
  owner: '@meshgate/meshgate',
  field: {
    doc: "the gateway's Linkerd identity (direct mode) from Linkerd's identity controller, served over SDS",
    spec: {
      kind: 'object',
      fields: {
        identityAddress: {
          spec: HOST_PORT,
          default: LINKERD_DEFAULTS.identityAddress,
          doc: "host:port of Linkerd's identity controller (`Certify`)",
        },
        linkerdNamespace: {
          spec: KUBE_NAME,
          default: LINKERD_DEFAULTS.linkerdNamespace,
          doc: "Linkerd's control-plane namespace (part of every Linkerd identity name)",
        },
        trustDomain: {
          spec: dnsName('trust domain'),
          default: LINKERD_DEFAULTS.trustDomain,
          doc: "Linkerd's identity trust domain",
        },
        serviceAccount: {
          spec: KUBE_NAME,
          required: true,
          doc: "the gateway's ServiceAccount: the certificate names `<serviceAccount>.<namespace>.serviceaccount.identity.<linkerdNamespace>.<trustDomain>`",
        },
        namespace: { spec: KUBE_NAME, required: true, doc: "the gateway's namespace" },
        tokenFile: {
          spec: PATH,
          doc: 'a projected ServiceAccount token of that ServiceAccount with audience `identity.l5d.io`, read on every renewal; without it, a token from the TokenRequest API for that ServiceAccount through the Kubernetes API (`kubeconfig`), reused until 80 % of its lifetime',
        },
        trustAnchorsFile: {
          spec: PATH,
          doc: 'PEM trust anchors, read on every renewal and every 5 s (an edited bundle is requested against at once); without it, ConfigMap `linkerd-identity-trust-roots` key `ca-bundle.crt` in `linkerdNamespace`, read the same way through the Kubernetes API',
        },
        kubeconfig: {
          spec: PATH,
          doc: "kubeconfig for the TokenRequest and the trust-roots ConfigMap; default `--kubeconfig` / `kubernetes.kubeconfig`, else the pod's own ServiceAccount",
        },
        transport: {
          spec: {
            kind: 'string',
            enum: ['tls', 'plaintext'],
            hint: 'leave it at tls unless the identity controller runs without a linkerd-proxy in front of it',
          },
          default: LINKERD_DEFAULTS.transport,
          doc: "`tls`: the identity endpoint's certificate must carry exactly the identity controller's Linkerd name and chain to the trust anchors; `plaintext` (warned about): for a controller with no proxy in front of it, the token crosses the network unencrypted",
        },
        secretName: {
          spec: NAME,
          default: LINKERD_DEFAULTS.secretName,
          doc: "SDS name of the gateway's Linkerd certificate and key",
        },
        trustBundle: {
          spec: NAME,
          default: LINKERD_DEFAULTS.trustBundle,
          doc: 'SDS name of the Linkerd trust anchors',
        },
        timeout: {
          spec: { kind: 'duration', minMs: 1 },
          default: LINKERD_DEFAULTS.timeout,
          doc: 'deadline of one Certify call',
        },
        allowedNodes: ALLOWED_NODES,
        destinationAddress: {
          spec: HOST_PORT,
          default: LINKERD_DEFAULTS.destinationAddress,
          doc: "host:port of Linkerd's destination controller (`Get`), used by `services`",
        },
        destinationTransport: {
          spec: {
            kind: 'string',
            enum: ['tls', 'plaintext'],
            hint: 'leave it at tls unless the destination controller runs without a linkerd-proxy in front of it',
          },
          default: LINKERD_DEFAULTS.destinationTransport,
          doc: "`tls`: mutual TLS with the gateway's Linkerd certificate, the endpoint's certificate must carry exactly the destination controller's Linkerd name (`linkerd-destination.<linkerdNamespace>.serviceaccount.identity.<linkerdNamespace>.<trustDomain>`); `plaintext` (warned about): for a controller with no proxy in front of it",
        },
        kubernetesServices: {
          spec: { kind: 'bool' },
          default: 'false',
          doc: "direct mode for the `kubernetes:` section's Services (needs that section; not with `istio.upstreams` or `kubernetes.linkerdIngress`): every Service port with a meshed pod among its endpoints (label `linkerd.io/control-plane-ns: <linkerdNamespace>`, which the proxy injector sets) takes its endpoints and per-endpoint mutual TLS from the destination controller as `services` do, one `Get` of `<svc>.<ns>.svc.<clusterDomain>:<port>` per such port while it exists, so Gateway API `backendRefs` and the `xds:///<svc>.<ns>.svc.<clusterDomain>:<port>` routes reach the pods with no proxy hop. Unmeshed pods of such a Service are left out and opaque ports reported (`/readyz` `meshConditions`, route condition `meshgate.io/MeshPolicyHonoured`); Services with no meshed pod stay plaintext as without the mesh",
        },
        services: {
          spec: { kind: 'list', of: LINKERD_SERVICE },
          doc: "direct mode: Linkerd backends the gateway reaches with no proxy hop. Each becomes a model service (routes name it as a backend) whose endpoints follow the destination controller, each meshed endpoint reached over mutual TLS with its own server identity (SNI = the controller's `server_name`, the certificate's DNS SAN exactly that identity under `trustBundle`, the gateway's certificate as client certificate)",
        },
      },
    },
  },
};

export interface LinkerdSettings {
  identityAddress: string;
  linkerdNamespace: string;
  trustDomain: string;
  serviceAccount: string;
  namespace: string;
  /** Absent: a TokenRequest through the Kubernetes API. */
  tokenFile?: string;
  /** Absent: the trust-roots ConfigMap through the Kubernetes API. */
  trustAnchorsFile?: string;
  kubeconfig?: string;
  transport: 'tls' | 'plaintext';
  secretName: string;
  trustBundle: string;
  timeoutMs: number;
  allowedNodes?: string[];
  destinationAddress: string;
  destinationTransport: 'tls' | 'plaintext';
  services: LinkerdServiceConfig[];
  /** Direct mode for the Kubernetes source's meshed Services (the mesh hook of linkerd-upstreams.ts). */
  kubernetesServices: boolean;
}

/** The checked `linkerd:` section as LinkerdSource settings; relative paths are the config file's. */
// biome-ignore lint/suspicious/noExplicitAny: checked by LINKERD_SECTION's schema before it gets here
export function linkerdSettings(c: Record<string, any>, rel: (p: string) => string = (p) => p): LinkerdSettings {
  const d = LINKERD_DEFAULTS;
  return {
    identityAddress: c.identityAddress ?? d.identityAddress,
    linkerdNamespace: c.linkerdNamespace ?? d.linkerdNamespace,
    trustDomain: c.trustDomain ?? d.trustDomain,
    serviceAccount: c.serviceAccount,
    namespace: c.namespace,
    ...(c.tokenFile !== undefined ? { tokenFile: rel(c.tokenFile) } : {}),
    ...(c.trustAnchorsFile !== undefined ? { trustAnchorsFile: rel(c.trustAnchorsFile) } : {}),
    ...(c.kubeconfig !== undefined ? { kubeconfig: rel(c.kubeconfig) } : {}),
    transport: c.transport ?? d.transport,
    secretName: c.secretName ?? d.secretName,
    trustBundle: c.trustBundle ?? d.trustBundle,
    timeoutMs: c.timeout ?? parseDuration(d.timeout)!,
    ...(c.allowedNodes?.length ? { allowedNodes: [...c.allowedNodes] } : {}),
    destinationAddress: c.destinationAddress ?? d.destinationAddress,
    destinationTransport: c.destinationTransport ?? d.destinationTransport,
    // biome-ignore lint/suspicious/noExplicitAny: checked by the schema
    services: (c.services ?? []).map((x: Record<string, any>) => ({
      name: x.name,
      authority: x.authority,
      protocol: x.protocol ?? 'http',
      allowPlaintextUnmeshed: x.allowPlaintextUnmeshed ?? false,
    })),
    kubernetesServices: c.kubernetesServices ?? false,
  };
}

/** The warning `serve` logs and /readyz shows when the token goes to the identity controller unencrypted. */
export function linkerdWarnings(s: LinkerdSettings | undefined): string[] {
  if (!s) return [];
  const out: string[] = [];
  if (s.transport === 'plaintext')
    out.push(
      `linkerd.transport is plaintext: the ServiceAccount token and the certificate request go to ${s.identityAddress} unencrypted and the controller is not authenticated; use tls unless nothing but the identity controller can answer on that address`,
    );
  if ((s.services.length || s.kubernetesServices) && s.destinationTransport === 'plaintext')
    out.push(
      `linkerd.destinationTransport is plaintext: the endpoints and server identities of ${s.kubernetesServices ? 'the meshed Kubernetes Services' : 'linkerd.services'} come from ${s.destinationAddress} unauthenticated; use tls unless nothing but the destination controller can answer on that address`,
    );
  for (const x of s.services)
    if (x.allowPlaintextUnmeshed)
      out.push(
        `linkerd service ${x.name}: allowPlaintextUnmeshed reaches pods without a Linkerd identity in plaintext (no encryption, no server identity check)`,
      );
  return out;
}

async function readInput(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read the ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); check linkerd.${what === 'token' ? 'tokenFile' : 'trustAnchorsFile'}`,
    );
  }
}

const TOKEN_LIFETIME_S = 3600;
/** How often the trust anchors are read to notice a rotation (a GET of one ConfigMap, or one file read). */
const ANCHORS_POLL_MS = 5000;

export class LinkerdSource implements Source {
  readonly name = 'linkerd';
  private readonly settings: LinkerdSettings;
  private readonly log: Logger;
  private readonly client: LinkerdIdentityClient;
  private readonly manager: RotationManager;
  private readonly kubeconfig: string | undefined;
  private kube: KubeClient | undefined;
  private tokens: (() => Promise<string>) | undefined;
  /** The anchors' text the current certificate was requested with; a different text triggers a renewal. */
  private anchorsUsed: string | undefined;
  private anchorsTimer: NodeJS.Timeout | undefined;
  private sink: SourceSink | undefined;
  private readonly provider = new LinkerdCertificateProvider();
  private readonly watches = new Map<string, DestinationWatch>();
  private readonly states = new Map<string, DestinationState>();
  private destinationCreds: ReturnType<typeof destinationTls> | undefined;

  /** `kubeconfig`: the one from --kubeconfig or `kubernetes.kubeconfig`, used when the section names none. */
  constructor(settings: LinkerdSettings, log: Logger, kubeconfig?: string) {
    this.settings = settings;
    this.log = log;
    this.kubeconfig = settings.kubeconfig ?? kubeconfig;
    const s = settings;
    this.client = new LinkerdIdentityClient({
      serviceAccount: s.serviceAccount,
      namespace: s.namespace,
      controlNamespace: s.linkerdNamespace,
      trustDomain: s.trustDomain,
      address: s.identityAddress,
      transport: s.transport,
      timeoutMs: s.timeoutMs,
      token: () => (s.tokenFile ? readInput(s.tokenFile, 'token') : this.requestToken()),
      trustAnchorsPem: async () => {
        this.anchorsUsed = await this.rawAnchors().catch(() => undefined);
        return s.trustAnchorsFile ? readInput(s.trustAnchorsFile, 'trust anchors') : this.readTrustRootsConfigMap();
      },
    });
    this.manager = new RotationManager({
      mesh: 'linkerd',
      identity: s.secretName,
      keyType: 'ec-p256',
      expectedSan: this.client.identity,
      obtain: () => this.client.certify(),
      onRotate: (cert) => {
        this.log.info(
          {
            identity: this.client.identity,
            secret: s.secretName,
            notAfter: cert.notAfter.toISOString(),
            serial: cert.serialNumber,
          },
          'Linkerd identity certificate issued',
        );
        this.provider.update(cert);
        this.publish();
      },
      onError: (err) => {
        this.log.warn(
          { identity: this.client.identity, err: err.message },
          'Linkerd identity certificate request failed; the last good certificate stays in service; retrying',
        );
        this.reportStatus();
      },
    });
  }

  private api(): KubeClient {
    this.kube ??= createKubeClient(
      loadKubeConfig(this.kubeconfig ? { kubeconfig: this.kubeconfig } : { inCluster: true }),
    );
    return this.kube;
  }

  /** A token for the gateway's ServiceAccount with Linkerd's audience; reused until 80 % of its lifetime. */
  private async requestToken(): Promise<string> {
    const s = this.settings;
    this.tokens ??= tokenRequestSource(this.api(), {
      namespace: s.namespace,
      serviceAccount: s.serviceAccount,
      audience: IDENTITY_TOKEN_AUDIENCE,
      expirationSeconds: TOKEN_LIFETIME_S,
    });
    try {
      return await this.tokens();
    } catch (err) {
      throw new Error(
        `${(err as Error).message}, or set linkerd.tokenFile to a projected token with audience ${IDENTITY_TOKEN_AUDIENCE}`,
      );
    }
  }

  /** The anchors' text as stored (unparsed), to notice a change; throws when it cannot be read. */
  private async rawAnchors(): Promise<string> {
    const s = this.settings;
    if (s.trustAnchorsFile) return readFile(s.trustAnchorsFile, 'utf8');
    const cm = await this.api().request<{ data?: Record<string, string> }>(
      'GET',
      `/api/v1/namespaces/${s.linkerdNamespace}/configmaps/${TRUST_ROOTS_CONFIGMAP}`,
    );
    return cm?.data?.[TRUST_ROOTS_KEY] ?? '';
  }

  /**
   * Linkerd rotates its trust anchors by editing the bundle; the gateway's trust bundle must follow at once, not at
   * the next renewal. A changed bundle asks for a certificate checked against it now: a good bundle is then served
   * with it, a bad one fails that request (the last good certificate and bundle stay, /readyz says why).
   */
  private async pollAnchors(): Promise<void> {
    let text: string;
    try {
      text = await this.rawAnchors();
    } catch {
      return; // unreadable now: the next renewal reports it with the reason
    }
    if (this.anchorsUsed === undefined || text === this.anchorsUsed) return;
    this.anchorsUsed = text;
    this.log.info(
      { trustAnchors: this.settings.trustAnchorsFile ?? trustRootsSource(this.settings.linkerdNamespace) },
      'Linkerd trust anchors changed; requesting a certificate checked against them now',
    );
    await this.manager.renewNow();
  }

  private async readTrustRootsConfigMap(): Promise<string> {
    const ns = this.settings.linkerdNamespace;
    let cm: Parameters<typeof trustAnchorsFromConfigMap>[0];
    try {
      cm = await this.api().request('GET', `/api/v1/namespaces/${ns}/configmaps/${TRUST_ROOTS_CONFIGMAP}`);
    } catch (err) {
      throw new Error(
        `cannot read ${trustRootsSource(ns)} through the Kubernetes API (${(err as Error).message}); allow meshgate to get that ConfigMap, check linkerd.linkerdNamespace, or set linkerd.trustAnchorsFile`,
      );
    }
    return trustAnchorsFromConfigMap(cm).pem;
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    for (const w of linkerdWarnings(this.settings))
      this.log.warn({ identityAddress: this.settings.identityAddress }, w);
    // A failed first request is retried by the manager; the status says why meanwhile.
    await this.manager.start();
    const cur = this.manager.current();
    if (cur) this.provider.update(cur);
    this.startWatches();
    this.anchorsTimer = setInterval(() => void this.pollAnchors(), ANCHORS_POLL_MS);
    this.anchorsTimer.unref();
    this.publish();
  }

  /** A Destination subscription to one authority, over mTLS with the gateway's certificate unless plaintext. */
  private destination(authority: string, onChange: (st: DestinationState) => void): DestinationWatch {
    const s = this.settings;
    this.destinationCreds ??=
      s.destinationTransport === 'tls'
        ? destinationTls(this.provider, destinationServerName(s.linkerdNamespace, s.trustDomain))
        : undefined;
    const tls = this.destinationCreds;
    return new DestinationWatch({
      address: s.destinationAddress,
      authority,
      // What a proxy of the gateway's namespace would send, so the controller applies that namespace's view.
      contextToken: JSON.stringify({ ns: s.namespace }),
      ...(tls ? { credentials: tls.credentials, channelOptions: tls.channelOptions } : {}),
      onChange,
    });
  }

  /**
   * The Kubernetes source's mesh hook for `kubernetesServices`: its subscriptions share this source's certificate
   * (the destination channel's and the endpoints' client certificate) and destination settings.
   */
  kubernetesHook(clusterDomain?: string): LinkerdMeshHook {
    const s = this.settings;
    return new LinkerdMeshHook({
      linkerdNamespace: s.linkerdNamespace,
      ...(clusterDomain ? { clusterDomain } : {}),
      names: { clientIdentity: s.secretName, trustBundle: s.trustBundle },
      watch: (authority, onChange) => this.destination(authority, onChange),
      onStreamError: (authority, err) =>
        err
          ? this.log.warn({ authority, err }, 'Linkerd destination stream failed; keeping the last endpoints')
          : this.log.info({ authority }, 'Linkerd destination stream recovered'),
    });
  }

  /** One Destination subscription per configured service; over mTLS they wait for the first certificate. */
  private startWatches(): void {
    const s = this.settings;
    for (const svc of s.services) {
      if (this.watches.has(svc.name)) continue;
      const w = this.destination(svc.authority, (st) => {
        const was = this.states.get(svc.name);
        this.states.set(svc.name, st);
        if (st.lastError && st.lastError !== was?.lastError)
          this.log.warn(
            { service: svc.name, authority: svc.authority, err: st.lastError },
            'Linkerd destination stream failed',
          );
        this.publish();
      });
      this.watches.set(svc.name, w);
    }
  }

  private serviceReports(): {
    services: ReturnType<typeof linkerdService>['service'][];
    reports: LinkerdServiceReport[];
  } {
    const names = { clientIdentity: this.settings.secretName, trustBundle: this.settings.trustBundle };
    const services = [];
    const reports = [];
    for (const svc of this.settings.services as LinkerdServiceConfig[]) {
      const r = linkerdService(svc, this.states.get(svc.name), names);
      services.push(r.service);
      reports.push(r.report);
    }
    return { services, reports };
  }

  private publish(): void {
    if (!this.sink) return;
    const cur = this.manager.current();
    const m = emptyModel();
    if (cur) {
      m.identities.push({
        name: this.settings.secretName,
        certChainPem: cur.chainPem,
        privateKeyPem: cur.keyPem,
        source: this.name,
        ...(this.settings.allowedNodes ? { allowedNodes: this.settings.allowedNodes } : {}),
      });
      // The anchors the certificate was checked against, so the bundle always matches the identity served.
      m.trustBundles.push({ name: this.settings.trustBundle, caPems: [cur.bundlePem], source: this.name });
    }
    m.services.push(...this.serviceReports().services);
    this.sink.update(m);
    this.reportStatus();
  }

  private reportStatus(): void {
    if (!this.sink) return;
    const st = this.manager.status();
    const { reports } = this.serviceReports();
    const streamErrors = reports.flatMap((r) => (r.lastError ? [r.lastError] : []));
    const failing = st.consecutiveFailures > 0;
    const lastError = [...(failing && st.lastError ? [st.lastError] : []), ...streamErrors].join('; ');
    const problems = reports.flatMap((r) => r.problems);
    const warnings = [...linkerdWarnings(this.settings), ...problems];
    this.sink.status({
      name: this.name,
      // Served once the certificate is there and every destination has answered once.
      synced: st.notAfter !== undefined && reports.every((r) => r.synced),
      stale: failing || streamErrors.length > 0,
      ...(lastError ? { lastError, lastErrorAt: Date.now() } : {}),
      lastUpdateAt: Date.now(),
      details: {
        identityAddress: this.settings.identityAddress,
        token: this.settings.tokenFile ? 'file' : 'TokenRequest',
        trustAnchors: this.settings.trustAnchorsFile ? 'file' : trustRootsSource(this.settings.linkerdNamespace),
        transport: this.settings.transport,
        identity: this.client.identity,
        secret: this.settings.secretName,
        trustBundle: this.settings.trustBundle,
        notAfter: st.notAfter?.toISOString(),
        nextRenewalAt: st.nextRenewalAt?.toISOString(),
        rotations: st.rotations,
        consecutiveFailures: st.consecutiveFailures,
        ...(reports.length
          ? {
              destinationAddress: this.settings.destinationAddress,
              destinationTransport: this.settings.destinationTransport,
              services: reports.map(({ problems: _p, ...r }) => r),
            }
          : {}),
        ...(warnings.length ? { warnings } : {}),
      },
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.anchorsTimer);
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    this.manager.stop();
    this.client.close();
    this.sink = undefined;
  }
}
