// Incremental (delta) streams (ADS DeltaAggregatedResources and the per-type Delta* methods).
//
// Per type the stream keeps `known`: name -> the version the client holds ('' = we told it the name does not
// exist). It is seeded from initial_resource_versions on the first request, so a reconnecting client is not sent
// what it already has, and anything it holds that is gone is removed. removed_resources only ever names what the
// client holds or explicitly asked for, and removals go out after every addition of the batch.
import { FULL_STATE_TYPES, type CachedResource } from './types.ts';
import { Held } from './held.ts';
import { encodeDeltaResource, encodeDeltaResponse, encodeDiscoveryBody, setVersion, withNonce } from './wire.ts';
import type { FullSet } from './cache.ts';
import {
  StreamBase,
  isGrpcClient,
  type Outgoing,
  type PushRecord,
  type RequestErrorDetail,
  type WatchState,
} from './stream-base.ts';

interface DeltaTypeState extends WatchState {
  legacy: boolean;
  /** name -> what the client holds: a cached resource, a version it declared (initial_resource_versions), or
   *  NOT_FOUND's version '' when we told it the name does not exist. Shares the cache's snapshot (held.ts). */
  known: Held;
  /** `names` may be shared with other streams (StreamHost.shareNames): copy before changing it. */
  namesShared?: boolean;
  mustRespond: boolean;
  /** Responses not yet ACKed/NACKed, by nonce (delta pairs each ACK with its response). */
  outstanding: Map<string, PushRecord>;
  /** Nonce of the newest response of this type; only its answer opens the ACK gate. */
  latestNonce?: string;
}

interface DeltaRequest {
  node?: unknown;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: RequestErrorDetail;
}

/** Cap on un-ACKed responses remembered per type; older ones are forgotten (their ACKs are then just ignored). */
const MAX_OUTSTANDING = 64;

/** DeltaDiscoveryResponse bodies (no nonce) of the cache's full sets: its fields 1, 2, 4 and 5 are numbered like
 *  DiscoveryResponse's, so the SotW body encoder builds it from delta Resource entries. */
const deltaBodies = new WeakMap<FullSet, Buffer>();

/** Stands for a version the client declared or for "told it does not exist" (version ''). */
function placeholder(name: string, version: string): CachedResource {
  return { name, version } as CachedResource;
}

/** Delta Resource entries depend only on the cached resource, so they are built once and shared. */
const entryCache = new WeakMap<Uint8Array, Buffer>();
function deltaEntry(r: CachedResource): Buffer {
  let e = entryCache.get(r.bytes);
  if (!e) entryCache.set(r.bytes, (e = encodeDeltaResource(r.name, r.version, r.bytes)));
  return e;
}

export class DeltaStream extends StreamBase<DeltaTypeState> {
  readonly mode = 'delta' as const;

  protected handleRequest(raw: Record<string, unknown>): void {
    const req = raw as DeltaRequest;
    if (!this.initNode(req.node)) return;
    const typeUrl = this.resolveType(req.type_url);
    if (!typeUrl) return;
    let st = this.types.get(typeUrl);
    const first = !st;
    if (!st) {
      st = {
        wildcard: false,
        legacy: false,
        names: new Set(),
        known: new Held(),
        mustRespond: false,
        outstanding: new Map(),
      };
      this.types.set(typeUrl, st);
    }
    const nonce = req.response_nonce ?? '';
    if (nonce !== '') {
      const push = st.outstanding.get(nonce);
      if (push) {
        st.outstanding.delete(nonce);
        if (req.error_detail) this.recordNack(typeUrl, push, req.error_detail);
        else this.recordAck(typeUrl, push);
        if (st.outstanding.size === 0) this.typeStatus(typeUrl).pendingAck = false;
      } else {
        // Stale or unknown nonce: subscription changes still count (xDS delta rules).
        this.log.debug(
          { typeUrl, nonce },
          'delta request with an unknown nonce; applying its subscription changes only',
        );
      }
    }
    this.#updateSubscription(typeUrl, st, req, first);
  }

  #updateSubscription(typeUrl: string, st: DeltaTypeState, req: DeltaRequest, first: boolean): void {
    const sub = req.resource_names_subscribe ?? [];
    const unsub = req.resource_names_unsubscribe ?? [];
    const initial = first ? Object.entries(req.initial_resource_versions ?? {}) : [];
    let newNames = 0;
    for (const n of sub) if (n !== '*' && !st.names.has(n)) newNames++;
    if (!this.checkSubscriptionCap(this.subscriptions + newNames + initial.length)) return;

