// What SotW and delta streams share: node registration, request decoding errors, the per-stream ordered push
// queue with grpc-js backpressure, ACK/NACK bookkeeping and status. A stream computes what to send only when it
// can write: while grpc-js asks us to wait ('drain'), changes just accumulate as dirty names, so a slow client
// costs memory proportional to its subscriptions, never a growing backlog, and never blocks other streams.
import * as grpc from '@grpc/grpc-js';
import { constants as http2Constants } from 'node:http2';
import { http2StreamOf } from './flow-control.ts';
import type { FullSet, XdsCache } from './cache.ts';
import type { Logger, CachedResource } from './types.ts';
import { TYPE, SHORT_NAME, SUPPORTED_TYPES, PUSH_ORDER, REMOVAL_ORDER } from './types.ts';
import type { WatchIndex } from './watch-index.ts';
import type { PeerIdentity } from './peer.ts';
import { peerIdentity } from './peer.ts';
import type { XdsNode, TypeStatus, XdsServerEvents, NackRecord } from './status.ts';
import { cachedSecretHoldsKey, type SecretDecision, type SecretInfo } from './secret-access.ts';

/** What requestDeserialize returns for bytes that are not a valid request. */
export class DecodeFailure {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

export interface RequestErrorDetail {
  code?: number;
  message?: string;
}

export interface NodeEntry {
  node: XdsNode;
  group: string;
  connectedSince: number;
  streams: Set<StreamBase>;
  peer?: PeerIdentity;
  types: Map<string, TypeStatus>;
  /** Secrets withheld from this node: name -> why and since when (cleared when the Secret is served). */
  refusedSecrets: Map<string, { reason: string; at: number }>;
}

export interface StreamHost {
  readonly cache: XdsCache;
  readonly index: WatchIndex<StreamBase>;
  readonly log: Logger;
  readonly maxNamesPerStream: number;
  readonly rejectUnknownTypes: boolean;
  /** How long changes wait for the answer to the previous response of their type before being sent regardless. */
  readonly ackWaitMs: number;
  /** How long a stream may stay blocked on a client that does not read before it is closed (0: never). */
  readonly stalledStreamMs: number;
  groupFor(node: XdsNode): string;
  /** The set of names in a SotW request list (cache-owned strings, '*' left out), shared by every stream that sent
   *  the same decoded list; callers must not mutate it. */
  nameSet(group: string, typeUrl: string, list: readonly string[]): Set<string>;
  /** `names`, or an equal set another stream already shares; callers must copy it before changing it. */
  shareNames(group: string, typeUrl: string, names: Set<string>): Set<string>;
  authorizeSecret(node: XdsNode, name: string, peer: PeerIdentity | undefined, info: SecretInfo): SecretDecision;
  /** Whether this refusal (node, Secret, reason) is new enough to log; each is logged once. */
  firstRefusal(node: string, name: string, reason: string): boolean;
  registerNode(stream: StreamBase): NodeEntry;
  releaseNode(stream: StreamBase): void;
  emitEvent<K extends keyof XdsServerEvents>(name: K, ...args: XdsServerEvents[K]): void;
}

export interface Outgoing {
  typeUrl: string;
  buf: Buffer;
  version: string;
  nonce: string;
  resources: number;
  removed: number;
  names: string[];
}

export interface PushRecord {
  nonce: string;
  version: string;
  at: number;
  names: string[];
}

const MAX_RECORDED_NAMES = 100;
let nextStreamId = 1;

export function isGrpcClient(node: XdsNode | undefined): boolean {
  const ua = node?.user_agent_name ?? '';
  return ua.startsWith('gRPC') || ua.startsWith('grpc-');
}

export type DuplexCall = grpc.ServerDuplexStream<unknown, Buffer>;

/** What both stream kinds keep per type for the watch index. */
export interface WatchState {
  wildcard: boolean;
  /** Never mutated in place by SotW streams: the set may be shared with other streams (StreamHost.nameSet). */
  names: Set<string>;
  /** Registered in the index for the whole type although not a wildcard subscriber (see reindex). */
  indexAll?: boolean;
}

/** Names at or above which a stream that follows at least half of a type is indexed once for the whole type. */
const WATCH_TYPE_MIN = 64;

/** Default of XdsServerOptions.ackWaitMs. */
export const ACK_WAIT_MS = 1000;
/** Default of XdsServerOptions.stalledStreamMs. */
export const STALLED_STREAM_MS = 60_000;

export abstract class StreamBase<S extends WatchState = WatchState> {
  readonly id = nextStreamId++;
  abstract readonly mode: 'sotw' | 'delta';
  readonly call: DuplexCall;
  readonly host: StreamHost;
  readonly method: string;
  /** Set on per-type services (StreamClusters, ...): the implied type URL. */
  readonly fixedType: string | undefined;
  node: XdsNode | undefined;
  group = '';
  entry: NodeEntry | undefined;
  peer: PeerIdentity | undefined;
  closed = false;
  readonly openedAt = Date.now();
  protected log: Logger;
  protected nonceSeq = 0;
  /** Per type: what the client subscribes to and what it holds (the subclass's state). */
  protected readonly types = new Map<string, S>();
  /** Names subscribed to over all types (checked against maxNamesPerStream). */
  protected subscriptions = 0;
  #dirty = new Map<string, Set<string> | null>();
  /** Names the client newly asked for, per type: replies, which the ACK gate does not hold (see #flush). */
  #requested = new Map<string, Set<string>>();
  #scheduled = false;
  #blocked = false;
  #ackTimer: NodeJS.Timeout | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  /** Write times of the responses HTTP/2 has not sent yet (oldest first), and their bytes: what the client has not
   *  taken. grpc-js calls a write's callback once HTTP/2 flow control let the message out. */
  #unsentAt: number[] = [];
  #unsentBytes = 0;

