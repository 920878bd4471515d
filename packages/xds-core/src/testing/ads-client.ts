/**
 * AdsClient: a small xDS test client (state of the world or delta) over raw grpc-js, for tests, end-to-end
 * suites and the benchmark load generator. It speaks ADS by default, or any per-type method via `method`.
 *
 *   const c = await AdsClient.connect({ address: '127.0.0.1:18000', node: { id: 'gw-1', user_agent_name: 'envoy' },
 *                                       mode: 'sotw' });           // or 'delta'; autoAck defaults to true
 *   c.subscribe(TYPE.cluster, ['*']);        // SotW: adds names to the type's list and sends the whole list
 *                                            //   ([] on the first request = legacy wildcard for LDS/CDS);
 *                                            // delta: resource_names_subscribe (+ options.initialVersions)
 *   c.unsubscribe(TYPE.cluster, ['a']);      // SotW: sends the smaller list; delta: resource_names_unsubscribe
 *   const r = await c.next(TYPE.cluster, 2000);  // next unread response of that type; rejects after 2 s
 *   r.resources  // [{ name, version, object, raw }] decoded to plain objects (snake_case, Any as { '@type', ... });
 *                //   raw: the resource's Any as received (type URL and the untouched value bytes)
 *   r.removed    // delta removed_resources; r.versionInfo, r.nonce, r.bytes (size on the wire)
 *   c.ack(r); c.nack(r, 'why')               // explicit answers (with autoAck: false)
 *   c.held(TYPE.cluster)                     // Map name -> { version, object } as the client holds them now
 *   c.received(TYPE.cluster)                 // number of responses received for the type
 *   await c.quiet(TYPE.endpoint, 300)        // true when no response of that type arrives within 300 ms
 *   c.send({ ...raw request fields })        // anything, for protocol tests (stale nonces, garbage)
 *   onWire: (buf) => ...                     // option: every response's bytes as received, before decoding
 *   c.status                                 // Promise of the stream's final grpc status
 *   c.close()
 *
 * SotW requests carry the latest nonce and the last ACKed version of their type, as Envoy does. The node is sent
 * on the first request only (the server must not rely on seeing it again). `decode: false` skips decoding the
 * resources (load generation): r.resources then carry name/version only (delta) or nothing (SotW).
 */
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { messageType, lookupMessage, TO_OBJECT, envoyRoot } from '../protos.ts';
import { FULL_STATE_TYPES } from '../types.ts';

export interface AdsClientOptions {
  /** host:port of the xDS server. */
  address: string;
  /** envoy.config.core.v3.Node fields (snake_case); `id` is required. */
  node: { id: string; cluster?: string; user_agent_name?: string; metadata?: object; [k: string]: unknown };
  mode?: 'sotw' | 'delta';
  /** ACK every response as it arrives (default true). */
  autoAck?: boolean;
  /** gRPC method path; default the ADS method of `mode`. */
  method?: string;
  credentials?: grpc.ChannelCredentials;
  /** Decode resources to objects (default true). */
  decode?: boolean;
  /** Deadline for connecting, ms (default 5000). */
  connectTimeoutMs?: number;
  /** Called with every response exactly as it arrived on the wire, before decoding (e.g. to scan for leaks). */
  onWire?: (bytes: Buffer) => void;
}

export interface ReceivedResource {
  name: string;
  version: string;
  object: Record<string, unknown> | undefined;
  /** The resource's google.protobuf.Any as it came off the wire (set when decoding). */
  raw?: { typeUrl: string; value: Uint8Array };
}

export interface AdsResponse {
  typeUrl: string;
  /** version_info (SotW) or system_version_info (delta). */
  versionInfo: string;
  nonce: string;
  resources: ReceivedResource[];
  /** Delta only. */
  removed: string[];
  /** Encoded size of the response message. */
  bytes: number;
}

interface TypeState {
  names: Set<string>;
  nonce: string;
  ackedVersion: string;
  started: boolean;
  held: Map<string, { version: string; object: Record<string, unknown> | undefined }>;
  queue: AdsResponse[];
  waiters: Array<(r: AdsResponse) => void>;
  count: number;
}

const ADS_SOTW = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const ADS_DELTA = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

export class AdsClient {
  readonly mode: 'sotw' | 'delta';
  readonly autoAck: boolean;
  /** Resolves with the stream's final status (also on errors); never rejects. */
  readonly status: Promise<grpc.StatusObject>;
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<object, Buffer>;
  readonly #node: AdsClientOptions['node'];
  readonly #decode: boolean;
  readonly #types = new Map<string, TypeState>();
  readonly #reqType: protobuf.Type;
  readonly #respType: protobuf.Type;
  #nodeSent = false;
  #ended = false;

