// A load generator that behaves like many Envoy proxies on ADS (SotW or delta): it subscribes to
// CDS and LDS by wildcard, then to EDS and RDS by the names those returned, ACKs every response,
// and records per stream the bytes and messages it received, when it first held the full config,
// and for every endpoint change the driver announces, the time from the change to its ACK.
// Many streams share a few HTTP/2 connections, as many proxies behind a few load balancer connections
// would. The transport is h2grpc.ts (gRPC framing on node:http2), so the generator's own cost per message
// stays small next to the servers'.
import { performance } from 'node:perf_hooks';
import {
  assignmentPorts,
  clusterEdsName,
  decodeDeltaResponse,
  decodeSotwResponse,
  encodeDeltaRequest,
  encodeNames,
  encodeSotwHead,
  listenerRouteNames,
  type DecodedResponse,
  type NodeInfo,
} from './wire.ts';
import { TYPE } from '@meshgate/xds-core';
import { H2Connection, type H2Call } from './h2grpc.ts';

export type Mode = 'sotw' | 'delta';

const SOTW_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const DELTA_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

/** One announced endpoint change: endpoint port `port` of assignment `name` is its marker. */
export interface Change {
  seq: number;
  name: string;
  port: number;
  t0: number;
  expected: number;
  acked: number;
  lags: number[];
}

/** Matches the assignments streams receive against announced changes by their marker port. */
export class ChangeTracker {
  private seq = 0;
  private readonly byPort = new Map<number, Change>();
  private readonly byName = new Map<string, Change[]>();
  readonly all: Change[] = [];

  /** Call right before asking the server to apply the change; t0 is now. */
  announce(name: string, port: number, expected: number): Change {
    const c: Change = { seq: this.seq++, name, port, t0: performance.now(), expected, acked: 0, lags: [] };
    this.byPort.set(port, c);
    let list = this.byName.get(name);
    if (!list) this.byName.set(name, (list = []));
    list.push(c);
    this.all.push(c);
    return c;
  }

  pending(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * The changes a stream now holds for `name`, given the ports of the assignment it received:
   * the newest announced change whose marker is present, and every older one it superseded.
   */
  resolve(seen: Map<string, number>, name: string, ports: number[]): Change[] {
    let best: Change | undefined;
    for (const p of ports) {
      const c = this.byPort.get(p);
      if (c && c.name === name && (!best || c.seq > best.seq)) best = c;
    }
    if (!best) return [];
    const last = seen.get(name) ?? -1;
    if (best.seq <= last) return [];
    seen.set(name, best.seq);
    return (this.byName.get(name) ?? []).filter((c) => c.seq <= best.seq && c.seq > last);
  }

  record(c: Change, now: number): void {
    c.lags.push(now - c.t0);
    if (++c.acked < c.expected) return;
    this.byPort.delete(c.port);
    const list = this.byName.get(c.name);
    if (!list) return;
    const rest = list.filter((x) => x !== c);
    if (rest.length) this.byName.set(c.name, rest);
    else this.byName.delete(c.name);
  }
}

interface TypeState {
  version: string;
  nonce: string;
}

abstract class SimStream {
  bytes = 0;
  messages = 0;
  acks = 0;
  fullAt = -1;
  /** Worst change -> ACK lag this stream saw, to tell one stuck stream from a slow fleet. */
  maxLag = 0;
  error: string | undefined;
  ended = false;
  protected readonly seen = new Map<string, number>();
  protected readonly edsHave = new Set<string>();
  protected clusterCount = 0;

  /** How far this stream got towards a full config (for a scenario's error message). */
  progress(): string {
    return `${this.clusterCount} clusters, ${this.edsHave.size} assignments, ${this.messages} responses, ${this.bytes} bytes`;
  }
  protected ldsRequested = false;
  protected call!: H2Call;
  protected readonly node: NodeInfo;
  protected readonly expectedServices: number;
  protected readonly tracker: ChangeTracker;

  constructor(node: NodeInfo, expectedServices: number, tracker: ChangeTracker) {
    this.node = node;
    this.expectedServices = expectedServices;
    this.tracker = tracker;
  }

  protected open(conn: H2Connection, path: string): void {
    this.call = conn.call(path, {
      message: (b) => {
        this.bytes += b.length;
        this.messages++;
        try {
          this.onResponse(b);
        } catch (err) {
          this.error ??= `bad response: ${(err as Error).message}`;
        }
      },
      error: (text) => {
        this.error ??= text;
      },
      end: () => {
        this.ended = true;
      },
    });
  }

  protected abstract onResponse(b: Buffer): void;