  constructor(host: StreamHost, call: DuplexCall, method: string, fixedType?: string) {
    this.host = host;
    this.call = call;
    this.method = method;
    this.fixedType = fixedType;
    this.log = host.log;
    this.peer = peerIdentity(call);
    call.on('data', (req: unknown) => this.#onData(req));
    call.on('end', () => {
      // The client half-closed: finish our side too.
      this.close();
      try {
        call.end();
      } catch {
        /* already ended */
      }
    });
    call.on('cancelled', () => this.close());
    call.on('close', () => this.close());
    call.on('error', (err: Error) => {
      this.log.debug({ stream: this.id, err: err.message }, 'xds stream error');
      this.close();
    });
  }

  protected abstract handleRequest(req: Record<string, unknown>): void;
  /** Appends one type's responses for its dirty names (null: all) to `adds` and `removals`. */
  protected abstract computeType(
    typeUrl: string,
    st: S,
    names: Set<string> | null,
    adds: Outgoing[],
    removals: Outgoing[],
  ): void;
  /** Resources of one type the client currently holds from us. */
  abstract heldCount(typeUrl: string): number;

  #onData(req: unknown): void {
    if (this.closed) return;
    if (req instanceof DecodeFailure) {
      this.fail(
        grpc.status.INVALID_ARGUMENT,
        `could not decode the request as ${this.mode === 'delta' ? 'DeltaDiscoveryRequest' : 'DiscoveryRequest'}: ${req.message}`,
      );
      return;
    }
    try {
      this.handleRequest(req as Record<string, unknown>);
    } catch (err) {
      this.log.error(
        { stream: this.id, node: this.node?.id, err: (err as Error).stack },
        'xds request handling failed',
      );
      this.fail(grpc.status.INTERNAL, `internal error handling the request: ${(err as Error).message}`);
    }
  }

  /** Registers the node on the stream's first request; false (stream closed) if it carries no node id. */
  protected initNode(node: unknown): boolean {
    if (this.node) return true;
    const n = node as XdsNode | undefined;
    if (!n || typeof n.id !== 'string' || n.id === '') {
      this.fail(
        grpc.status.INVALID_ARGUMENT,
        'the first request on an xDS stream must carry node.id (set node.id in the client bootstrap)',
      );
      return false;
    }
    this.node = n;
    this.group = this.host.groupFor(n);
    this.log = this.host.log.child?.({ node: n.id, stream: this.id }) ?? this.host.log;
    this.entry = this.host.registerNode(this);
    this.host.emitEvent('connect', {
      node: n.id,
      group: this.group,
      streamId: this.id,
      mode: this.mode,
      method: this.method,
      userAgent: n.user_agent_name ?? '',
    });
    this.log.info({ group: this.group, method: this.method, userAgent: n.user_agent_name }, 'xds client connected');
    return true;
  }