    for (const [n, v] of initial) if (typeof v === 'string' && v !== '') st.known.set(n, placeholder(n, v));
    // The wildcard after this request: a first request naming nothing is the legacy wildcard, which lasts until the
    // client names resources without "*"; subscribing "*" turns it on, unsubscribing "*" off.
    let legacy = st.legacy;
    let wildcard = st.wildcard;
    if (first && sub.length === 0 && FULL_STATE_TYPES.has(typeUrl) && !isGrpcClient(this.node))
      legacy = wildcard = true;
    const added: string[] = [];
    const removed: string[] = [];
    let namedSubscribe = false;
    for (const n of sub) {
      if (n === '*') {
        legacy = false;
        wildcard = true;
        continue;
      }
      namedSubscribe = true;
      if (st.names.has(n)) continue;
      // Hold the cache's own name string, not this request's copy: one string per name, not per stream.
      const name = this.host.cache.get(this.group, typeUrl, n)?.name ?? n;
      this.#ownNames(st).add(name);
      added.push(name);
    }
    if (legacy && namedSubscribe && !sub.includes('*')) legacy = wildcard = false;
    for (const n of unsub) {
      if (n === '*') {
        legacy = false;
        wildcard = false;
        continue;
      }
      if (!st.names.has(n)) continue;
      this.#ownNames(st).delete(n);
      removed.push(n);
      if (!wildcard) st.known.delete(n);
    }
    const all = first || (wildcard && !st.wildcard);
    if (added.length || removed.length || wildcard !== st.wildcard)
      this.reindex(typeUrl, st, st.names, wildcard, added, removed);
    // The client stops caring about what it only had through the wildcard.
    if (st.wildcard && !wildcard) for (const n of [...st.known.keys()]) if (!st.names.has(n)) st.known.delete(n);
    this.subscriptions += added.length - removed.length;
    st.wildcard = wildcard;
    st.legacy = legacy;
    if (first && wildcard) st.mustRespond = true;
    // Names the client declared having but no longer subscribes to are none of our business.
    if (initial.length && !wildcard) for (const [n] of initial) if (!st.names.has(n)) st.known.delete(n);
    // A gateway following every assignment shares its name set with the streams naming the same set.
    if (st.indexAll && (added.length || removed.length)) {
      st.names = this.host.shareNames(this.group, typeUrl, st.names);
      st.namesShared = true;
    }

    const ts = this.typeStatus(typeUrl);
    ts.wildcard = st.wildcard;
    ts.subscribed = st.names.size;

    if (all) this.markDirty(typeUrl, null);
    else if (added.length) this.markDirty(typeUrl, added, true);
  }

  #ownNames(st: DeltaTypeState): Set<string> {
    if (st.namesShared) {
      st.names = new Set(st.names);
      st.namesShared = false;
    }
    return st.names;
  }

  heldCount(typeUrl: string): number {
    const st = this.types.get(typeUrl);
    if (!st) return 0;
    let n = 0;
    for (const name of st.known.keys()) if (st.known.get(name)!.version !== '') n++;
    return n;
  }

  protected computeType(
    typeUrl: string,
    st: DeltaTypeState,
    names: Set<string> | null,
    adds: Outgoing[],
    removals: Outgoing[],
  ): void {
    let candidates: Iterable<string>;
    if (names) candidates = names;
    else candidates = new Set([...(st.wildcard ? this.allNames(typeUrl) : []), ...st.names, ...st.known.keys()]);
    const resources: CachedResource[] = [];
    const notFound: string[] = [];
    const gone: string[] = [];
    for (const n of candidates) {
      const explicit = st.names.has(n);
      if (!st.wildcard && !explicit) continue;
      const r = this.resolve(typeUrl, n);
      const k = st.known.get(n)?.version;
      if (r) {
        if (k !== r.version) resources.push(r);
      } else if (k !== undefined && k !== '') {
        gone.push(n);
      } else if (explicit && k === undefined) {
        notFound.push(n);
      }
    }
    const shared = !notFound.length && !gone.length ? this.wholeTypeSet(typeUrl, resources, st.known.size) : undefined;
    if (shared) adds.push(this.#sharedMessage(typeUrl, st, shared));
    else if (resources.length || notFound.length || st.mustRespond)
      adds.push(this.#message(typeUrl, st, resources, notFound));
    st.mustRespond = false;
    if (gone.length) removals.push(this.#message(typeUrl, st, [], gone));
    st.known.maybeRebase(() => this.host.cache.snapshot(this.group, typeUrl));
  }

  #sharedMessage(typeUrl: string, st: DeltaTypeState, shared: FullSet): Outgoing {
    let body = deltaBodies.get(shared);
    if (!body)
      deltaBodies.set(
        shared,
        (body = encodeDiscoveryBody(shared.version, [...shared.byName.values()].map(deltaEntry), typeUrl)),
      );
    const nonce = this.nextNonce();
    st.known.reset(shared.byName);
    const names = StreamBase.recordedNames(shared.byName.keys());
    return {
      typeUrl,
      buf: withNonce(body, nonce),
      version: shared.version,
      nonce,
      resources: shared.byName.size,
      removed: 0,
      names,
    };
  }

  #message(typeUrl: string, st: DeltaTypeState, resources: CachedResource[], removed: string[]): Outgoing {
    const pairs: Array<readonly [string, string]> = resources.map((r) => [r.name, r.version] as const);
    for (const n of removed) pairs.push([n, '']);
    const version = setVersion(pairs);
    const nonce = this.nextNonce();
    const buf = encodeDeltaResponse(version, resources.map(deltaEntry), typeUrl, removed, nonce);
    for (const r of resources) st.known.set(r.name, r);
    for (const n of removed) {
      if (st.names.has(n)) st.known.set(n, placeholder(n, ''));
      else st.known.delete(n);
    }
    const names = StreamBase.recordedNames(resources.length ? resources.map((r) => r.name) : removed);
    return { typeUrl, buf, version, nonce, resources: resources.length, removed: removed.length, names };
  }

  protected pendingPushAt(typeUrl: string): number | undefined {
    const st = this.types.get(typeUrl);
    return st?.latestNonce === undefined ? undefined : st.outstanding.get(st.latestNonce)?.at;
  }

  protected onWritten(m: Outgoing, now: number): void {
    const st = this.types.get(m.typeUrl);
    if (!st) return;
    st.outstanding.set(m.nonce, { nonce: m.nonce, version: m.version, at: now, names: m.names });
    st.latestNonce = m.nonce;
    if (st.outstanding.size > MAX_OUTSTANDING) st.outstanding.delete(st.outstanding.keys().next().value!);
  }
}
