// The xDS gRPC server: ADS (SotW and delta) plus the per-type discovery services, registered with custom
// (de)serializers so grpc-js never re-encodes: responses are pre-built Buffers (identity serializer) and requests
// are decoded by protobufjs into plain snake_case objects.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { XdsCache, CacheChangeEvent } from './cache.ts';
import { messageType, TO_OBJECT } from './protos.ts';
import {
  ACK_WAIT_MS,
  STALLED_STREAM_MS,
  DecodeFailure,
  type StreamBase,
  type DuplexCall,
  type NodeEntry,
  type StreamHost,
} from './stream-base.ts';
import { SotwStream } from './stream-sotw.ts';
import { DeltaStream } from './stream-delta.ts';
import { WatchIndex } from './watch-index.ts';
import { NameListCache } from './name-lists.ts';
import type { PeerIdentity } from './peer.ts';
import { DEFAULT_RECEIVE_WINDOWS, WindowTuner, stopUploadAfterStatus, type ReceiveWindows } from './flow-control.ts';
import type { DepartedNode, NodeStatus, XdsNode, XdsServerEvents } from './status.ts';
import { TYPE, silentLogger, type Logger } from './types.ts';
import { QUIET_GC_DEFAULTS, QuietGc, type QuietGcOptions } from './quiet-gc.ts';
import { defaultAuthorizeSecret, type SecretDecision, type SecretInfo } from './secret-access.ts';

/** Refusals remembered for logging each once; past this many the memory starts over (and repeats may be logged). */
const MAX_LOGGED_REFUSALS = 10_000;

export interface XdsServerOptions {
  cache: XdsCache;
  logger?: Logger;
  /** Cache group (node profile) serving this node. Default: 'envoy' for Envoy (user_agent_name or metadata
   *  meshgate_profile), else 'grpc'. */
  groupFor?(node: XdsNode): string;
  /** Whether `node` may receive Secret `secretName`: true, or false / `{ refuse: reason }` to withhold it (the node
   *  is answered as if it did not exist; the reason shows in nodes() and is logged once per node and Secret).
   *  `peer` holds the client certificate's SANs under mTLS; `info.holdsKey` says whether the Secret carries key
   *  material (anything but a trust bundle). Default: trust bundles for every node, key material only to clients
   *  whose certificate the port verified (see secret-access.ts). */
  authorizeSecret?(node: XdsNode, secretName: string, peer: PeerIdentity | undefined, info: SecretInfo): SecretDecision;
  /** Cap on resource names one stream may subscribe to (default 100,000); beyond it the stream is closed with
   *  RESOURCE_EXHAUSTED. */
  maxNamesPerStream?: number;
  /** Largest request message accepted (bytes, default 4 MiB); a larger one ends its stream with RESOURCE_EXHAUSTED
   *  before it is decoded. A SotW request naming 100,000 resources of about 20 characters is 2.2 MB. */
  maxRequestBytes?: number;
  /** How long a stream may have a response waiting that its client does not read (grpc-js backpressure) before
   *  the stream is closed and its buffers freed (default 60 s; 0 never closes it). */
  stalledStreamMs?: number;
  /** Close streams that request an unknown type URL with INVALID_ARGUMENT (default: ignore them, log at debug). */
  rejectUnknownTypes?: boolean;
  /** While a stream's latest response of a type awaits its ACK/NACK, further changes wait and merge (one response
   *  per round trip, not one per change); after this many ms without an answer they are sent anyway (default 1000). */
  ackWaitMs?: number;
  /** HTTP/2 receive windows of each client connection (default 8 MiB per connection, 1 MiB per stream; 0 keeps
   *  the protocol's 65,535 bytes). Large SotW ACKs from many proxies on one connection need more than 64 KB. */
  receiveWindows?: Partial<ReceiveWindows>;
  /** How long a node that left with NACKs on record stays on departedNodes() (default 5 minutes; 0 keeps none). */
  departedRetentionMs?: number;
  /** Cap on departedNodes() entries; the oldest departure goes first (default 1,000). */
  departedMax?: number;
  /** Cap on open client connections (TCP, before TLS and HTTP/2; default 10,000). A connection past it is closed
   *  as soon as it is accepted, before anything is read or allocated for it, and reported by a 'refused' event;
   *  connections already open are unaffected. 0: no cap. */
  maxConnections?: number;
  /** Cap on concurrent streams per connection, announced as HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (default 1,000);
   *  clients queue streams past it, and streams a client opens regardless are refused (RST_STREAM REFUSED_STREAM). */
  maxStreamsPerConnection?: number;
  /** One full garbage collection once the port is quiet after this many bytes came in (quiet-gc.ts; default 16 MiB
   *  within 5 s periods; afterBytes 0 never). */
  quietGc?: Partial<QuietGcOptions>;
  /** Extra grpc-js server options. */
  grpcOptions?: grpc.ServerOptions;
}