  /** The request's type URL, or undefined when the request is to be ignored (or the stream was failed). */
  protected resolveType(typeUrl: unknown): string | undefined {
    const t = typeof typeUrl === 'string' && typeUrl !== '' ? typeUrl : this.fixedType;
    if (!t) {
      this.fail(grpc.status.INVALID_ARGUMENT, 'type_url is required on aggregated (ADS) streams');
      return undefined;
    }
    if (this.fixedType && t !== this.fixedType) {
      this.fail(
        grpc.status.INVALID_ARGUMENT,
        `type_url ${t} cannot be requested on ${this.method}, which serves ${this.fixedType}`,
      );
      return undefined;
    }
    if (!SUPPORTED_TYPES.has(t)) {
      if (this.host.rejectUnknownTypes) {
        this.fail(
          grpc.status.INVALID_ARGUMENT,
          `unsupported type_url ${JSON.stringify(t.slice(0, 200))}; meshgate serves ${[...SUPPORTED_TYPES].join(', ')}`,
        );
      } else {
        this.log.debug({ typeUrl: t.slice(0, 200) }, 'ignoring request for an unsupported xDS type');
      }
      return undefined;
    }
    return t;
  }

  protected checkSubscriptionCap(newTotal: number): boolean {
    if (newTotal <= this.host.maxNamesPerStream) return true;
    this.fail(
      grpc.status.RESOURCE_EXHAUSTED,
      `too many resource names on one stream: ${newTotal} (limit ${this.host.maxNamesPerStream}); subscribe with the wildcard "*" instead of listing every name`,
    );
    return false;
  }

  /** The cached resource as this node may see it: a Secret only when authorizeSecret allows it. */
  protected resolve(typeUrl: string, name: string): CachedResource | undefined {
    const r = this.host.cache.get(this.group, typeUrl, name);
    if (!r || typeUrl !== TYPE.secret) return r;
    let d: SecretDecision = false;
    try {
      d = this.host.authorizeSecret(this.node!, name, this.peer, { holdsKey: cachedSecretHoldsKey(r) });
    } catch (err) {
      this.log.error({ secret: name, err: (err as Error).message }, 'authorizeSecret threw; withholding the secret');
      d = { refuse: 'the authorization check failed (see the control plane log)' };
    }
    const refused = this.entry!.refusedSecrets;
    if (d === true) {
      if (refused.size) refused.delete(name);
      return r;
    }
    const reason = typeof d === 'object' && d !== null ? String(d.refuse) : 'not authorized for this node';
    if (refused.get(name)?.reason !== reason) refused.set(name, { reason, at: Date.now() });
    if (this.host.firstRefusal(this.node!.id, name, reason)) {
      // Names and the reason only: never anything of the Secret itself.
      this.log.warn(
        { secret: name, reason, peer: this.peer },
        'secret withheld from this node; answering as if it did not exist',
      );
    }
    return undefined;
  }

  /** Re-evaluates every subscribed name of a type (after the rules for who may have a Secret changed). */
  recheck(typeUrl: string): void {
    if (!this.types.has(typeUrl)) return;
    if (typeUrl === TYPE.secret) this.entry?.refusedSecrets.clear();
    this.markDirty(typeUrl, null);
  }

  /** Names of one type in this stream's group (wildcard); callers resolve() each, which withholds Secrets. */
  protected allNames(typeUrl: string): Iterable<string> {
    return this.host.cache.names(this.group, typeUrl);
  }

  markDirty(typeUrl: string, names: Iterable<string> | null, requested = false): void {
    if (this.closed) return;
    if (requested && names !== null) {
      const r = this.#requested.get(typeUrl) ?? new Set<string>();
      for (const n of names) r.add(n);
      this.#requested.set(typeUrl, r);
    }
    const cur = this.#dirty.get(typeUrl);
    if (names === null) this.#dirty.set(typeUrl, null);
    else if (cur !== null) {
      const set = cur ?? new Set<string>();
      for (const n of names) set.add(n);
      this.#dirty.set(typeUrl, set);
    }
    this.schedule();
  }

