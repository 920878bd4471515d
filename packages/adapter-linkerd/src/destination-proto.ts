// io.linkerd.proxy.destination.Destination/Get: the request and the streamed Update, encoded by hand with the field
// numbers of linkerd2-proxy-api's destination.proto and net.proto. Only what a gateway uses is decoded; everything
// else is skipped, so newer servers' fields do no harm.
//   GetDestination { string scheme = 1; string path = 2; string context_token = 3; }
//   Update { oneof { WeightedAddrSet add = 1; AddrSet remove = 2; NoEndpoints no_endpoints = 3; } }
//   AddrSet { repeated TcpAddress addrs = 1; }   NoEndpoints { bool exists = 1; }
//   WeightedAddrSet { repeated WeightedAddr addrs = 1; map<string,string> metric_labels = 2; }
//   WeightedAddr { TcpAddress addr = 1; uint32 weight = 3; map<string,string> metric_labels = 4;
//                  TlsIdentity tls_identity = 5; ProtocolHint protocol_hint = 6; AuthorityOverride authority_override = 7; }
//   TlsIdentity { DnsLikeIdentity dns_like_identity = 1; UriLikeIdentity uri_like_identity = 3;
//                 DnsLikeIdentity server_name = 4; }   DnsLikeIdentity { string name = 1; }  UriLikeIdentity { string uri = 1; }
//   ProtocolHint { H2 h2 = 1; OpaqueTransport opaque_transport = 2; Opaque opaque = 3; }  OpaqueTransport { uint32 inbound_port = 1; }
//   TcpAddress { IPAddress ip = 1; uint32 port = 2; }  IPAddress { fixed32 ipv4 = 1; IPv6 ipv6 = 2; }  IPv6 { fixed64 first = 1; fixed64 last = 2; }
import protobuf from 'protobufjs';

export interface GetDestination {
  scheme: string;
  path: string;
  contextToken?: string;
}

export interface TcpAddress {
  /** Dotted IPv4 or full, lower-case IPv6 text. */
  ip: string;
  port: number;
}

export interface WeightedAddr extends TcpAddress {
  weight: number;
  labels: Record<string, string>;
  /** The endpoint's Linkerd identity, when the controller says it is meshed. */
  identity?: string;
  /** spiffe:// identity, when the controller gives a URI-like one. */
  uriIdentity?: string;
  /** The name to send as SNI (TlsIdentity.server_name). */
  serverName?: string;
  protocol?: 'h2' | 'opaque';
  /** ProtocolHint.opaque_transport.inbound_port: the endpoint wants Linkerd's transport header. */
  opaqueTransportPort?: number;
  authorityOverride?: string;
}

export type Update =
  | { kind: 'add'; addrs: WeightedAddr[]; labels: Record<string, string> }
  | { kind: 'remove'; addrs: TcpAddress[] }
  | { kind: 'no_endpoints'; exists: boolean }
  | { kind: 'unknown' };

export function encodeGetDestination(g: GetDestination): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string(g.scheme);
  w.uint32((2 << 3) | 2).string(g.path);
  if (g.contextToken) w.uint32((3 << 3) | 2).string(g.contextToken);
  return Buffer.from(w.finish());
}

type Reader = protobuf.Reader;

/** Calls `field(number, wireType)` for each field of the message that ends at `end`; it must consume or skip. */
function fields(r: Reader, end: number, field: (n: number, wt: number) => void): void {
  while (r.pos < end) {
    const tag = r.uint32();
    field(tag >>> 3, tag & 7);
  }
}

function sub(r: Reader, each: (r: Reader, n: number, wt: number) => boolean): void {
  const end = r.uint32() + r.pos;
  fields(r, end, (n, wt) => {
    if (!each(r, n, wt)) r.skipType(wt);
  });
}

