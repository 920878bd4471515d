// Linkerd injected ingress: recent linkerd-proxies in ingress mode resolve l5d-dst-override through a ServiceProfile
// of that name, and without one the gateway's requests fail inside the proxy where meshgate cannot see them. So serve
// lists the ServiceProfiles of the namespaces routed services live in and warns on /readyz about the missing ones.
// Advisory: it never changes readiness or the config, and a failed list is one more warning.
import { missingProfileWarning, serviceProfileNeeds } from '@meshgate/adapter-kubernetes';
import type { KubeClient } from '@meshgate/adapter-kubernetes';
import type { Model } from '@meshgate/model';

const MAX_LISTED = 20;
const PROFILES = (ns: string) => `/apis/linkerd.io/v1alpha2/namespaces/${encodeURIComponent(ns)}/serviceprofiles`;

export class ServiceProfileCheck {
  private readonly kube: () => KubeClient;
  private readonly intervalMs: number;
  private model: Pick<Model, 'services' | 'routes'> | undefined;
  /** Profile names per namespace, or the reason the namespace could not be listed. */
  private readonly known = new Map<string, Set<string> | string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private list: string[] = [];

  constructor(kube: () => KubeClient, intervalMs = 10_000) {
    this.kube = kube;
    this.intervalMs = intervalMs;
  }

  /** The merged model changed: check its routed services (a new namespace is listed at once). */
  update(model: Pick<Model, 'services' | 'routes'>): void {
    this.model = model;
    const fresh = serviceProfileNeeds(model).some((n) => !this.known.has(n.namespace));
    this.recompute();
    if (fresh) void this.refresh();
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  warnings(): string[] {
    return this.list;
  }

  private async refresh(): Promise<void> {
    if (this.running || !this.model) return;
    this.running = true;
    try {
      const namespaces = [...new Set(serviceProfileNeeds(this.model).map((n) => n.namespace))];
      for (const ns of namespaces) {
        try {
          const r = await this.kube().request<{ items?: Array<{ metadata?: { name?: string } }> }>('GET', PROFILES(ns));
          this.known.set(ns, new Set((r.items ?? []).map((i) => i.metadata?.name ?? '')));
        } catch (err) {
          const status = (err as { status?: number }).status;
          this.known.set(
            ns,
            status === 404
              ? `cannot check ServiceProfiles: Linkerd's CRDs (serviceprofiles.linkerd.io) are not installed`
              : status === 403
                ? `cannot check ServiceProfiles in namespace ${ns}: meshgate may not list serviceprofiles.linkerd.io there (the chart grants it with kubernetes.linkerdIngress)`
                : `cannot check ServiceProfiles in namespace ${ns}: ${(err as Error).message}`,
          );
        }
      }
      this.recompute();
    } finally {
      this.running = false;
    }
  }

  private recompute(): void {
    const out = new Set<string>();
    for (const n of serviceProfileNeeds(this.model ?? { services: [], routes: [] })) {
      const k = this.known.get(n.namespace);
      if (typeof k === 'string') out.add(k);
      else if (k && !k.has(n.profile)) out.add(missingProfileWarning(n));
    }
    const all = [...out].sort();
    // A cluster-wide scope can miss hundreds: /readyz names the first ones and counts the rest.
    this.list =
      all.length > MAX_LISTED
        ? [
            ...all.slice(0, MAX_LISTED),
            `... and ${all.length - MAX_LISTED} more routed Services without a ServiceProfile`,
          ]
        : all;
  }
}