  /** Flushes on the next turn, so every change of one publish (and every request in one read) lands in one batch. */
  schedule(): void {
    if (this.#scheduled || this.closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.closed || this.#blocked || !this.host.cache.ready || this.#dirty.size === 0) return;
    // Coalesce by ACK: while a dirty type's latest response is unanswered, the whole batch waits (not just that
    // type, so the make-before-break order across types holds) and merges further changes. A proxy under churn
    // then gets one response per round trip instead of one per change, and a client that never answers still
    // gets the latest state after ackWaitMs.
    let wait = 0;
    const now = Date.now();
    for (const typeUrl of this.#dirty.keys()) {
      const at = this.pendingPushAt(typeUrl);
      if (at !== undefined) wait = Math.max(wait, at + this.host.ackWaitMs - now);
    }
    if (wait > 0) {
      this.#ackTimer ??= setTimeout(() => {
        this.#ackTimer = undefined;
        this.schedule();
      }, wait);
      // Replies are not pushes: names the client just asked for are answered now, for every type whose own
      // latest response is answered. Envoy holds its CDS ACK until new clusters have their assignments, so
      // making the EDS reply wait for that ACK would stall every cluster addition by ackWaitMs. Such a reply
      // carries only the asked-for names (or says they do not exist), never a removal of something the client
      // holds, so the make-before-break order of the held changes is untouched.
      const replies = new Map<string, Set<string> | null>();
      for (const [typeUrl, names] of this.#requested) {
        if (this.pendingPushAt(typeUrl) !== undefined) continue;
        replies.set(typeUrl, names);
        this.#requested.delete(typeUrl);
        // The reply carries the latest state of those names, so they no longer wait with the held changes.
        const held = this.#dirty.get(typeUrl);
        if (held) {
          for (const n of names) held.delete(n);
          if (held.size === 0) this.#dirty.delete(typeUrl);
        }
      }
      if (replies.size) this.#send(replies);
      return;
    }
    this.#clearAckTimer();
    const dirty = this.#dirty;
    this.#dirty = new Map();
    this.#requested.clear();
    this.#send(dirty);
  }