  /** Changes found in an EDS response, to be stamped when its ACK leaves. */
  protected matchChanges(b: Buffer, res: DecodedResponse): Change[] {
    let hits: Change[] | undefined;
    for (const r of res.resources) {
      if (!this.tracker.pending(r.name)) continue;
      const found = this.tracker.resolve(this.seen, r.name, assignmentPorts(b, r.start, r.end));
      if (found.length) (hits ??= []).push(...found);
    }
    return hits ?? [];
  }

  protected acked(changes: Change[]): void {
    this.acks++;
    if (!changes.length) return;
    const now = performance.now();
    for (const c of changes) {
      this.tracker.record(c, now);
      if (now - c.t0 > this.maxLag) this.maxLag = now - c.t0;
    }
  }

  protected checkFull(): void {
    if (this.fullAt < 0 && this.clusterCount >= this.expectedServices && this.edsHave.size >= this.expectedServices) {
      this.fullAt = performance.now();
    }
  }

  close(): void {
    this.call?.cancel();
  }
}

class SotwStream extends SimStream {
  private readonly state = new Map<string, TypeState>();
  private eds: string[] = [];
  private edsNames: Buffer = Buffer.alloc(0);
  private rds: string[] = [];
  private rdsNames: Buffer = Buffer.alloc(0);
  private readonly empty = Buffer.alloc(0);

  start(conn: H2Connection): void {
    this.open(conn, SOTW_PATH);
    // An empty resource_names list on the first request is the legacy wildcard, as Envoy sends for CDS and LDS.
    this.send(TYPE.cluster, this.empty, true);
  }

  private st(typeUrl: string): TypeState {
    let s = this.state.get(typeUrl);
    if (!s) this.state.set(typeUrl, (s = { version: '', nonce: '' }));
    return s;
  }

  private send(typeUrl: string, names: Buffer, withNode = false): void {
    const s = this.st(typeUrl);
    this.call.write(
      encodeSotwHead({ node: withNode ? this.node : undefined, typeUrl, version: s.version, nonce: s.nonce }),
      names,
    );
  }

  protected onResponse(b: Buffer): void {
    const res = decodeSotwResponse(b);
    const s = this.st(res.typeUrl);
    s.nonce = res.nonce;
    switch (res.typeUrl) {
      case TYPE.cluster: {
        const eds = res.resources.map((r) => clusterEdsName(b, r.start, r.end));
        this.clusterCount = eds.length;
        s.version = res.version;
        if (!sameList(eds, this.eds)) {
          this.eds = eds;
          this.edsNames = encodeNames(3, eds);
          this.send(TYPE.endpoint, this.edsNames);
        }
        this.send(TYPE.cluster, this.empty);
        this.acked([]);
        break;
      }
      case TYPE.endpoint: {
        const changes = this.matchChanges(b, res);
        if (this.fullAt < 0) for (const r of res.resources) this.edsHave.add(r.name);
        s.version = res.version;
        this.send(TYPE.endpoint, this.edsNames);
        this.acked(changes);
        if (!this.ldsRequested) {
          this.ldsRequested = true;
          this.send(TYPE.listener, this.empty);
        }
        break;
      }
      case TYPE.listener: {
        const rds = [...new Set(res.resources.flatMap((r) => listenerRouteNames(b, r.start, r.end)))];
        s.version = res.version;
        if (!sameList(rds, this.rds)) {
          this.rds = rds;
          this.rdsNames = encodeNames(3, rds);
          this.send(TYPE.route, this.rdsNames);
        }
        this.send(TYPE.listener, this.empty);
        this.acked([]);
        break;
      }
      case TYPE.route:
        s.version = res.version;
        this.send(TYPE.route, this.rdsNames);
        this.acked([]);
        break;
      default:
        s.version = res.version;
        this.send(res.typeUrl, this.empty);
    }
    this.checkFull();
  }
}

class DeltaStream extends SimStream {
  private readonly clusters = new Map<string, string>();
  private readonly edsSubs = new Set<string>();
  private readonly listeners = new Map<string, string[]>();
  private readonly rdsSubs = new Set<string>();

  start(conn: H2Connection): void {
    this.open(conn, DELTA_PATH);
    // No names on the first request of a type: the legacy wildcard, as Envoy sends for CDS and LDS.
    this.call.write(encodeDeltaRequest({ node: this.node, typeUrl: TYPE.cluster }));
  }

  private resubscribe(typeUrl: string, subs: Set<string>, want: Set<string>): void {
    const add: string[] = [];
    const drop: string[] = [];
    for (const n of want) if (!subs.has(n)) add.push(n);
    for (const n of subs) if (!want.has(n)) drop.push(n);
    if (!add.length && !drop.length) return;
    for (const n of add) subs.add(n);
    for (const n of drop) subs.delete(n);
    this.call.write(encodeDeltaRequest({ typeUrl, subscribe: add, unsubscribe: drop }));
  }

  private ack(typeUrl: string, nonce: string): void {
    this.call.write(encodeDeltaRequest({ typeUrl, nonce }));
  }

