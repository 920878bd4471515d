// The resource cache: encoded resources per group (node profile), type and name, with content-derived versions.
// Resources are encoded once and the same bytes are shared by every stream. Listeners (the server's watch index)
// are told exactly which names changed, so an endpoint patch wakes only that resource's watchers.
import { EventEmitter } from 'node:events';
import { encodeResource } from './codec.ts';
import { contentHash, encodeDiscoveryBody, setVersion } from './wire.ts';
import {
  PUSH_ORDER,
  SUPPORTED_TYPES,
  type CachedResource,
  type PublishResult,
  type ResourceSet,
  type TypeChange,
} from './types.ts';

export interface CacheChangeEvent extends TypeChange {
  group: string;
}

export interface XdsCacheEvents {
  change: [CacheChangeEvent];
  ready: [];
}

type TypeMap = Map<string, CachedResource>;

/** A type's complete set in one group, pre-encoded once for every wildcard SotW stream (LDS/CDS). */
export interface FullSet {
  version: string;
  byName: ReadonlyMap<string, CachedResource>;
  /** DiscoveryResponse without its nonce. */
  body: Buffer;
}

export interface CacheStats {
  groups: number;
  resources: number;
  /** Sum of the encoded sizes of all cached resources. */
  bytes: number;
}

export class XdsCache extends EventEmitter<XdsCacheEvents> {
  readonly #groups = new Map<string, Map<string, TypeMap>>();
  readonly #fullSets = new Map<string, FullSet>();
  readonly #snapshots = new Map<string, ReadonlyMap<string, CachedResource>>();
  #ready = false;