export function defaultGroupFor(node: XdsNode): string {
  if (node.user_agent_name === 'envoy') return 'envoy';
  if (node.metadata?.fields?.meshgate_profile?.string_value === 'envoy') return 'envoy';
  return 'grpc';
}

interface MethodSpec {
  service: string;
  method: string;
  delta: boolean;
  fixedType?: string;
}

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const METHODS: MethodSpec[] = [
  { service: ADS, method: 'StreamAggregatedResources', delta: false },
  { service: ADS, method: 'DeltaAggregatedResources', delta: true },
  ...(
    [
      ['envoy.service.cluster.v3.ClusterDiscoveryService', 'Clusters', TYPE.cluster],
      ['envoy.service.endpoint.v3.EndpointDiscoveryService', 'Endpoints', TYPE.endpoint],
      ['envoy.service.listener.v3.ListenerDiscoveryService', 'Listeners', TYPE.listener],
      ['envoy.service.route.v3.RouteDiscoveryService', 'Routes', TYPE.route],
      ['envoy.service.secret.v3.SecretDiscoveryService', 'Secrets', TYPE.secret],
    ] as const
  ).flatMap(([service, suffix, fixedType]) => [
    { service, method: `Stream${suffix}`, delta: false, fixedType },
    { service, method: `Delta${suffix}`, delta: true, fixedType },
  ]),
];

/** `nameLists`: SotW only; repeated resource_names lists are decoded once (see name-lists.ts). */
export function requestDeserializer(messageName: string, nameLists?: NameListCache): (buf: Buffer) => unknown {
  const type = messageType(messageName);
  const opts = { ...TO_OBJECT, json: false, arrays: true, objects: true };
  return (buf: Buffer) => {
    try {
      const split = nameLists?.split(buf);
      if (!split) return type.toObject(type.decode(buf), opts);
      const obj = type.toObject(type.decode(split.rest), opts);
      obj.resource_names = split.names;
      return obj;
    } catch (err) {
      return new DecodeFailure((err as Error).message);
    }
  };
}

const identity = (b: Buffer): Buffer => b;

/** Default of XdsServerOptions.maxRequestBytes. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Default of XdsServerOptions.maxConnections: ten times the proxies one meshgate is benchmarked with, and far
 *  below the file descriptors Node raises its limit to, so a flood is refused before accept() fails (EMFILE). */
export const MAX_CONNECTIONS = 10_000;
/** Default of XdsServerOptions.maxStreamsPerConnection: a proxy opens one ADS stream, or one per type and per SDS
 *  Secret without ADS; a gRPC proxy that multiplexes many clients onto one connection needs more. */
export const MAX_STREAMS_PER_CONNECTION = 1000;
/** Refusals are logged at most this often (each line counts those since the last). */
const REFUSAL_LOG_MS = 60_000;

