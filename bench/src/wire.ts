// Raw protobuf walking for the load generator. It decodes only what a simulated proxy needs
// (type_url, version, nonce, resource names, the EDS and RDS names that clusters and listeners
// point at, and endpoint ports for the change marker) and never builds resource objects, so the
// generator stays cheap and the benchmark measures the server rather than itself.
// Field numbers: envoy/service/discovery/v3/discovery.proto and the resource protos (v3).
import protobuf from 'protobufjs/minimal.js';

const { Reader, Writer } = protobuf;
type Reader = protobuf.Reader;

const LEN = 2;

/** A resource's encoded message bytes inside the response buffer: buf[start, end). */
export interface ResourceRef {
  name: string;
  start: number;
  end: number;
}

export interface DecodedResponse {
  typeUrl: string;
  /** SotW version_info, or delta system_version_info. */
  version: string;
  nonce: string;
  resources: ResourceRef[];
  /** Delta only. */
  removed: string[];
}

// Resource names repeat across every stream; interning keeps 1,000 streams x 1,000 names cheap.
const interned = new Map<string, string>();
function intern(s: string): string {
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  interned.set(s, s);
  return s;
}

/** Reads an Any at r.pos..end and returns the span of its value (field 2). */
function anyValue(r: Reader, end: number): [number, number] {
  let vs = 0;
  let ve = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((2 << 3) | LEN)) {
      const len = r.uint32();
      vs = r.pos;
      ve = vs + len;
      r.pos = ve;
    } else r.skipType(tag & 7);
  }
  return [vs, ve];
}

/** Field 1 (a string) of the message at buf[start, end): the name of Cluster, CLA, Listener and RouteConfiguration. */
export function messageName(buf: Uint8Array, start: number, end: number): string {
  const r = Reader.create(buf);
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LEN)) return intern(r.string());
    r.skipType(tag & 7);
  }
  return '';
}

export function decodeSotwResponse(buf: Uint8Array): DecodedResponse {
  return decodeResponse(buf, false);
}

export function decodeDeltaResponse(buf: Uint8Array): DecodedResponse {
  return decodeResponse(buf, true);
}

/**
 * DiscoveryResponse and DeltaDiscoveryResponse number their common fields alike (1 version,
 * 4 type_url, 5 nonce); they differ in what field 2 holds (an Any, or a Resource wrapping one)
 * and field 6 (SotW control_plane, which is skipped; delta removed_resources).
 */
function decodeResponse(buf: Uint8Array, delta: boolean): DecodedResponse {
  const r = Reader.create(buf);
  const out: DecodedResponse = { typeUrl: '', version: '', nonce: '', resources: [], removed: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | LEN:
        out.version = r.string();
        break;
      case (2 << 3) | LEN: {
        const len = r.uint32();
        const end = r.pos + len;
        out.resources.push(delta ? deltaResource(r, end) : sotwResource(buf, r, end));
        r.pos = end;
        break;
      }
      case (4 << 3) | LEN:
        out.typeUrl = intern(r.string());
        break;
      case (5 << 3) | LEN:
        out.nonce = r.string();
        break;
      case (6 << 3) | LEN:
        if (delta) out.removed.push(intern(r.string()));
        else r.skipType(LEN);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}

/** An Any at r.pos..end; the name is field 1 of the message inside. */
function sotwResource(buf: Uint8Array, r: Reader, end: number): ResourceRef {
  const [start, stop] = anyValue(r, end);
  return { name: messageName(buf, start, stop), start, end: stop };
}

/** Resource { version = 1; resource = 2 (Any); name = 3; } at r.pos..end. */
function deltaResource(r: Reader, end: number): ResourceRef {
  let name = '';
  let start = 0;
  let stop = 0;
  while (r.pos < end) {
    const t = r.uint32();
    if (t === ((3 << 3) | LEN)) name = intern(r.string());
    else if (t === ((2 << 3) | LEN)) {
      const l = r.uint32();
      const e = r.pos + l;
      [start, stop] = anyValue(r, e);
      r.pos = e;
    } else r.skipType(t & 7);
  }
  return { name, start, end: stop };
}

/** Cluster: the EDS name it asks for (eds_cluster_config(3).service_name(2)), else its own name (1). */
export function clusterEdsName(buf: Uint8Array, start: number, end: number): string {
  const r = Reader.create(buf);
  r.pos = start;
  let name = '';
  let service = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LEN)) name = r.string();
    else if (tag === ((3 << 3) | LEN)) {
      const e = r.pos + r.uint32();
      while (r.pos < e) {
        const t = r.uint32();
        if (t === ((2 << 3) | LEN)) service = r.string();
        else r.skipType(t & 7);
      }
    } else r.skipType(tag & 7);
  }
  return intern(service || name);
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Listener: route_config_name of every HCM that uses RDS (filter_chains 3 / default_filter_chain 25 -> filters 3 -> typed_config 4 -> rds 3 -> route_config_name 2). */
export function listenerRouteNames(buf: Uint8Array, start: number, end: number): string[] {
  const r = Reader.create(buf);
  const names: string[] = [];
  const chain = (e: number) => {
    while (r.pos < e) {
      const t = r.uint32();
      if (t === ((3 << 3) | LEN)) filter(r.pos + r.uint32());
      else r.skipType(t & 7);
    }
  };
  const filter = (e: number) => {
    while (r.pos < e) {
      const t = r.uint32();
      if (t === ((4 << 3) | LEN)) {
        const ae = r.pos + r.uint32();
        let typeUrl = '';
        let vs = 0;
        let ve = 0;
        while (r.pos < ae) {
          const at = r.uint32();
          if (at === ((1 << 3) | LEN)) typeUrl = r.string();
          else if (at === ((2 << 3) | LEN)) {
            const l = r.uint32();
            vs = r.pos;
            ve = vs + l;
            r.pos = ve;
          } else r.skipType(at & 7);
        }
        if (typeUrl === HCM) hcm(vs, ve);
        r.pos = ae;
      } else r.skipType(t & 7);
    }
  };
  const hcm = (s: number, e: number) => {
    const saved = r.pos;
    r.pos = s;
    while (r.pos < e) {
      const t = r.uint32();
      if (t === ((3 << 3) | LEN)) {
        const re = r.pos + r.uint32();
        while (r.pos < re) {
          const rt = r.uint32();
          if (rt === ((2 << 3) | LEN)) names.push(intern(r.string()));
          else r.skipType(rt & 7);
        }
      } else r.skipType(t & 7);
    }
    r.pos = saved;
  };
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((3 << 3) | LEN) || tag === ((25 << 3) | LEN)) chain(r.pos + r.uint32());
    else r.skipType(tag & 7);
  }
  return names;
}

