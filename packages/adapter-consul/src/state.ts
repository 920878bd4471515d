// What the Consul source knows: typed plain data that the watchers write and build.ts reads.
// Nothing in here does I/O; the functions at the bottom are the pure rules over the state that
// decide what to watch and when the source is synced.
import type { Endpoint, WatchState } from '@meshgate/model';
import type { IngressListener, ParsedRoots } from './parse.ts';
import type { ConsulSettings } from './settings.ts';

/** A watch's progress; created when its loop starts, removed when it stops. */
export interface Watch {
  synced: boolean;
  failure?: string;
}

export interface ServiceWatch {
  readonly name: string;
  /** Read from /health/connect (its sidecars) rather than /health/service. */
  readonly connect: boolean;
  /** The last good endpoints; undefined until the first good answer. */
  endpoints?: readonly Endpoint[];
  /** Why the latest answer was skipped, until a good one comes. */
  bad?: string;
}

/** The Connect roots with the trust domain resolved (from the answer, or the root's SPIFFE URI). */
export interface ConnectRoots extends ParsedRoots {
  readonly trustDomainResolved: string;
}

/** A leaf from the agent that has not been accepted yet (new, or waiting for roots it chains to). */
export interface PendingLeaf {
  readonly certPem: string;
  readonly privateKeyPem: string;
  readonly serviceUri: string;
}

/** The gateway's accepted leaf: what the model serves as its identity. */
export interface GatewayLeaf {
  readonly chainPem: string;
  readonly keyPem: string;
  readonly notAfter?: Date;
  readonly serial: string;
}

export interface IntentionState {
  /** Verdict per Connect service; absent = not checked yet. */
  readonly allowed: Map<string, boolean>;
  /** Denials seen since start: a verdict turning to deny counts once. */
  denialsTotal: number;
  /** The intentions watch has answered at least once: new services are checked at once. */
  answered: boolean;
  /** Check rounds started; an older round never overwrites a newer round's verdict. */
  generation: number;
}

export interface ConsulState {
  /** The datacenter ('' until learned): part of every model name and SNI. */
  dc: string;
  /** Catalog: service name -> tags; undefined until the catalog watch answers. */
  catalog?: ReadonlyMap<string, readonly string[]>;
  readonly services: Map<string, ServiceWatch>;
  /** Services the routes need (plain Consul names), from watchServices(). */
  routeNeeds: ReadonlySet<string>;
  ingress: readonly IngressListener[];
  ingressError?: string;
  roots?: ConnectRoots;
  pendingLeaf?: PendingLeaf;
  leaf?: GatewayLeaf;
  leafError?: string;
  readonly intentions: IntentionState;
  registered: boolean;
  /** Every running watch by key (`catalog`, `svc:<name>`, `roots`, `leaf`, `ingress`, `intentions`). */
  readonly watches: Map<string, Watch>;
  /** One-shot tasks (`agent/self`, `register`) failing right now, with the reason. */
  readonly failingTasks: Map<string, string>;
  /** The source has emitted its first complete view; never turns back. */
  synced: boolean;
  lastError?: string;
  lastErrorAt?: number;
  lastUpdateAt?: number;
}

export function newState(): ConsulState {
  return {
    dc: '',
    services: new Map(),
    routeNeeds: new Set(),
    ingress: [],
    intentions: { allowed: new Map(), denialsTotal: 0, answered: false, generation: 0 },
    registered: false,
    watches: new Map(),
    failingTasks: new Map(),
    synced: false,
  };
}

export const serviceWatchKey = (name: string) => `svc:${name}`;

/**
 * The services to watch and whether each is a Connect service: the configured ones, those routes
 * need, those the ingress entry names, and (with watchAll or tag) the catalog's, minus the gateway,
 * Consul itself and sidecar proxies. In `connect: auto` a service is Connect when the catalog lists
 * its `<svc>-sidecar-proxy`.
 */
export function desiredServices(state: ConsulState, s: ConsulSettings): Map<string, boolean> {
  const want = new Set<string>([...s.services, ...state.routeNeeds]);
  for (const l of state.ingress) for (const svc of l.services) if (svc.name !== '*') want.add(svc.name);
  const gw = s.gateway?.name;
  if (state.catalog && (s.watchAll || s.tag)) {
    for (const [name, tags] of state.catalog) {
      if (name === gw || name === 'consul' || name.endsWith('-sidecar-proxy')) continue;
      if (s.watchAll || (s.tag && tags.includes(s.tag))) want.add(name);
    }
  }
  const out = new Map<string, boolean>();
  for (const name of want)
    out.set(
      name,
      s.connect === 'always' ? true : s.connect === 'never' ? false : !!state.catalog?.has(`${name}-sidecar-proxy`),
    );
  return out;
}

/** Whether the catalog must be watched: it lists services (watchAll, tag) or tells Connect ones (auto). */
export const needsCatalog = (s: ConsulSettings) => s.watchAll || !!s.tag || s.connect === 'auto';

/** Every watch has answered, plus Consul's own conditions: datacenter, catalog (auto Connect), leaf, registration. */
export function isSynced(state: ConsulState, s: ConsulSettings): boolean {
  if (!state.dc) return false;
  if (s.connect === 'auto' && !state.catalog) return false;
  for (const w of state.watches.values()) if (!w.synced) return false;
  if (s.gateway) {
    if (!state.leaf) return false;
    if (s.gateway.register && !state.registered) return false;
  }
  return true;
}

/** Watches and failing one-shot tasks, for summarizeWatches. */
export function watchEntries(state: ConsulState): [string, WatchState][] {
  const out: [string, WatchState][] = [...state.watches];
  for (const [key, failure] of state.failingTasks) out.push([key, { synced: true, failure }]);
  return out;
}
