import * as grpc from '@grpc/grpc-js';
import { LinkerdError, redact } from './errors.ts';
import {
  type TcpAddress,
  type Update,
  type WeightedAddr,
  decodeUpdate,
  encodeGetDestination,
} from './destination-proto.ts';

const GET_PATH = '/io.linkerd.proxy.destination.Destination/Get';

/** What a Destination subscription currently says about one authority. */
export interface DestinationState {
  /** `<svc>.<ns>.svc.<cluster-domain>:<port>` */
  authority: string;
  /** False until the first message of the first stream. */
  synced: boolean;
  /** undefined until known; false when the controller says the Service does not exist (no_endpoints{exists:false}). */
  exists: boolean | undefined;
  /** Keyed by "ip:port" (IPv6 as "[ip]:port"). */
  endpoints: ReadonlyMap<string, WeightedAddr>;
  /** Set while the stream is down; the endpoints above are then the last known ones. */
  lastError?: string;
}

export interface DestinationWatchOptions {
  /** host:port of the destination controller (in a cluster: linkerd-dst-headless.<linkerd-ns>.svc.<domain>:8086). */
  address: string;
  /** `<svc>.<ns>.svc.<cluster-domain>:<port>` */
  authority: string;
  /** JSON {"ns":..,"nodeName":..,"pod":..}, as a proxy sends from LINKERD2_PROXY_DESTINATION_CONTEXT. */
  contextToken?: string;
  /** Plaintext only for a controller without a proxy in front of it; TLS needs credentials from the caller. */
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  /** Called after every message that changed the state, and when the stream fails. */
  onChange: (state: DestinationState) => void;
  /** Backoff between reconnects: min, doubled up to max. Default 250 ms .. 10 s. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** How often to ask again about a Service the controller does not know (it may be created). Default 1 s. */
  notFoundRetryMs?: number;
}

const AUTHORITY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?:\d{1,5}$/;

function key(a: TcpAddress): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/**
 * Follows `Get` for one authority and keeps its endpoint set as the proto's comments define it: `add` adds or
 * replaces, `remove` removes, `no_endpoints` empties (and says whether the Service exists); duplicates and any order
 * are tolerated. After a reconnect the previous set stays until the new stream's first message, which then replaces it
 * (the server sends a message at the start of every subscription), so an outage never empties the gateway.
 */
export class DestinationWatch {
  readonly #o: DestinationWatchOptions;
  readonly #client: grpc.Client;
  #call: grpc.ClientReadableStream<Update> | undefined;
  #endpoints = new Map<string, WeightedAddr>();
  #exists: boolean | undefined;
  #synced = false;
  #lastError: string | undefined;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: DestinationWatchOptions) {
    if (!AUTHORITY.test(o.authority)) {
      throw new LinkerdError(
        'CONFIG_INVALID',
        `Linkerd destination "${o.authority}" is not <service>.<namespace>.svc.<cluster-domain>:<port>, e.g. web.shop.svc.cluster.local:8080`,
      );
    }
    if (typeof o.address !== 'string' || !/^[^\s/]+:\d+$/.test(o.address)) {
      throw new LinkerdError(
        'CONFIG_INVALID',
        `Linkerd destination address "${String(o.address)}" is not host:port, e.g. linkerd-dst-headless.linkerd.svc.cluster.local:8086`,
      );
    }
    this.#o = o;
    this.#client = new grpc.Client(o.address, o.credentials ?? grpc.credentials.createInsecure(), o.channelOptions);
    this.#open();
  }

  state(): DestinationState {
    return {
      authority: this.#o.authority,
      synced: this.#synced,
      exists: this.#exists,
      endpoints: new Map(this.#endpoints),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#call?.cancel();
    this.#client.close();
  }

  #open(): void {
    let first = true;
    const call = this.#client.makeServerStreamRequest(
      GET_PATH,
      (b: Buffer) => b,
      (b: Buffer) => decodeUpdate(b),
      encodeGetDestination({ scheme: 'k8s', path: this.#o.authority, contextToken: this.#o.contextToken }),
    );
    this.#call = call;
    call.on('data', (u: Update) => {
      if (first) {
        // A new subscription's first message is complete for its kind: results of the previous stream are stale now.
        first = false;
        this.#endpoints.clear();
        this.#lastError = undefined;
        this.#failures = 0;
      }
      this.#apply(u);
      this.#synced = true;
      this.#o.onChange(this.state());
    });
    let ended = false;
    const retry = (why: string) => {
      if (ended) return;
      ended = true;
      if (this.#stopped) return;
      this.#lastError = `the Linkerd destination stream for ${this.#o.authority} from ${this.#o.address} failed: ${redact(why)}; keeping the last known endpoints`;
      this.#o.onChange(this.state());
      const min = this.#o.minRetryMs ?? 250;
      const delay = Math.min(this.#o.maxRetryMs ?? 10_000, min * 2 ** Math.min(this.#failures, 10));
      this.#failures++;
      this.#timer = setTimeout(() => this.#open(), delay);
    };
    call.on('error', (err: grpc.ServiceError) => {
      if (this.#stopped && err.code === grpc.status.CANCELLED) return;
      if (err.code === grpc.status.NOT_FOUND && !ended) {
        // Linkerd's controller answers a Service it does not know with NotFound rather than
        // no_endpoints{exists:false}; both are a definite answer, so the stale set goes.
        ended = true;
        this.#endpoints.clear();
        this.#exists = false;
        this.#synced = true;
        this.#lastError = undefined;
        this.#failures = 0;
        this.#o.onChange(this.state());
        if (!this.#stopped) this.#timer = setTimeout(() => this.#open(), this.#o.notFoundRetryMs ?? 1000);
        return;
      }
      retry(`${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`);
    });
    call.on('end', () => retry('the server ended the stream'));
  }

  #apply(u: Update): void {
    switch (u.kind) {
      case 'add':
        for (const a of u.addrs) this.#endpoints.set(key(a), a);
        this.#exists = true;
        break;
      case 'remove':
        for (const a of u.addrs) this.#endpoints.delete(key(a));
        break;
      case 'no_endpoints':
        this.#endpoints.clear();
        this.#exists = u.exists;
        break;
      default:
        break;
    }
  }
}