  protected onResponse(b: Buffer): void {
    const res = decodeDeltaResponse(b);
    switch (res.typeUrl) {
      case TYPE.cluster: {
        for (const r of res.resources) this.clusters.set(r.name, clusterEdsName(b, r.start, r.end));
        for (const n of res.removed) this.clusters.delete(n);
        this.clusterCount = this.clusters.size;
        this.resubscribe(TYPE.endpoint, this.edsSubs, new Set(this.clusters.values()));
        this.ack(res.typeUrl, res.nonce);
        this.acked([]);
        break;
      }
      case TYPE.endpoint: {
        const changes = this.matchChanges(b, res);
        for (const r of res.resources) this.edsHave.add(r.name);
        for (const n of res.removed) this.edsHave.delete(n);
        this.ack(res.typeUrl, res.nonce);
        this.acked(changes);
        if (!this.ldsRequested) {
          this.ldsRequested = true;
          this.call.write(encodeDeltaRequest({ typeUrl: TYPE.listener }));
        }
        break;
      }
      case TYPE.listener: {
        for (const r of res.resources) this.listeners.set(r.name, listenerRouteNames(b, r.start, r.end));
        for (const n of res.removed) this.listeners.delete(n);
        this.resubscribe(TYPE.route, this.rdsSubs, new Set([...this.listeners.values()].flat()));
        this.ack(res.typeUrl, res.nonce);
        this.acked([]);
        break;
      }
      default:
        this.ack(res.typeUrl, res.nonce);
        this.acked([]);
    }
    this.checkFull();
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface LoadgenOptions {
  /** host:port of the xDS server (127.0.0.1 only). */
  target: string;
  mode: Mode;
  streams: number;
  streamsPerChannel: number;
  /** How many clusters/assignments make a full config. */
  expectedServices: number;
  /** Node ids are `${nodePrefix}-${i}`, unique per stream. */
  nodePrefix: string;
}

export class Loadgen {
  readonly tracker = new ChangeTracker();
  readonly streams: SimStream[] = [];
  private readonly clients: H2Connection[] = [];
  startedAt = 0;
  readonly opts: LoadgenOptions;

  constructor(opts: LoadgenOptions) {
    this.opts = opts;
    if (!/^127\.0\.0\.1:\d+$/.test(opts.target))
      throw new Error(`loadgen target must be 127.0.0.1:<port>, got ${opts.target}`);
  }

  /** Opens every stream at once (one synchronous loop), as a fleet reconnecting after a restart would. */
  start(): void {
    const { streams, streamsPerChannel, target, mode, expectedServices, nodePrefix } = this.opts;
    const channels = Math.max(1, Math.ceil(streams / streamsPerChannel));
    for (let c = 0; c < channels; c++) {
      this.clients.push(new H2Connection(target));
    }
    this.startedAt = performance.now();
    for (let i = 0; i < streams; i++) {
      const node: NodeInfo = { id: `${nodePrefix}-${i}`, cluster: 'bench-gateway', userAgentName: 'envoy' };
      const s =
        mode === 'sotw'
          ? new SotwStream(node, expectedServices, this.tracker)
          : new DeltaStream(node, expectedServices, this.tracker);
      s.start(this.clients[i % channels]);
      this.streams.push(s);
    }
  }

  fullCount(): number {
    let n = 0;
    for (const s of this.streams) if (s.fullAt >= 0) n++;
    return n;
  }

  errors(): string[] {
    return this.streams.flatMap((s) => (s.error ? [s.error] : []));
  }

  /** Resolves when every stream holds the full config or the deadline passes. */
  async waitFull(timeoutMs: number): Promise<{ done: boolean; full: number; times: number[] }> {
    const deadline = performance.now() + timeoutMs;
    while (this.fullCount() < this.streams.length && performance.now() < deadline) {
      if (this.errors().length === this.streams.length) break;
      await sleep(20);
    }
    const times = this.streams.filter((s) => s.fullAt >= 0).map((s) => s.fullAt - this.startedAt);
    return { done: times.length === this.streams.length, full: times.length, times };
  }

  /** Resolves when every listed change was ACKed by every stream, or the deadline passes. */
  async waitChanges(changes: Change[], timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    const open = () => changes.some((c) => c.acked < c.expected);
    while (open() && performance.now() < deadline) await sleep(5);
    return !open();
  }

  totals(): { bytes: number; messages: number; acks: number } {
    let bytes = 0;
    let messages = 0;
    let acks = 0;
    for (const s of this.streams) {
      bytes += s.bytes;
      messages += s.messages;
      acks += s.acks;
    }
    return { bytes, messages, acks };
  }

  close(): void {
    for (const s of this.streams) s.close();
    for (const c of this.clients) c.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
