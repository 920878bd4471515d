// State-of-the-world streams (ADS StreamAggregatedResources and the per-type Stream* methods).
//
// Per type the stream remembers what the client holds (`sent`: name -> the shared CachedResource last sent) and
// computes responses as differences against it. That one map gives the required behaviours:
// - unchanged resources are never resent;
// - a NACKed response is never resent (its resources stay in `sent`), only new content goes out;
// - LDS/CDS carry their full set; RDS/EDS/SDS carry only the resources that changed (they are incremental per
//   resource in SotW; absence means nothing), so an endpoint change costs one ClusterLoadAssignment per watcher;
// - for LDS/CDS, a batch that both adds and removes first sends old+new (make-before-break) and the smaller set
//   after every other type's additions.
import { FULL_STATE_TYPES, TYPE, type CachedResource } from './types.ts';
import type { FullSet } from './cache.ts';
import { encodeDiscoveryResponse, setVersion, withNonce } from './wire.ts';
import { Held } from './held.ts';
import {
  StreamBase,
  isGrpcClient,
  type Outgoing,
  type PushRecord,
  type RequestErrorDetail,
  type WatchState,
} from './stream-base.ts';

interface SotwTypeState extends WatchState {
  /** Wildcard implied by an empty list (legacy); it lasts while the client keeps sending empty lists. */
  legacy: boolean;
  sent: Held;
  /** The request's name list the current `names` was built from (decoded lists are shared, see name-lists.ts). */
  list?: readonly string[];
  /** version_info of the last full-state response (LDS/CDS), to skip unchanged sets without a scan. */
  sentVersion?: string;
  /** LDS/CDS: answer the next flush even when nothing changed (first request, new names). */
  mustRespond: boolean;
  /** The latest response sent for this type; only a request carrying its nonce is current. */
  push?: PushRecord & { answered: boolean };
}

interface SotwRequest {
  node?: unknown;
  type_url?: string;
  version_info?: string;
  resource_names?: string[];
  response_nonce?: string;
  error_detail?: RequestErrorDetail;
}

export class SotwStream extends StreamBase<SotwTypeState> {
  readonly mode = 'sotw' as const;

  heldCount(typeUrl: string): number {
    return this.types.get(typeUrl)?.sent.size ?? 0;
  }

  protected handleRequest(raw: Record<string, unknown>): void {
    const req = raw as SotwRequest;
    if (!this.initNode(req.node)) return;
    const typeUrl = this.resolveType(req.type_url);
    if (!typeUrl) return;
    let st = this.types.get(typeUrl);
    const first = !st;
    const nonce = req.response_nonce ?? '';
    if (st?.push && nonce !== '' && nonce !== st.push.nonce) {
      // Only the latest request per type matters: this one answers a response that was superseded.
      this.log.debug({ typeUrl, nonce, latest: st.push.nonce }, 'ignoring SotW request with a stale nonce');
      return;
    }
    if (!st) {
      st = { wildcard: false, legacy: false, names: new Set(), sent: new Held(), mustRespond: false };
      this.types.set(typeUrl, st);
    }
    if (st.push && nonce === st.push.nonce && !st.push.answered) {
      st.push.answered = true;
      if (req.error_detail) this.recordNack(typeUrl, st.push, req.error_detail);
      else this.recordAck(typeUrl, st.push);
    }
    this.#updateSubscription(typeUrl, st, req.resource_names ?? [], first);
  }

  #updateSubscription(typeUrl: string, st: SotwTypeState, list: readonly string[], first: boolean): void {
    // The common ACK: the very list the current subscription was built from (decoded lists are shared, see
    // name-lists.ts). A non-wildcard state built from it stays non-wildcard (no '*', and legacy needs a wildcard
    // already), so nothing changes; checked first because list.includes('*') alone walks 10,000 names.
    if (!first && list === st.list && !st.wildcard) return;
    const fullState = FULL_STATE_TYPES.has(typeUrl);
    const explicitWildcard = list.includes('*');
    const legacy = list.length === 0 && fullState && !isGrpcClient(this.node) && (first || st.legacy);
    const wildcard = explicitWildcard || legacy;
    // Every SotW ACK repeats the whole name list (1,000 names for a gateway's EDS). When it is the current one, in
    // the same order, keep the current set instead of rebuilding it. Decoded lists are shared between requests
    // (name-lists.ts), so identity settles it without a scan; `names` was built from the previous list in its
    // order, so equal length plus equal elements in order also rules out duplicates in the new list.
    if (!first && !wildcard && !st.wildcard && (list === st.list || sameOrder(list, st.names))) {
      st.list = list;
      return;
    }
    const next = this.host.nameSet(this.group, typeUrl, list);
    if (!this.checkSubscriptionCap(this.subscriptions - st.names.size + next.size)) return;

    const added: string[] = [];
    const removed: string[] = [];
    for (const n of next) if (!st.names.has(n)) added.push(n);
    for (const n of st.names) if (!next.has(n)) removed.push(n);
    if (!wildcard) for (const n of removed) st.sent.delete(n);
    this.reindex(typeUrl, st, next, wildcard, added, removed);
    let all = first;
    if (wildcard && !st.wildcard) all = true;
    if (!wildcard && st.wildcard) for (const n of [...st.sent.keys()]) if (!next.has(n)) st.sent.delete(n);
    this.subscriptions += next.size - st.names.size;
    st.names = next;
    st.list = list;
    st.wildcard = wildcard;
    st.legacy = legacy;
    if (fullState && (first || added.length > 0 || all)) st.mustRespond = true;

