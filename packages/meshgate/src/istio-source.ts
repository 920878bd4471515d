// The gateway's Istio workload identity as a source: meshgate is the gateway's Istio agent, so it asks istiod's CA
// for the certificate a sidecar would have fetched, keeps it renewed with RotationManager, and publishes it as an
// identity (a key-holding Secret, served only to clients `xds.tls` verified and allowedNodes admits) plus the Istio
// root as a trust bundle. A failed renewal keeps the certificate in service and says why on /readyz.
import { readFile } from 'node:fs/promises';
import {
  fileTokenSource,
  IstioCaClient,
  IstioError,
  type KubeRequester,
  parseRoots,
  ROOT_CONFIGMAP,
  ROOT_CONFIGMAP_KEY,
  readIstioRoot,
  tokenRequestSource,
} from '@meshgate/adapter-istio';
import {
  createKubeClient,
  type KubeClient,
  type KubeObject,
  loadKubeConfig,
  Reflector,
} from '@meshgate/adapter-kubernetes';
import { RotationManager } from '@meshgate/certs';
import { emptyModel } from '@meshgate/model';
import type { Source, SourceSink } from '@meshgate/model';
import { IN_CLUSTER_NAMESPACE_FILE, type IstioSettings } from './istio-config.ts';
import type { Logger } from './logger.ts';

export interface IstioSourceOptions {
  settings: IstioSettings;
  /** The kubeconfig to fall back on (--kubeconfig or kubernetes.kubeconfig); none means in-cluster. */
  kubeconfig?: string;
  logger: Logger;
}

export class IstioSource implements Source {
  readonly name = 'istio';
  readonly #s: IstioSettings;
  readonly #kubeconfig: string | undefined;
  readonly #log: Logger;
  #sink: SourceSink | undefined;
  #manager: RotationManager | undefined;
  #client: IstioCaClient | undefined;
  #kube: KubeClient | undefined;
  #rootWatch: Reflector | undefined;
  #namespace = '';
  /** The last root that parsed; kept when a later read fails, so a flaky API server does not drop the mesh. */
  #root = '';
  #rootError: string | undefined;
  #lastCode: string | undefined;

  constructor(o: IstioSourceOptions) {
    this.#s = o.settings;
    this.#kubeconfig = o.settings.kubeconfig ?? o.kubeconfig;
    this.#log = o.logger;
  }