function mapEntry(r: Reader, into: Record<string, string>): void {
  let k = '';
  let v = '';
  sub(r, (r2, n) => {
    if (n === 1) k = r2.string();
    else if (n === 2) v = r2.string();
    else return false;
    return true;
  });
  into[k] = v;
}

function dnsLike(r: Reader): string {
  let name = '';
  sub(r, (r2, n) => {
    if (n !== 1) return false;
    name = r2.string();
    return true;
  });
  return name;
}

function ipv6(first: bigint, last: bigint): string {
  const hex = (first.toString(16).padStart(16, '0') + last.toString(16).padStart(16, '0')).match(/.{4}/g)!;
  return hex.map((h) => h.replace(/^0+(?=.)/, '')).join(':');
}

function fixed64(r: Reader): bigint {
  const lo = BigInt(r.fixed32() >>> 0);
  const hi = BigInt(r.fixed32() >>> 0);
  return (hi << 32n) | lo;
}

function tcpAddress(r: Reader): TcpAddress {
  const a: TcpAddress = { ip: '', port: 0 };
  sub(r, (r2, n) => {
    if (n === 1) {
      sub(r2, (r3, m) => {
        if (m === 1) {
          const v = r3.fixed32() >>> 0;
          a.ip = [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
        } else if (m === 2) {
          let first = 0n;
          let last = 0n;
          sub(r3, (r4, k) => {
            if (k === 1) first = fixed64(r4);
            else if (k === 2) last = fixed64(r4);
            else return false;
            return true;
          });
          a.ip = ipv6(first, last);
        } else return false;
        return true;
      });
    } else if (n === 2) a.port = r2.uint32();
    else return false;
    return true;
  });
  return a;
}

function weightedAddr(r: Reader): WeightedAddr {
  const w: WeightedAddr = { ip: '', port: 0, weight: 0, labels: {} };
  sub(r, (r2, n) => {
    switch (n) {
      case 1:
        Object.assign(w, tcpAddress(r2));
        return true;
      case 3:
        w.weight = r2.uint32();
        return true;
      case 4:
        mapEntry(r2, w.labels);
        return true;
      case 5:
        sub(r2, (r3, m) => {
          if (m === 1) w.identity = dnsLike(r3);
          else if (m === 4) w.serverName = dnsLike(r3);
          else if (m === 3) w.uriIdentity = dnsLike(r3);
          else return false;
          return true;
        });
        return true;
      case 6:
        sub(r2, (r3, m) => {
          if (m === 1) {
            w.protocol = 'h2';
            r3.skipType(2);
          } else if (m === 3) {
            w.protocol = 'opaque';
            r3.skipType(2);
          } else if (m === 2) {
            sub(r3, (r4, k) => {
              if (k !== 1) return false;
              w.opaqueTransportPort = r4.uint32();
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      case 7:
        w.authorityOverride = dnsLike(r2);
        return true;
      default:
        return false;
    }
  });
  return w;
}

export function decodeUpdate(buf: Uint8Array): Update {
  const r = protobuf.Reader.create(buf);
  let out: Update = { kind: 'unknown' };
  fields(r, r.len, (n, wt) => {
    if (n === 1) {
      const add = { kind: 'add' as const, addrs: [] as WeightedAddr[], labels: {} as Record<string, string> };
      sub(r, (r2, m) => {
        if (m === 1) add.addrs.push(weightedAddr(r2));
        else if (m === 2) mapEntry(r2, add.labels);
        else return false;
        return true;
      });
      out = add;
    } else if (n === 2) {
      const rm = { kind: 'remove' as const, addrs: [] as TcpAddress[] };
      sub(r, (r2, m) => {
        if (m !== 1) return false;
        rm.addrs.push(tcpAddress(r2));
        return true;
      });
      out = rm;
    } else if (n === 3) {
      let exists = false;
      sub(r, (r2, m) => {
        if (m !== 1) return false;
        exists = r2.bool();
        return true;
      });
      out = { kind: 'no_endpoints', exists };
    } else r.skipType(wt);
  });
  return out;
}
