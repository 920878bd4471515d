// Linkerd direct mode for the Kubernetes source's Services: with `linkerd.kubernetesServices: true`, every Service port
// whose endpoints include a meshed pod is reached as `linkerd.services` reaches its backends: the endpoints and server
// identities come from the destination controller (one Get per Service port in use), each endpoint over mutual TLS
// with its own identity. So Gateway API backendRefs and the `xds:///<svc>.<ns>.svc.<domain>:<port>` routes reach the
// pods with no proxy hop. Glue only: the endpoint -> TLS rules are adapter-linkerd's linkerdService, the watching of
// Services and pods the Kubernetes source's.
import { type DestinationState, type LinkerdTlsNames, linkerdService } from '@meshgate/adapter-linkerd';
import type { KubeState, ServiceInfo, ServiceMeshHook, SliceInfo } from '@meshgate/adapter-kubernetes';
import { serviceHostname } from '@meshgate/adapter-kubernetes';
import type { Service } from '@meshgate/model';

/** The label Linkerd's proxy injector puts on every pod it meshes, whatever asked for the injection. */
export const LINKERD_CONTROL_PLANE_LABEL = 'linkerd.io/control-plane-ns';

/** One open subscription; `stop` ends it. */
export interface StoppableWatch {
  stop(): void;
}

export interface LinkerdMeshHookOptions {
  /** Linkerd's control-plane namespace: a pod is meshed when its control-plane label names it. */
  linkerdNamespace: string;
  clusterDomain?: string;
  names: LinkerdTlsNames;
  /** Opens a Destination subscription for one authority (a DestinationWatch in `serve`). */
  watch(authority: string, onChange: (state: DestinationState) => void): StoppableWatch;
  /** Told when a stream fails or recovers (for the log). */
  onStreamError?(authority: string, err: string | undefined): void;
}

interface Held {
  authority: string;
  serviceKey: string;
  watch: StoppableWatch;
  state?: DestinationState;
}

/** Whether any endpoint of the Service is a pod the proxy injector meshed into this control plane. */
export function meshedService(
  svc: ServiceInfo,
  slices: readonly SliceInfo[],
  state: KubeState,
  linkerdNamespace: string,
): boolean {
  for (const sl of slices)
    for (const e of sl.endpoints) {
      const pod = e.pod ? state.pods.get(`${svc.namespace}/${e.pod}`) : undefined;
      if (pod?.labels[LINKERD_CONTROL_PLANE_LABEL] === linkerdNamespace) return true;
    }
  return false;
}

const UNMESHED_FIX =
  'mesh those pods (linkerd.io/inject: enabled); meshgate reaches a Service in plaintext only while none of its pods is meshed';

/**
 * A Service with no meshed pod keeps the EndpointSlice view (plaintext, as without the mesh), so turning the option on
 * changes nothing for Services outside the mesh and opens no stream for them. A Service with one meshed pod is the
 * destination controller's alone: until its first answer the model has no endpoints (closed, never plaintext), and
 * after a failed stream the last answer stays in service while a condition says why.
 */
export class LinkerdMeshHook implements ServiceMeshHook {
  readonly resources: readonly string[] = [];
  private readonly o: LinkerdMeshHookOptions;
  /** By model service name (`k8s/<ns>/<svc>/<port>`). */
  private readonly held = new Map<string, Held>();
  private rebuild: ((keys: readonly string[]) => void) | undefined;
  private stopped = false;

  constructor(o: LinkerdMeshHookOptions) {
    this.o = o;
  }

  /** Authorities with an open subscription, sorted (for tests and status). */
  watched(): string[] {
    return [...this.held.values()].map((h) => h.authority).sort();
  }

  subscribe(rebuild: (serviceKeys: readonly string[]) => void): void {
    this.rebuild = rebuild;
  }

  apply(
    svc: ServiceInfo,
    port: { port: number },
    model: Service,
    slices: readonly SliceInfo[],
    state: KubeState,
  ): { service: Service; conditions: readonly string[] } {
    if (this.stopped || !meshedService(svc, slices, state, this.o.linkerdNamespace)) {
      this.drop(model.name);
      return { service: model, conditions: [] };
    }
    const authority = serviceHostname(svc.namespace, svc.name, port.port, this.o.clusterDomain);
    const h = this.hold(model.name, authority, `${svc.namespace}/${svc.name}`);
    const r = linkerdService(
      {
        name: model.name,
        authority,
        ...(model.protocol ? { protocol: model.protocol } : {}),
        unmeshedFix: UNMESHED_FIX,
      },
      h.state,
      this.o.names,
    );
    const { tls: _tls, endpointTls: _et, endpoints: _e, ...rest } = model;
    const service: Service = {
      ...rest,
      endpoints: r.service.endpoints,
      ...(r.service.tls ? { tls: r.service.tls } : {}),
      ...(r.service.endpointTls ? { endpointTls: r.service.endpointTls } : {}),
    };
    const conditions = [...r.report.problems];
    if (r.report.lastError)
      conditions.push(
        `linkerd destination for ${model.name} (${authority}): ${r.report.lastError}; ${r.report.synced ? 'the last known endpoints stay in service' : 'no endpoints until the destination controller answers'}`,
      );
    return { service, conditions };
  }

  inUse(modelServices: ReadonlySet<string>): void {
    for (const name of [...this.held.keys()]) if (!modelServices.has(name)) this.drop(name);
  }

  stop(): void {
    this.stopped = true;
    for (const name of [...this.held.keys()]) this.drop(name);
  }

  private hold(name: string, authority: string, serviceKey: string): Held {
    const cur = this.held.get(name);
    if (cur && cur.authority === authority) return cur;
    if (cur) this.drop(name);
    const h: Held = { authority, serviceKey, watch: { stop: () => {} } };
    this.held.set(name, h);
    h.watch = this.o.watch(authority, (st) => {
      if (this.held.get(name) !== h) return; // a late message of a dropped subscription
      if (st.lastError !== h.state?.lastError) this.o.onStreamError?.(authority, st.lastError);
      h.state = st;
      this.rebuild?.([serviceKey]);
    });
    return h;
  }

  private drop(name: string): void {
    const h = this.held.get(name);
    if (!h) return;
    this.held.delete(name);
    h.watch.stop();
  }
}