  #kubeClient(): KubeClient {
    this.#kube ??= createKubeClient(
      loadKubeConfig(this.#kubeconfig ? { kubeconfig: this.#kubeconfig } : { inCluster: true }),
    );
    return this.#kube;
  }

  #api(): KubeRequester {
    return this.#kubeClient() as unknown as KubeRequester;
  }

  /**
   * Watches the root ConfigMap, so a rotated or re-rooted mesh reaches istio/roots (and the upstream clusters that
   * verify against it) at once, not only at the next certificate request. A root that does not parse is refused
   * with the reason on /readyz; the last good one stays.
   */
  #watchRoot(): void {
    const ns = this.#namespace;
    const apply = (o: KubeObject | undefined) => {
      const pem = (o as { data?: Record<string, string> } | undefined)?.data?.[ROOT_CONFIGMAP_KEY];
      if (!pem || pem === this.#root) return;
      try {
        parseRoots(pem, `${ns}/${ROOT_CONFIGMAP} ${ROOT_CONFIGMAP_KEY}`);
      } catch (err) {
        this.#rootError = (err as Error).message;
        this.#log.warn(
          { err: this.#rootError },
          'the Istio root ConfigMap changed to something that does not parse; keeping the last good root',
        );
        this.#reportStatus();
        return;
      }
      this.#rootError = undefined;
      this.#root = pem;
      this.#log.info({ configMap: `${ns}/${ROOT_CONFIGMAP}` }, 'Istio root changed');
      this.#publish();
    };
    this.#rootWatch = new Reflector(
      this.#kubeClient(),
      { path: `/api/v1/namespaces/${ns}/configmaps`, fieldSelector: `metadata.name=${ROOT_CONFIGMAP}` },
      {
        replace: (items) => apply(items[0]),
        upsert: apply,
        remove: () =>
          this.#log.warn(
            { configMap: `${ns}/${ROOT_CONFIGMAP}` },
            'the Istio root ConfigMap was deleted; keeping the last root',
          ),
        error: (err) => this.#log.debug({ err: err.message }, 'watching the Istio root ConfigMap failed; retrying'),
        recovered: () => {},
      },
    );
    this.#rootWatch.start();
  }

  async #namespaceOf(): Promise<string> {
    if (this.#s.namespace) return this.#s.namespace;
    try {
      return (await readFile(IN_CLUSTER_NAMESPACE_FILE, 'utf8')).trim();
    } catch {
      throw new IstioError(
        'TOKEN_UNAVAILABLE',
        `istio.namespace is not set and ${IN_CLUSTER_NAMESPACE_FILE} cannot be read (not in a pod); set istio.namespace`,
      );
    }
  }

  /** Reads the root before each request, so a rotated mesh root is picked up at the next renewal. */
  async #refreshRoot(): Promise<void> {
    const where = this.#s.rootCertFile ?? `ConfigMap ${this.#namespace}/istio-ca-root-cert`;
    try {
      let pem: string;
      if (this.#s.rootCertFile) {
        pem = await readFile(this.#s.rootCertFile, 'utf8');
        parseRoots(pem, this.#s.rootCertFile);
      } else {
        pem = await readIstioRoot(this.#api(), this.#namespace);
      }
      this.#rootError = undefined;
      if (pem !== this.#root) {
        this.#root = pem;
        this.#publish();
      }
    } catch (err) {
      const msg =
        err instanceof IstioError ? err.message : `cannot read the Istio root ${where}: ${(err as Error).message}`;
      this.#rootError = msg;
      if (!this.#root) throw err instanceof IstioError ? err : new IstioError('ROOT_INVALID', msg);
      this.#log.warn({ err: msg }, 'cannot re-read the Istio root; keeping the last good one');
    }
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#namespace = await this.#namespaceOf();
    const s = this.#s;
    const token = s.tokenFile
      ? fileTokenSource(s.tokenFile)
      : tokenRequestSource(
          { request: (m, p, b) => this.#api().request(m, p, b) },
          { namespace: this.#namespace, serviceAccount: s.serviceAccount, audience: s.tokenAudience },
        );
    const client = new IstioCaClient({
      address: s.address,
      serverName: s.serverName,
      roots: () => this.#root,
      token,
      trustDomain: s.trustDomain,
      namespace: this.#namespace,
      serviceAccount: s.serviceAccount,
      clusterId: s.clusterId,
      ...(s.ttlMs !== undefined ? { validitySeconds: Math.ceil(s.ttlMs / 1000) } : {}),
    });
    this.#client = client;
    this.#manager = new RotationManager({
      mesh: 'istio',
      identity: s.secretName,
      keyType: 'ec-p256',
      expectedSan: client.spiffeId,
      // istiod backdates NotBefore by 2 minutes: renew from the certificate's arrival, not its NotBefore.
      measureFromReceipt: true,
      trustBundle: () => this.#root,
      obtain: async () => {
        try {
          await this.#refreshRoot();
          const cert = await client.obtain();
          this.#lastCode = undefined;
          return { chainPem: cert.chainPem, keyPem: cert.keyPem, bundlePem: cert.bundlePem };
        } catch (err) {
          // RotationManager wraps what obtain throws; keep istiod's own code (CA_AUTH_REFUSED...) for /readyz.
          this.#lastCode = err instanceof IstioError ? err.code : undefined;
          throw err;
        }
      },
      onRotate: (cert) => {
        this.#log.info(
          { identity: s.secretName, spiffeId: client.spiffeId, notAfter: cert.notAfter.toISOString() },
          'istio certificate issued by istiod',
        );
        this.#publish();
      },
      onError: (err) => {
        this.#log.warn({ identity: s.secretName, err: err.message }, 'istio certificate request failed; retrying');
        this.#reportStatus();
      },
    });
    await this.#manager.start();
    this.#publish();
    if (!s.rootCertFile) this.#watchRoot();
  }

  #publish(): void {
    if (!this.#sink) return;
    const m = emptyModel();
    const cur = this.#manager?.current();
    if (cur) {
      m.identities.push({
        name: this.#s.secretName,
        certChainPem: cur.chainPem,
        privateKeyPem: cur.keyPem,
        source: this.name,
        ...(this.#s.allowedNodes ? { allowedNodes: this.#s.allowedNodes } : {}),
      });
    }
    if (this.#root) m.trustBundles.push({ name: this.#s.trustBundle, caPems: [this.#root], source: this.name });
    this.#sink.update(m);
    this.#reportStatus();
  }

  #reportStatus(): void {
    if (!this.#sink || !this.#manager) return;
    const st = this.#manager.status();
    const lastError = st.consecutiveFailures > 0 ? st.lastError : this.#rootError;
    this.#sink.status({
      name: this.name,
      // Synced once istiod has issued a certificate; a failing renewal keeps it in service (stale).
      synced: st.notAfter !== undefined,
      stale: st.consecutiveFailures > 0 || this.#rootError !== undefined,
      ...(lastError ? { lastError, lastErrorAt: Date.now() } : {}),
      lastUpdateAt: Date.now(),
      details: {
        istiod: this.#s.address,
        spiffeId: this.#client?.spiffeId,
        secret: this.#s.secretName,
        trustBundle: this.#s.trustBundle,
        notAfter: st.notAfter?.toISOString(),
        nextRenewalAt: st.nextRenewalAt?.toISOString(),
        rotations: st.rotations,
        consecutiveFailures: st.consecutiveFailures,
        ...(st.consecutiveFailures > 0 ? { lastErrorCode: this.#lastCode ?? st.lastErrorCode } : {}),
        ...(lastError ? { lastError } : {}),
      },
    });
  }

  async stop(): Promise<void> {
    await this.#rootWatch?.stop();
    this.#manager?.stop();
    this.#client?.close();
    this.#sink = undefined;
  }
}