/** The soft limit on open files of this process (Linux), or undefined where it cannot be read. */
function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export class XdsServer extends EventEmitter<XdsServerEvents> {
  readonly cache: XdsCache;
  readonly #log: Logger;
  readonly #server: grpc.Server;
  readonly #streams = new Set<StreamBase>();
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #index = new WatchIndex<StreamBase>();
  readonly #host: StreamHost;
  readonly #onChange: (e: CacheChangeEvent) => void;
  readonly #onReady: () => void;
  readonly #windows: WindowTuner;
  /** Shared name sets per decoded request list (see #nameSet); entries go with the list. */
  readonly #nameSets = new WeakMap<readonly string[], Map<string, Set<string>>>();
  /** The canonical shared name set per group and type for delta streams (see #shareNames); held weakly. */
  readonly #sharedNames = new Map<string, WeakRef<Set<string>>>();
  /** Nodes that left with NACKs on record, oldest departure first (Map order); see departedNodes(). */
  readonly #departed = new Map<string, { at: number; node: DepartedNode }>();
  readonly #departedRetentionMs: number;
  readonly #departedMax: number;
  /** node id, Secret name and reason of each refusal already logged. */
  readonly #loggedRefusals = new Set<string>();
  readonly #maxConnections: number;
  /** The listening sockets (one per listen()), and what grpc-js takes their connections through. */
  readonly #listeners: Array<{ tcp: net.Server; injector: grpc.ConnectionInjector }> = [];
  #connections = 0;
  #refusedConnections = 0;
  /** Open client sockets, and the bytes read on those already closed: the port's inbound total. */
  readonly #sockets = new Set<net.Socket>();
  #closedBytesRead = 0;
  readonly #quietGc: QuietGc;
  /** Refusals since the last log line, and when that was. */
  #refusalsUnlogged = 0;
  #refusalLoggedAt = 0;
  #closed = false;

  constructor(opts: XdsServerOptions) {
    super();
    this.cache = opts.cache;
    this.#log = opts.logger?.child?.({ component: 'xds-server' }) ?? opts.logger ?? silentLogger;
    const groupFor = opts.groupFor ?? defaultGroupFor;
    const authorize = opts.authorizeSecret ?? defaultAuthorizeSecret;
    if (opts.ackWaitMs !== undefined && !(Number.isFinite(opts.ackWaitMs) && opts.ackWaitMs >= 0)) {
      throw new TypeError(
        `XdsServer option ackWaitMs must be a number of milliseconds >= 0, got ${String(opts.ackWaitMs)}`,
      );
    }
    for (const [k, v] of [
      ['departedRetentionMs', opts.departedRetentionMs],
      ['departedMax', opts.departedMax],
      ['stalledStreamMs', opts.stalledStreamMs],
    ] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0))
        throw new TypeError(`XdsServer option ${k} must be an integer >= 0, got ${String(v)}`);
    }
    if (
      opts.maxRequestBytes !== undefined &&
      !(Number.isInteger(opts.maxRequestBytes) && opts.maxRequestBytes >= 1024 && opts.maxRequestBytes <= 2 ** 31 - 1)
    ) {
      throw new TypeError(
        `XdsServer option maxRequestBytes must be an integer between 1024 and ${2 ** 31 - 1}, got ${String(opts.maxRequestBytes)}`,
      );
    }
    for (const [k, v, min] of [
      ['maxConnections', opts.maxConnections, 0],
      ['maxStreamsPerConnection', opts.maxStreamsPerConnection, 1],
    ] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= 2 ** 31 - 1))
        throw new TypeError(
          `XdsServer option ${k} must be an integer between ${min} and ${2 ** 31 - 1}, got ${String(v)}`,
        );
    }
    this.#maxConnections = opts.maxConnections ?? MAX_CONNECTIONS;
    this.#quietGc = new QuietGc(
      () => {
        let n = this.#closedBytesRead;
        for (const s of this.#sockets) n += s.bytesRead;
        return n;
      },
      { ...QUIET_GC_DEFAULTS, ...opts.quietGc },
      this.#log,
    );
    this.#departedRetentionMs = opts.departedRetentionMs ?? 5 * 60_000;
    this.#departedMax = opts.departedMax ?? 1000;
    this.#windows = new WindowTuner({ ...DEFAULT_RECEIVE_WINDOWS, ...opts.receiveWindows });
    this.#host = {
      cache: this.cache,
      index: this.#index,
      log: this.#log,
      maxNamesPerStream: opts.maxNamesPerStream ?? 100_000,
      rejectUnknownTypes: opts.rejectUnknownTypes ?? false,
      ackWaitMs: opts.ackWaitMs ?? ACK_WAIT_MS,
      stalledStreamMs: opts.stalledStreamMs ?? STALLED_STREAM_MS,
      groupFor,
      nameSet: (group, typeUrl, list) => this.#nameSet(group, typeUrl, list),
      shareNames: (group, typeUrl, names) => this.#shareNames(group, typeUrl, names),
      authorizeSecret: authorize,
      firstRefusal: (node, name, reason) => {
        const key = `${node}\0${name}\0${reason}`;
        if (this.#loggedRefusals.has(key)) return false;
        if (this.#loggedRefusals.size >= MAX_LOGGED_REFUSALS) this.#loggedRefusals.clear();
        this.#loggedRefusals.add(key);
        return true;
      },
      registerNode: (s) => this.#registerNode(s),
      releaseNode: (s) => this.#releaseNode(s),
      emitEvent: (name, ...args) => {
        try {
          (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args);
        } catch (err) {
          this.#log.error({ event: name, err: (err as Error).message }, 'an xds server event listener threw');
        }
      },
    };
    this.#server = new grpc.Server({
      // Checked by grpc-js before anything is decoded or buffered past this size: a 10 MB request costs nothing.
      'grpc.max_receive_message_length': opts.maxRequestBytes ?? MAX_REQUEST_BYTES,
      // Server pings find clients that vanished without closing (killed pods), so their state is freed.
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.max_concurrent_streams': opts.maxStreamsPerConnection ?? MAX_STREAMS_PER_CONNECTION,
      ...opts.grpcOptions,
    });
    this.#registerServices();
    this.#onChange = (e) => {
      this.#index.notify(
        e.group,
        e.typeUrl,
        e.changed.length && e.removed.length ? [...e.changed, ...e.removed] : e.changed.length ? e.changed : e.removed,
      );
    };
    this.#onReady = () => {
      for (const s of this.#streams) s.schedule();
    };
    this.cache.on('change', this.#onChange);
    this.cache.on('ready', this.#onReady);
  }

  #registerServices(): void {
    const byService = new Map<string, MethodSpec[]>();
    for (const m of METHODS) byService.set(m.service, [...(byService.get(m.service) ?? []), m]);
    const sotwDecode = requestDeserializer('envoy.service.discovery.v3.DiscoveryRequest', new NameListCache());
    const deltaDecode = requestDeserializer('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    for (const [service, methods] of byService) {
      const definition: Record<string, grpc.MethodDefinition<unknown, Buffer>> = {};
      const impl: grpc.UntypedServiceImplementation = {};
      for (const m of methods) {
        const path = `/${service}/${m.method}`;
        definition[m.method] = {
          path,
          requestStream: true,
          responseStream: true,
          requestSerialize: identity as (v: unknown) => Buffer,
          requestDeserialize: m.delta ? deltaDecode : sotwDecode,
          responseSerialize: identity,
          responseDeserialize: identity,
          originalName: m.method,
        };
        impl[m.method] = ((call: DuplexCall) => this.#accept(call, path, m)) as grpc.handleBidiStreamingCall<
          unknown,
          Buffer
        >;
      }
      this.#server.addService(definition as grpc.ServiceDefinition, impl);
    }
  }

  #accept(call: DuplexCall, path: string, m: MethodSpec): void {
    if (this.#closed) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'xDS server is shutting down' });
      return;
    }
    // tune() answers false once, on the first call that finds grpc-js's internals moved; it stops trying after that.
    if (!this.#windows.tune(call)) {
      this.#log.warn(
        {},
        'could not raise HTTP/2 receive windows (this @grpc/grpc-js version hides the session); large SotW ACKs may be delayed',
      );
    }
    stopUploadAfterStatus(call);
    try {
      const stream = m.delta
        ? new DeltaStream(this.#host, call, path, m.fixedType)
        : new SotwStream(this.#host, call, path, m.fixedType);
      this.#streams.add(stream);
      const forget = (): void => {
        this.#streams.delete(stream);
      };
      call.on('close', forget);
      call.on('cancelled', forget);
      call.on('finish', forget);
      call.on('error', forget);
    } catch (err) {
      this.#log.error({ err: (err as Error).stack }, 'could not start an xds stream');
      call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error starting the stream' });
    }
  }

  #nameSet(group: string, typeUrl: string, list: readonly string[]): Set<string> {
    const build = (): Set<string> => {
      const set = new Set<string>();
      // Hold the cache's own name strings, not this request's copies: one string per name, not per stream.
      for (const n of list) if (n !== '*') set.add(this.cache.get(group, typeUrl, n)?.name ?? n);
      return set;
    };
    // Lists decoded by the name-list cache are frozen and shared by every request that carried the same bytes, so
    // a thousand gateways naming the same thousand assignments share one Set.
    if (!Object.isFrozen(list) || list.length === 0) return build();
    const key = `${group}\0${typeUrl}`;
    let byKey = this.#nameSets.get(list);
    if (!byKey) this.#nameSets.set(list, (byKey = new Map()));
    let set = byKey.get(key);
    if (!set) byKey.set(key, (set = build()));
    return set;
  }

  #shareNames(group: string, typeUrl: string, names: Set<string>): Set<string> {
    // One canonical set per group and type (typically "every assignment" for gateways on delta); the first stream's
    // own set becomes it. Comparing costs one pass over the names, once per subscription change.
    const key = `${group}\0${typeUrl}`;
    const cur = this.#sharedNames.get(key)?.deref();
    if (cur && cur !== names && cur.size === names.size) {
      let same = true;
      for (const n of names) {
        if (!cur.has(n)) {
          same = false;
          break;
        }
      }
      if (same) return cur;
    }
    if (cur !== names) this.#sharedNames.set(key, new WeakRef(names));
    return names;
  }

  #registerNode(s: StreamBase): NodeEntry {
    const id = s.node!.id;
    let e = this.#nodes.get(id);
    if (!e) {
      e = {
        node: s.node!,
        group: s.group,
        connectedSince: Date.now(),
        streams: new Set(),
        types: new Map(),
        peer: s.peer,
        refusedSecrets: new Map(),
      };
      this.#nodes.set(id, e);
    }
    e.streams.add(s);
    return e;
  }

  #releaseNode(s: StreamBase): void {
    this.#streams.delete(s);
    const id = s.node!.id;
    const e = this.#nodes.get(id);
    if (!e) return;
    e.streams.delete(s);
    if (e.streams.size === 0) {
      this.#nodes.delete(id);
      this.#rememberDeparture(e);
    }
  }

  /**
   * A node that leaves while its types carry NACKs may have left because of them (a client that
   * cannot use its config often gives up or crash-loops), and its live status goes with it; so
   * its NACKs stay visible for a while. Bounded in time and count, so clients that come and go
   * cannot grow it without limit; nodes without NACKs leave nothing behind.
   */
  #rememberDeparture(e: NodeEntry): void {
    if (this.#departedRetentionMs === 0 || this.#departedMax === 0) return;
    const nacks = [...e.types.values()]
      .filter((t) => t.lastNack)
      .map((t) => ({
        typeUrl: t.typeUrl,
        type: t.type,
        ...t.lastNack!,
        names: [...t.lastNack!.names],
        ...(t.lastAckedAt && t.lastAckedAt > t.lastNack!.at ? { ackedAfter: t.lastAckedAt } : {}),
      }))
      .sort((a, b) => a.type.localeCompare(b.type));
    if (nacks.length === 0) return;
    const now = Date.now();
    const id = e.node.id;
    // Re-inserted, so Map order stays departure order when a node leaves twice.
    this.#departed.delete(id);
    this.#departed.set(id, {
      at: now,
      node: {
        id,
        cluster: e.node.cluster ?? '',
        group: e.group,
        userAgent: [e.node.user_agent_name, e.node.user_agent_version].filter(Boolean).join('/'),
        connectedSince: new Date(e.connectedSince).toISOString(),
        disconnectedAt: new Date(now).toISOString(),
        ...(e.peer ? { peer: { uriSans: [...e.peer.uriSans], dnsSans: [...e.peer.dnsSans] } } : {}),
        nacks,
      },
    });
    for (const k of this.#departed.keys()) {
      if (this.#departed.size <= this.#departedMax) break;
      this.#departed.delete(k);
    }
    this.#pruneDeparted(now);
  }

  #pruneDeparted(now: number): void {
    for (const [k, v] of this.#departed) {
      if (now - v.at < this.#departedRetentionMs) break;
      this.#departed.delete(k);
    }
  }

  /** Nodes that left with NACKs on record within the retention time, most recent departure first. */
  departedNodes(): DepartedNode[] {
    this.#pruneDeparted(Date.now());
    return [...this.#departed.values()].reverse().map((v) => structuredClone(v.node));
  }

  /**
   * Binds and starts serving; resolves with the bound port (pass 0 for a free one). The socket is meshgate's own and
   * its connections are handed to grpc-js (a connection injector, so TLS and HTTP/2 are still grpc-js's), which lets
   * the server count connections and refuse those past maxConnections at accept, before TLS or HTTP/2 cost anything.
   */
  listen(
    port: number,
    host = '0.0.0.0',
    creds: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
  ): Promise<number> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    const addr = bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
    const limit = openFilesLimit();
    if (this.#maxConnections > 0 && limit !== undefined && this.#maxConnections + 256 > limit) {
      this.#log.warn(
        { maxConnections: this.#maxConnections, openFilesLimit: limit },
        'xds.maxConnections is close to or above the open-files limit (ulimit -n): accepting connections may fail before the cap refuses them; raise the limit or lower xds.maxConnections',
      );
    }
    const injector = this.#server.createConnectionInjector(creds);
    const tcp = net.createServer();
    if (this.#maxConnections > 0) tcp.maxConnections = this.#maxConnections;
    tcp.on('connection', (socket: net.Socket) => {
      this.#connections++;
      this.#sockets.add(socket);
      socket.once('close', () => {
        this.#connections--;
        this.#sockets.delete(socket);
        this.#closedBytesRead += socket.bytesRead;
      });
      injector.injectConnection(socket);
    });
    tcp.on('drop', (d?: { remoteAddress?: string }) => this.#refuse(d?.remoteAddress));
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        injector.destroy();
        reject(new Error(`xDS server could not listen on ${addr}: ${err.message}`));
      };
      tcp.once('error', onError);
      tcp.listen(port, bare, () => {
        tcp.off('error', onError);
        tcp.on('error', (err) => this.#log.error({ address: addr, err: err.message }, 'xds server socket error'));
        this.#listeners.push({ tcp, injector });
        this.#quietGc.start();
        const bound = (tcp.address() as net.AddressInfo).port;
        this.#log.info({ address: addr, port: bound, maxConnections: this.#maxConnections }, 'xds server listening');
        resolve(bound);
      });
    });
  }

  /** A connection past maxConnections was closed at accept. */
  #refuse(remoteAddress: string | undefined): void {
    this.#refusedConnections++;
    this.#refusalsUnlogged++;
    const now = Date.now();
    if (now - this.#refusalLoggedAt >= REFUSAL_LOG_MS) {
      this.#log.warn(
        {
          refused: this.#refusalsUnlogged,
          lastFrom: remoteAddress,
          connections: this.#connections,
          maxConnections: this.#maxConnections,
        },
        'refusing xDS connections: xds.maxConnections reached (connections already open are served; raise the limit if these are real clients)',
      );
      this.#refusalLoggedAt = now;
      this.#refusalsUnlogged = 0;
    }
    this.emit('refused', {
      remoteAddress: remoteAddress ?? '',
      connections: this.#connections,
      limit: this.#maxConnections,
    });
  }

  /** Ends every stream (UNAVAILABLE, so clients reconnect elsewhere) and stops the server. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.cache.off('change', this.#onChange);
    this.cache.off('ready', this.#onReady);
    for (const s of [...this.#streams]) s.fail(grpc.status.UNAVAILABLE, 'xDS server is shutting down');
    this.#streams.clear();
    for (const { tcp } of this.#listeners) tcp.close();
    this.#quietGc.stop();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 2000);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    for (const { injector } of this.#listeners) injector.destroy();
  }

  /** Per-node status as JSON-friendly objects. */
  nodes(): NodeStatus[] {
    const out: NodeStatus[] = [];
    for (const e of this.#nodes.values()) {
      const types = [...e.types.values()].map((t) => ({
        ...t,
        lastNack: t.lastNack ? { ...t.lastNack, names: [...t.lastNack.names] } : undefined,
      }));
      for (const t of types) {
        t.resources = 0;
        for (const s of e.streams) t.resources += s.heldCount(t.typeUrl);
        if (!t.lastNack) delete t.lastNack;
      }
      out.push({
        id: e.node.id,
        cluster: e.node.cluster ?? '',
        group: e.group,
        userAgent: [e.node.user_agent_name, e.node.user_agent_version].filter(Boolean).join('/'),
        connectedSince: new Date(e.connectedSince).toISOString(),
        streams: e.streams.size,
        ...(e.peer ? { peer: { uriSans: [...e.peer.uriSans], dnsSans: [...e.peer.dnsSans] } } : {}),
        types: types.sort((a, b) => a.type.localeCompare(b.type)),
        ...(e.refusedSecrets.size
          ? {
              refusedSecrets: [...e.refusedSecrets]
                .map(([name, r]) => ({ name, reason: r.reason, since: new Date(r.at).toISOString() }))
                .sort((a, b) => a.name.localeCompare(b.name)),
            }
          : {}),
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Decides again, for every stream, which subscribed Secrets it may have: call it when the rules behind
   * authorizeSecret change without the Secrets themselves changing (e.g. a reload that edits who may fetch one).
   * Newly allowed Secrets are sent; newly refused ones are removed from delta clients (SotW has no way to say so).
   */
  recheckSecrets(): void {
    for (const s of this.#streams) s.recheck(TYPE.secret);
  }

  /** Internal sizes, for leak checks in tests and the admin API. */
  stats(): {
    streams: number;
    nodes: number;
    departed: number;
    index: ReturnType<WatchIndex<StreamBase>['size']>;
    /** Client connections open now, and those refused (maxConnections) since start. */
    connections: number;
    refusedConnections: number;
    /** Collections run by the quiet-port collector (quiet-gc.ts). */
    quietCollections: number;
  } {
    return {
      connections: this.#connections,
      refusedConnections: this.#refusedConnections,
      quietCollections: this.#quietGc.collections,
      streams: this.#streams.size,
      nodes: this.#nodes.size,
      departed: this.#departed.size,
      index: this.#index.size(),
    };
  }
}