  constructor(_opts: Record<string, never> = {}) {
    super();
    this.setMaxListeners(0);
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** No stream is answered before this is called (every source has synced once). Idempotent. */
  markReady(): void {
    if (this.#ready) return;
    this.#ready = true;
    this.emit('ready');
  }

  /**
   * Replaces the full content of one group atomically. Every changed resource is encoded before anything is
   * applied, so a bad resource (ResourceEncodeError naming it) leaves the group's previous content in place.
   * Types absent from `resources` are emptied.
   */
  publish(group: string, resources: ResourceSet): PublishResult {
    for (const t of resources.keys()) assertType(t);
    const current = this.#groups.get(group);
    const types = new Set<string>([...resources.keys(), ...(current?.keys() ?? [])]);
    const staged: Array<{ typeUrl: string; next: TypeMap; change: TypeChange }> = [];
    for (const typeUrl of types) {
      const old = current?.get(typeUrl);
      const wanted = resources.get(typeUrl) ?? new Map<string, object>();
      const next: TypeMap = new Map();
      const change: TypeChange = { typeUrl, changed: [], removed: [] };
      for (const [name, obj] of wanted) {
        const prev = old?.get(name);
        const res = encodeOrReuse(typeUrl, name, obj, prev);
        next.set(name, res);
        if (!prev || prev.version !== res.version) change.changed.push(name);
      }
      if (old) for (const name of old.keys()) if (!wanted.has(name)) change.removed.push(name);
      staged.push({ typeUrl, next, change });
    }
    const groupMap = current ?? new Map<string, TypeMap>();
    this.#groups.set(group, groupMap);
    const changes: TypeChange[] = [];
    for (const { typeUrl, next, change } of staged) {
      if (next.size) groupMap.set(typeUrl, next);
      else groupMap.delete(typeUrl);
      if (change.changed.length || change.removed.length) changes.push(change);
    }
    return this.#announce(group, changes);
  }

  /** Upserts and removes named resources of one type in a group (the endpoint-only path). */
  patch(group: string, typeUrl: string, upserts: Map<string, object>, removals: readonly string[] = []): PublishResult {
    assertType(typeUrl);
    let groupMap = this.#groups.get(group);
    const old = groupMap?.get(typeUrl);
    const change: TypeChange = { typeUrl, changed: [], removed: [] };
    const encoded: CachedResource[] = [];
    for (const [name, obj] of upserts) {
      const prev = old?.get(name);
      const res = encodeOrReuse(typeUrl, name, obj, prev);
      encoded.push(res);
      if (!prev || prev.version !== res.version) change.changed.push(name);
    }
    if (!groupMap) this.#groups.set(group, (groupMap = new Map()));
    let typeMap = old;
    if (!typeMap) groupMap.set(typeUrl, (typeMap = new Map()));
    for (const res of encoded) typeMap.set(res.name, res);
    for (const name of removals) {
      if (upserts.has(name)) continue;
      if (typeMap.delete(name)) change.removed.push(name);
    }
    if (!typeMap.size) groupMap.delete(typeUrl);
    return this.#announce(group, change.changed.length || change.removed.length ? [change] : []);
  }

  get(group: string, typeUrl: string, name: string): CachedResource | undefined {
    return this.#groups.get(group)?.get(typeUrl)?.get(name);
  }

  list(group: string, typeUrl: string): CachedResource[] {
    const m = this.#groups.get(group)?.get(typeUrl);
    return m ? [...m.values()] : [];
  }

  /** Number of resources of one type in a group. */
  size(group: string, typeUrl: string): number {
    return this.#groups.get(group)?.get(typeUrl)?.size ?? 0;
  }

  /** Iterates the names of one type in a group without copying. */
  names(group: string, typeUrl: string): IterableIterator<string> {
    return (this.#groups.get(group)?.get(typeUrl) ?? new Map<string, CachedResource>()).keys();
  }

  groups(): string[] {
    return [...this.#groups.keys()];
  }

  stats(): CacheStats {
    let resources = 0;
    let bytes = 0;
    for (const g of this.#groups.values())
      for (const t of g.values())
        for (const r of t.values()) {
          resources++;
          bytes += r.bytes.length;
        }
    return { groups: this.#groups.size, resources, bytes };
  }

  /** An immutable copy of one type's resources in a group, shared until the next change of that type (streams
   *  holding all of it keep a reference instead of a map of their own; see held.ts). */
  snapshot(group: string, typeUrl: string): ReadonlyMap<string, CachedResource> {
    const key = `${group}\0${typeUrl}`;
    let snap = this.#snapshots.get(key);
    if (!snap) this.#snapshots.set(key, (snap = new Map(this.#groups.get(group)?.get(typeUrl) ?? [])));
    return snap;
  }

  /** The complete set of one type in a group, encoded once and shared until the next change of that type. */
  fullSet(group: string, typeUrl: string): FullSet {
    const key = `${group}\0${typeUrl}`;
    let fs = this.#fullSets.get(key);
    if (!fs) {
      const byName = this.snapshot(group, typeUrl);
      const resources = [...byName.values()];
      const version = setVersion(resources.map((r) => [r.name, r.version] as const));
      fs = {
        version,
        byName,
        body: encodeDiscoveryBody(
          version,
          resources.map((r) => r.bytes),
          typeUrl,
        ),
      };
      this.#fullSets.set(key, fs);
    }
    return fs;
  }

  #announce(group: string, changes: TypeChange[]): PublishResult {
    for (const c of changes) {
      this.#fullSets.delete(`${group}\0${c.typeUrl}`);
      this.#snapshots.delete(`${group}\0${c.typeUrl}`);
    }
    changes.sort((a, b) => PUSH_ORDER.indexOf(a.typeUrl) - PUSH_ORDER.indexOf(b.typeUrl));
    for (const c of changes) this.emit('change', { group, ...c });
    return { changes };
  }
}

function assertType(typeUrl: string): void {
  if (!SUPPORTED_TYPES.has(typeUrl)) {
    throw new TypeError(
      `unsupported resource type ${JSON.stringify(typeUrl)}; use one of TYPE.* (${[...SUPPORTED_TYPES].join(', ')})`,
    );
  }
}

function encodeOrReuse(typeUrl: string, name: string, obj: object, prev: CachedResource | undefined): CachedResource {
  // Same object reference as last time: the translator did not rebuild it, so neither do we.
  if (prev && prev.object === obj) return prev;
  const bytes = encodeResource(typeUrl, name, obj);
  const version = contentHash(bytes);
  if (prev && prev.version === version) return { ...prev, object: obj };
  return { name, typeUrl, version, bytes, object: obj };
}