/** ClusterLoadAssignment: every endpoint's port (endpoints 2 -> lb_endpoints 2 -> endpoint 1 -> address 1 -> socket_address 1 -> port_value 3). */
export function assignmentPorts(buf: Uint8Array, start: number, end: number): number[] {
  const r = Reader.create(buf);
  const ports: number[] = [];
  // Descend through the path of (field, wire LEN) pairs; at the leaf read field 3 as a varint.
  const path = [2, 2, 1, 1, 1];
  const walk = (depth: number, e: number) => {
    while (r.pos < e) {
      const t = r.uint32();
      if (depth === path.length) {
        if (t === ((3 << 3) | 0)) ports.push(r.uint32());
        else r.skipType(t & 7);
      } else if (t === ((path[depth] << 3) | LEN)) {
        walk(depth + 1, r.pos + r.uint32());
      } else r.skipType(t & 7);
    }
  };
  r.pos = start;
  walk(0, end);
  return ports;
}

// ---- requests ----

export interface NodeInfo {
  id: string;
  cluster: string;
  userAgentName: string;
}

function writeNode(w: protobuf.Writer, field: number, node: NodeInfo): void {
  w.uint32((field << 3) | LEN).fork();
  w.uint32((1 << 3) | LEN).string(node.id);
  w.uint32((2 << 3) | LEN).string(node.cluster);
  w.uint32((6 << 3) | LEN).string(node.userAgentName);
  w.uint32((7 << 3) | LEN).string('meshgate-bench');
  w.ldelim();
}

/** Repeated string field `field`, pre-encoded so a SotW ACK that repeats 1,000 names costs one copy. */
export function encodeNames(field: number, names: readonly string[]): Buffer {
  const w = Writer.create();
  for (const n of names) w.uint32((field << 3) | LEN).string(n);
  return Buffer.from(w.finish());
}

export function encodeSotwRequest(o: {
  node?: NodeInfo;
  typeUrl: string;
  version: string;
  nonce: string;
  names: Buffer;
}): Buffer {
  return Buffer.concat([encodeSotwHead(o), o.names]);
}

/** A DiscoveryRequest without its resource_names; the pre-encoded names (encodeNames) follow it on the wire. */
export function encodeSotwHead(o: { node?: NodeInfo; typeUrl: string; version: string; nonce: string }): Buffer {
  const w = Writer.create();
  if (o.version) w.uint32((1 << 3) | LEN).string(o.version);
  if (o.node) writeNode(w, 2, o.node);
  w.uint32((4 << 3) | LEN).string(o.typeUrl);
  if (o.nonce) w.uint32((5 << 3) | LEN).string(o.nonce);
  const head = w.finish();
  return Buffer.from(head.buffer, head.byteOffset, head.byteLength);
}

export function encodeDeltaRequest(o: {
  node?: NodeInfo;
  typeUrl: string;
  nonce?: string;
  subscribe?: readonly string[];
  unsubscribe?: readonly string[];
}): Buffer {
  const w = Writer.create();
  if (o.node) writeNode(w, 1, o.node);
  w.uint32((2 << 3) | LEN).string(o.typeUrl);
  for (const n of o.subscribe ?? []) w.uint32((3 << 3) | LEN).string(n);
  for (const n of o.unsubscribe ?? []) w.uint32((4 << 3) | LEN).string(n);
  if (o.nonce) w.uint32((6 << 3) | LEN).string(o.nonce);
  const b = w.finish();
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