    const ts = this.typeStatus(typeUrl);
    ts.wildcard = wildcard;
    ts.subscribed = next.size;

    if (all) this.markDirty(typeUrl, null);
    else if (added.length) this.markDirty(typeUrl, added, true);
  }

  protected computeType(
    typeUrl: string,
    st: SotwTypeState,
    names: Set<string> | null,
    adds: Outgoing[],
    removals: Outgoing[],
  ): void {
    if (FULL_STATE_TYPES.has(typeUrl)) this.#computeFull(typeUrl, st, adds, removals);
    else this.#computePartial(typeUrl, st, names, adds);
  }

  #computeFull(typeUrl: string, st: SotwTypeState, adds: Outgoing[], removals: Outgoing[]): void {
    // The common Envoy case (wildcard, nothing else named): one shared pre-encoded set for all such streams.
    let shared: FullSet | undefined;
    if (st.wildcard && st.names.size === 0 && typeUrl !== TYPE.secret) {
      shared = this.host.cache.fullSet(this.group, typeUrl);
      if (!st.mustRespond && st.sentVersion === shared.version) return;
    }
    const desired = shared ? (shared.byName as Map<string, CachedResource>) : new Map<string, CachedResource>();
    if (shared) {
      /* desired is the shared set */
    } else if (st.wildcard) {
      for (const n of this.allNames(typeUrl)) {
        const r = this.resolve(typeUrl, n);
        if (r) desired.set(n, r);
      }
    }
    if (!shared) {
      for (const n of st.names) {
        if (desired.has(n)) continue;
        const r = this.resolve(typeUrl, n);
        if (r) desired.set(n, r);
      }
    }
    let changed = st.mustRespond;
    st.mustRespond = false;
    if (!changed) {
      for (const [n, r] of desired) {
        if (st.sent.get(n)?.version !== r.version) {
          changed = true;
          break;
        }
      }
    }
    const gone: string[] = [];
    for (const n of st.sent.keys()) if (!desired.has(n)) gone.push(n);
    if (changed && gone.length) {
      // Make-before-break: keep what is going away until the rest of the batch has been delivered.
      const union = new Map(desired);
      for (const n of gone) union.set(n, st.sent.get(n)!);
      adds.push(this.#message(typeUrl, st, [...union.values()], true));
      removals.push(this.#message(typeUrl, st, [...desired.values()], true, shared));
    } else if (changed) {
      adds.push(this.#message(typeUrl, st, [...desired.values()], true, shared));
    } else if (gone.length) {
      removals.push(this.#message(typeUrl, st, [...desired.values()], true, shared));
    } else if (shared) {
      st.sentVersion = shared.version;
    }
  }

  #computePartial(typeUrl: string, st: SotwTypeState, names: Set<string> | null, adds: Outgoing[]): void {
    let candidates: Iterable<string>;
    if (names) candidates = names;
    else if (st.wildcard) candidates = new Set([...this.allNames(typeUrl), ...st.names, ...st.sent.keys()]);
    else candidates = st.names;
    const include: CachedResource[] = [];
    for (const n of candidates) {
      if (!st.wildcard && !st.names.has(n)) continue;
      const r = this.resolve(typeUrl, n);
      if (r) {
        if (st.sent.get(n)?.version !== r.version) include.push(r);
      } else {
        // Deletion of RDS/EDS/SDS resources is implicit through their parents; forget it so a return is resent.
        st.sent.delete(n);
      }
    }
    if (!include.length) return;
    const shared = this.wholeTypeSet(typeUrl, include, st.sent.size);
    if (shared) {
      adds.push(this.#message(typeUrl, st, include, false, shared));
      return;
    }
    adds.push(this.#message(typeUrl, st, include, false));
    st.sent.maybeRebase(() => this.host.cache.snapshot(this.group, typeUrl));
  }

  #message(
    typeUrl: string,
    st: SotwTypeState,
    resources: CachedResource[],
    replace: boolean,
    shared?: FullSet,
  ): Outgoing {
    const nonce = this.nextNonce();
    let version: string;
    let buf: Buffer;
    if (shared) {
      version = shared.version;
      buf = withNonce(shared.body, nonce);
    } else {
      version = setVersion(resources.map((r) => [r.name, r.version] as const));
      buf = encodeDiscoveryResponse(
        version,
        resources.map((r) => r.bytes),
        typeUrl,
        nonce,
      );
    }
    if (replace) st.sentVersion = version;
    if (shared && resources.length === shared.byName.size && (replace || st.sent.size === 0)) {
      // The client now holds the shared set itself: no per-name state for this stream.
      st.sent.reset(shared.byName);
    } else {
      if (replace) st.sent.reset();
      for (const r of resources) st.sent.set(r.name, r);
    }
    const names = StreamBase.recordedNames(resources.map((r) => r.name));
    return { typeUrl, buf, version, nonce, resources: resources.length, removed: 0, names };
  }

  protected pendingPushAt(typeUrl: string): number | undefined {
    const push = this.types.get(typeUrl)?.push;
    return push && !push.answered ? push.at : undefined;
  }

  protected onWritten(m: Outgoing, now: number): void {
    const st = this.types.get(m.typeUrl);
    if (!st) return;
    st.push = { nonce: m.nonce, version: m.version, at: now, names: m.names, answered: false };
  }
}

/** Whether `list` holds exactly the elements of `set`, in the set's insertion order. */
function sameOrder(list: readonly string[], set: ReadonlySet<string>): boolean {
  if (list.length !== set.size) return false;
  let i = 0;
  for (const n of set) if (list[i++] !== n) return false;
  return true;
}