  #send(dirty: Map<string, Set<string> | null>): void {
    let batch: Outgoing[];
    try {
      batch = this.computeBatch(dirty);
    } catch (err) {
      this.log.error({ err: (err as Error).stack }, 'computing an xDS response failed');
      this.fail(grpc.status.INTERNAL, `internal error computing a response: ${(err as Error).message}`);
      return;
    }
    for (const m of batch) this.#write(m);
  }

  #write(m: Outgoing): void {
    if (this.closed) return;
    let ok: boolean;
    const size = m.buf.length;
    try {
      ok = this.call.write(m.buf, () => {
        this.#unsentAt.shift();
        this.#unsentBytes -= size;
      });
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'write on a closed xDS stream');
      this.close();
      return;
    }
    const now = Date.now();
    this.#unsentAt.push(now);
    this.#unsentBytes += size;
    if (!this.#stallTimer && this.host.stalledStreamMs > 0) this.#armStallTimer(this.host.stalledStreamMs);
    this.onWritten(m, now);
    const ts = this.typeStatus(m.typeUrl);
    ts.lastSentVersion = m.version;
    ts.lastSentAt = new Date(now).toISOString();
    ts.pendingAck = true;
    this.host.emitEvent('push', {
      node: this.node!.id,
      group: this.group,
      streamId: this.id,
      typeUrl: m.typeUrl,
      mode: this.mode,
      version: m.version,
      bytes: m.buf.length,
      resources: m.resources,
      removed: m.removed,
    });
    if (!ok && !this.#blocked) {
      this.#blocked = true;
      this.call.once('drain', () => {
        this.#blocked = false;
        this.schedule();
      });
    }
  }

  #clearStallTimer(): void {
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  #armStallTimer(ms: number): void {
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      if (this.closed || this.#unsentAt.length === 0) return;
      const stalledMs = this.host.stalledStreamMs;
      const waited = Date.now() - this.#unsentAt[0];
      if (waited >= stalledMs) this.#dropStalled(waited);
      else this.#armStallTimer(stalledMs - waited);
    }, ms);
    this.#stallTimer.unref?.();
  }

  /**
   * The oldest response has waited unsent for `waitedMs` (the client does not read, so HTTP/2 flow control holds
   * it). Memory is bounded meanwhile (grpc-js takes 16 messages before it asks us to wait, and while we wait changes
   * only mark names dirty), but those bytes stay buffered for as long as the stream lives, and a status cannot reach
   * a client that does not read. So the HTTP/2 stream is reset (RST_STREAM CANCEL), which frees its buffers at once;
   * a live client sees CANCELLED, reconnects and gets the current state.
   */
  #dropStalled(waitedMs: number): void {
    if (this.closed) return;
    const unsent = this.#unsentBytes;
    const h2 = http2StreamOf(this.call);
    this.fail(
      grpc.status.RESOURCE_EXHAUSTED,
      `the client has not read its responses for ${Math.round(waitedMs / 1000)}s (${this.#unsentAt.length} responses, ${unsent} bytes unsent; limit xds.stalledStreamTimeout ${Math.round(this.host.stalledStreamMs / 1000)}s); resetting the stream`,
    );
    try {
      if (h2 && !h2.destroyed) h2.close(http2Constants.NGHTTP2_CANCEL);
    } catch {
      /* already gone */
    }
  }

  #clearAckTimer(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  /** When the latest response of this type was written, while it still awaits its ACK or NACK; else undefined. */
  protected abstract pendingPushAt(typeUrl: string): number | undefined;

  /** Hook: the message was handed to grpc-js at `now` (push records take their time from here). */
  protected abstract onWritten(m: Outgoing, now: number): void;

  protected nextNonce(): string {
    return `${this.id.toString(36)}-${(++this.nonceSeq).toString(36)}`;
  }

  protected typeStatus(typeUrl: string): TypeStatus {
    const types = this.entry!.types;
    let ts = types.get(typeUrl);
    if (!ts || ts.mode !== this.mode) {
      ts = {
        typeUrl,
        type: SHORT_NAME[typeUrl] ?? typeUrl,
        mode: this.mode,
        wildcard: false,
        subscribed: 0,
        resources: 0,
        pendingAck: false,
      };
      types.set(typeUrl, ts);
    }
    return ts;
  }

  protected recordAck(typeUrl: string, push: PushRecord): void {
    // The answer may open the ACK gate for held changes.
    if (this.#dirty.size) this.schedule();
    const now = Date.now();
    const ts = this.typeStatus(typeUrl);
    ts.lastAckedVersion = push.version;
    ts.lastAckedAt = new Date(now).toISOString();
    ts.pendingAck = false;
    this.host.emitEvent('ack', {
      node: this.node!.id,
      group: this.group,
      streamId: this.id,
      typeUrl,
      version: push.version,
      latencyMs: now - push.at,
    });
  }

  protected recordNack(typeUrl: string, push: PushRecord, detail: RequestErrorDetail): void {
    if (this.#dirty.size) this.schedule();
    const now = Date.now();
    const message = String(detail.message ?? '').slice(0, 4096);
    const rec: NackRecord = {
      version: push.version,
      nonce: push.nonce,
      message,
      at: new Date(now).toISOString(),
      names: push.names,
    };
    const ts = this.typeStatus(typeUrl);
    ts.lastNack = rec;
    ts.pendingAck = false;
    this.log.warn(
      { type: SHORT_NAME[typeUrl], version: push.version, names: push.names, message },
      'xds client rejected (NACKed) a response; it will not be resent until the content changes',
    );
    this.host.emitEvent('nack', {
      node: this.node!.id,
      group: this.group,
      streamId: this.id,
      typeUrl,
      version: push.version,
      latencyMs: now - push.at,
      message,
      names: push.names,
    });
  }

  protected static recordedNames(names: Iterable<string>): string[] {
    const out: string[] = [];
    for (const n of names) {
      if (out.length >= MAX_RECORDED_NAMES) break;
      out.push(n);
    }
    return out;
  }

  /** Number of names this stream subscribes to (all types). */
  subscriptionCount(): number {
    return this.subscriptions;
  }

  /** The next batch from the dirty names: additions in push order (CDS, EDS, LDS, RDS, SDS), then removals. */
  protected computeBatch(dirty: Map<string, Set<string> | null>): Outgoing[] {
    const adds: Outgoing[] = [];
    const removals: Outgoing[] = [];
    for (const typeUrl of PUSH_ORDER) {
      if (!dirty.has(typeUrl)) continue;
      const st = this.types.get(typeUrl);
      if (!st) continue;
      this.computeType(typeUrl, st, dirty.get(typeUrl) ?? null, adds, removals);
    }
    removals.sort((a, b) => REMOVAL_ORDER.indexOf(a.typeUrl) - REMOVAL_ORDER.indexOf(b.typeUrl));
    return adds.concat(removals);
  }

  /**
   * Moves this stream's index registration for a type to its new subscription (`next`, `wildcard`), given the names
   * it adds and drops. A wildcard stream, or one that follows most of a type (a gateway naming every cluster's
   * assignment), is one whole-type entry: it is woken for every change of the type and computeType skips names it
   * does not follow; per-name entries would cost ~1,000 index entries per proxy for nothing. Any other stream is
   * indexed by name. Call before `st.names` and `st.wildcard` take the new values (`next` may already be `st.names`).
   */
  protected reindex(
    typeUrl: string,
    st: S,
    next: ReadonlySet<string>,
    wildcard: boolean,
    added: readonly string[],
    removed: readonly string[],
  ): void {
    const index = this.host.index;
    const byType =
      !wildcard && next.size >= WATCH_TYPE_MIN && next.size * 2 >= this.host.cache.size(this.group, typeUrl);
    const hadAll = st.wildcard || st.indexAll === true;
    const wantAll = wildcard || byType;
    if (hadAll && !wantAll) {
      index.unwatchAll(this.group, typeUrl, this);
      for (const n of next) index.watch(this.group, typeUrl, this, n);
    } else if (!hadAll && wantAll) {
      // The old names are `next` without `added` plus `removed`; unwatching a name that was not watched is a no-op.
      for (const n of next) index.unwatch(this.group, typeUrl, this, n);
      for (const n of removed) index.unwatch(this.group, typeUrl, this, n);
      index.watchAll(this.group, typeUrl, this);
    } else if (!hadAll) {
      // Added first: a delta request may subscribe and unsubscribe the same name.
      for (const n of added) index.watch(this.group, typeUrl, this, n);
      for (const n of removed) index.unwatch(this.group, typeUrl, this, n);
    }
    st.indexAll = byType;
  }

  /**
   * The cache's full set of a type when `resources` are exactly it and the stream holds nothing of the type yet (a
   * gateway's first EDS response): its pre-encoded body then serves every such stream, instead of ~1,000 resources
   * hashed and joined per stream.
   */
  protected wholeTypeSet(typeUrl: string, resources: readonly CachedResource[], heldSize: number): FullSet | undefined {
    const cache = this.host.cache;
    if (heldSize !== 0 || resources.length < 2 || resources.length !== cache.size(this.group, typeUrl))
      return undefined;
    const shared = cache.fullSet(this.group, typeUrl);
    if (shared.byName.size !== resources.length || !resources.every((r) => shared.byName.get(r.name) === r))
      return undefined;
    return shared;
  }

  /** Drops all watches of this stream from the index. */
  protected unwatchAll(): void {
    const index = this.host.index;
    for (const [typeUrl, st] of this.types) {
      if (st.wildcard || st.indexAll) index.unwatchAll(this.group, typeUrl, this);
      else for (const n of st.names) index.unwatch(this.group, typeUrl, this, n);
    }
    this.types.clear();
    this.subscriptions = 0;
  }

  /** Ends the stream with a status; the stream's state is freed. */
  fail(code: grpc.status, details: string): void {
    if (this.closed) return;
    const level = code === grpc.status.UNAVAILABLE ? 'info' : 'warn';
    this.log[level]({ node: this.node?.id, code: grpc.status[code], details }, 'closing xds stream');
    this.close();
    try {
      this.call.emit('error', Object.assign(new Error(details), { code, details }));
    } catch {
      /* the call is already gone */
    }
  }

  /** Frees everything this stream holds (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#dirty.clear();
    this.#clearAckTimer();
    this.#clearStallTimer();
    this.#unsentAt = [];
    this.#unsentBytes = 0;
    try {
      this.unwatchAll();
    } finally {
      if (this.node) {
        this.host.releaseNode(this);
        this.host.emitEvent('disconnect', {
          node: this.node.id,
          group: this.group,
          streamId: this.id,
          durationMs: Date.now() - this.openedAt,
        });
        this.log.info({}, 'xds client disconnected');
      }
    }
  }
}