  private constructor(opts: AdsClientOptions) {
    envoyRoot();
    this.mode = opts.mode ?? 'sotw';
    this.autoAck = opts.autoAck ?? true;
    this.#node = opts.node;
    this.#decode = opts.decode ?? true;
    this.#reqType = messageType(
      this.mode === 'delta'
        ? 'envoy.service.discovery.v3.DeltaDiscoveryRequest'
        : 'envoy.service.discovery.v3.DiscoveryRequest',
    );
    this.#respType = messageType(
      this.mode === 'delta'
        ? 'envoy.service.discovery.v3.DeltaDiscoveryResponse'
        : 'envoy.service.discovery.v3.DiscoveryResponse',
    );
    this.#client = new grpc.Client(opts.address, opts.credentials ?? grpc.credentials.createInsecure());
    const reqType = this.#reqType;
    this.#call = this.#client.makeBidiStreamRequest(
      opts.method ?? (this.mode === 'delta' ? ADS_DELTA : ADS_SOTW),
      (o: object) => Buffer.from(reqType.encode(reqType.fromObject(o)).finish()),
      (b: Buffer) => b,
    );
    this.status = new Promise((resolve) => {
      this.#call.on('status', (s: grpc.StatusObject) => resolve(s));
    });
    this.#call.on('error', () => {
      /* surfaced through `status` */
    });
    const onWire = opts.onWire;
    this.#call.on('data', (buf: Buffer) => {
      onWire?.(buf);
      this.#onResponse(buf);
    });
    this.#call.on('end', () => {
      this.#ended = true;
    });
  }

  /** Opens the stream once the channel is ready (throws after connectTimeoutMs). */
  static async connect(opts: AdsClientOptions): Promise<AdsClient> {
    const c = new AdsClient(opts);
    await new Promise<void>((resolve, reject) => {
      c.#client.waitForReady(Date.now() + (opts.connectTimeoutMs ?? 5000), (err) =>
        err ? reject(new Error(`cannot reach xDS server ${opts.address}: ${err.message}`)) : resolve(),
      );
    });
    return c;
  }

  #type(typeUrl: string): TypeState {
    let t = this.#types.get(typeUrl);
    if (!t) {
      t = {
        names: new Set(),
        nonce: '',
        ackedVersion: '',
        started: false,
        held: new Map(),
        queue: [],
        waiters: [],
        count: 0,
      };
      this.#types.set(typeUrl, t);
    }
    return t;
  }

  /** Sends a raw request object (DiscoveryRequest or DeltaDiscoveryRequest fields, snake_case). */
  send(req: Record<string, unknown>): void {
    if (this.#ended) return;
    const withNode = this.#nodeSent || 'node' in req ? req : { ...req, node: this.#node };
    this.#nodeSent = true;
    this.#call.write(withNode);
  }

  subscribe(typeUrl: string, names: string[], options: { initialVersions?: Record<string, string> } = {}): void {
    const t = this.#type(typeUrl);
    for (const n of names) t.names.add(n);
    if (this.mode === 'delta') {
      const req: Record<string, unknown> = { type_url: typeUrl, resource_names_subscribe: names };
      if (!t.started && options.initialVersions) req.initial_resource_versions = options.initialVersions;
      t.started = true;
      this.send(req);
    } else {
      t.started = true;
      this.#sendSotw(typeUrl, t);
    }
  }

  unsubscribe(typeUrl: string, names: string[]): void {
    const t = this.#type(typeUrl);
    for (const n of names) {
      t.names.delete(n);
      if (!FULL_STATE_TYPES.has(typeUrl) || this.mode === 'delta') t.held.delete(n);
    }
    if (this.mode === 'delta') this.send({ type_url: typeUrl, resource_names_unsubscribe: names });
    else this.#sendSotw(typeUrl, t);
  }

  #sendSotw(
    typeUrl: string,
    t: TypeState,
    errorDetail?: { code: number; message: string },
    version = t.ackedVersion,
  ): void {
    const req: Record<string, unknown> = {
      type_url: typeUrl,
      version_info: version,
      resource_names: [...t.names],
      response_nonce: t.nonce,
    };
    if (errorDetail) req.error_detail = errorDetail;
    this.send(req);
  }

  ack(r: AdsResponse): void {
    const t = this.#type(r.typeUrl);
    if (this.mode === 'delta') {
      this.send({ type_url: r.typeUrl, response_nonce: r.nonce });
      return;
    }
    t.ackedVersion = r.versionInfo;
    this.#sendSotw(r.typeUrl, t, undefined, r.versionInfo);
  }

  nack(r: AdsResponse, message = 'rejected by test client'): void {
    const t = this.#type(r.typeUrl);
    const errorDetail = { code: 3, message };
    if (this.mode === 'delta') this.send({ type_url: r.typeUrl, response_nonce: r.nonce, error_detail: errorDetail });
    else this.#sendSotw(r.typeUrl, t, errorDetail);
  }

  /** The next unread response of `typeUrl`; rejects when none arrives within timeoutMs. */
  next(typeUrl: string, timeoutMs = 5000): Promise<AdsResponse> {
    const t = this.#type(typeUrl);
    const queued = t.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        t.waiters.splice(t.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${typeUrl.slice(typeUrl.lastIndexOf('.') + 1)} response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: AdsResponse): void => {
        clearTimeout(timer);
        resolve(r);
      };
      t.waiters.push(waiter);
    });
  }

  /** Unread responses of a type (already received, not yet taken by next()). */
  pending(typeUrl: string): number {
    return this.#type(typeUrl).queue.length;
  }

  /** True when no response of `typeUrl` arrives within `ms` (unread ones count as arrivals). */
  async quiet(typeUrl: string, ms: number): Promise<boolean> {
    if (this.pending(typeUrl)) return false;
    try {
      const r = await this.next(typeUrl, ms);
      this.#type(typeUrl).queue.unshift(r);
      return false;
    } catch {
      return true;
    }
  }

  received(typeUrl: string): number {
    return this.#type(typeUrl).count;
  }

  held(typeUrl: string): Map<string, { version: string; object: Record<string, unknown> | undefined }> {
    return new Map(this.#type(typeUrl).held);
  }

  close(): void {
    this.#ended = true;
    try {
      this.#call.cancel();
    } catch {
      /* already closed */
    }
    this.#client.close();
  }

  #decodeAny(any: { type_url: string; value: Uint8Array }): Record<string, unknown> | undefined {
    if (!this.#decode) return undefined;
    const type = lookupMessage(any.type_url);
    if (!type) return undefined;
    return type.toObject(type.decode(any.value), TO_OBJECT) as Record<string, unknown>;
  }

  #onResponse(buf: Buffer): void {
    const msg = this.#respType.decode(buf) as unknown as {
      version_info?: string;
      system_version_info?: string;
      type_url: string;
      nonce: string;
      resources: Array<
        | { type_url: string; value: Uint8Array }
        | { name: string; version: string; resource?: { type_url: string; value: Uint8Array } }
      >;
      removed_resources?: string[];
    };
    const typeUrl = msg.type_url;
    const t = this.#type(typeUrl);
    const resources: ReceivedResource[] = [];
    if (this.mode === 'delta') {
      for (const r of msg.resources as Array<{
        name: string;
        version: string;
        resource?: { type_url: string; value: Uint8Array };
      }>) {
        resources.push({
          name: r.name,
          version: r.version,
          object: r.resource ? this.#decodeAny(r.resource) : undefined,
          raw: r.resource && this.#decode ? { typeUrl: r.resource.type_url, value: r.resource.value } : undefined,
        });
      }
    } else if (this.#decode) {
      for (const any of msg.resources as Array<{ type_url: string; value: Uint8Array }>) {
        const object = this.#decodeAny(any);
        const name = String(object?.name ?? object?.cluster_name ?? '');
        resources.push({ name, version: '', object, raw: { typeUrl: any.type_url, value: any.value } });
      }
    }
    const r: AdsResponse = {
      typeUrl,
      versionInfo: (this.mode === 'delta' ? msg.system_version_info : msg.version_info) ?? '',
      nonce: msg.nonce,
      resources,
      removed: msg.removed_resources ?? [],
      bytes: buf.length,
    };
    t.count++;
    t.nonce = r.nonce;
    if (this.mode === 'sotw' && FULL_STATE_TYPES.has(typeUrl)) t.held.clear();
    for (const res of resources) t.held.set(res.name, { version: res.version, object: res.object });
    for (const n of r.removed) t.held.delete(n);
    if (this.autoAck) this.ack(r);
    const w = t.waiters.shift();
    if (w) w(r);
    else t.queue.push(r);
  }
}
