// A tiny protobuf writer for the DiscoveryResponse / DeltaDiscoveryResponse envelopes. Resources are encoded once
// (as google.protobuf.Any bytes) in the cache; a response is those shared bytes plus a few per-stream strings, so
// the envelope is concatenated by hand instead of building and re-encoding a message per stream.
import { createHash } from 'node:crypto';

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

/** A length-delimited field: tag (field << 3 | 2), length, payload. */
type Part = { tag: number; data: Uint8Array };

function fieldSize(p: Part): number {
  return 1 + varintSize(p.data.length) + p.data.length;
}

function concatFields(parts: Part[]): Buffer {
  let total = 0;
  for (const p of parts) total += fieldSize(p);
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  for (const p of parts) {
    buf[off++] = p.tag;
    off = writeVarint(buf, off, p.data.length);
    buf.set(p.data, off);
    off += p.data.length;
  }
  return buf;
}

const str = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const tag = (field: number): number => (field << 3) | 2;

/** google.protobuf.Any { type_url = 1; value = 2 } */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  return concatFields([
    { tag: tag(1), data: str(typeUrl) },
    { tag: tag(2), data: value },
  ]);
}

/** DiscoveryResponse { version_info = 1; repeated Any resources = 2; type_url = 4; nonce = 5 } */
export function encodeDiscoveryResponse(
  versionInfo: string,
  resources: readonly Uint8Array[],
  typeUrl: string,
  nonce: string,
): Buffer {
  const parts: Part[] = [];
  if (versionInfo) parts.push({ tag: tag(1), data: str(versionInfo) });
  for (const r of resources) parts.push({ tag: tag(2), data: r });
  parts.push({ tag: tag(4), data: str(typeUrl) }, { tag: tag(5), data: str(nonce) });
  return concatFields(parts);
}

/** The shared part of a SotW response (everything but the nonce); see withNonce. */
export function encodeDiscoveryBody(versionInfo: string, resources: readonly Uint8Array[], typeUrl: string): Buffer {
  const parts: Part[] = [];
  if (versionInfo) parts.push({ tag: tag(1), data: str(versionInfo) });
  for (const r of resources) parts.push({ tag: tag(2), data: r });
  parts.push({ tag: tag(4), data: str(typeUrl) });
  return concatFields(parts);
}

/** Appends nonce (field 5) to a pre-built body: protobuf fields may come in any order on the wire. */
export function withNonce(body: Buffer, nonce: string): Buffer {
  return Buffer.concat([body, concatFields([{ tag: tag(5), data: str(nonce) }])]);
}

/** Resource { version = 1; Any resource = 2; name = 3 } (delta); built once per cached resource. */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Buffer {
  return concatFields([
    { tag: tag(1), data: str(version) },
    { tag: tag(2), data: any },
    { tag: tag(3), data: str(name) },
  ]);
}

/** DeltaDiscoveryResponse { system_version_info = 1; repeated Resource resources = 2; type_url = 4; nonce = 5; repeated removed_resources = 6 } */
export function encodeDeltaResponse(
  systemVersion: string,
  resources: readonly Uint8Array[],
  typeUrl: string,
  removed: readonly string[],
  nonce: string,
): Buffer {
  const parts: Part[] = [];
  if (systemVersion) parts.push({ tag: tag(1), data: str(systemVersion) });
  for (const r of resources) parts.push({ tag: tag(2), data: r });
  parts.push({ tag: tag(4), data: str(typeUrl) }, { tag: tag(5), data: str(nonce) });
  for (const n of removed) parts.push({ tag: tag(6), data: str(n) });
  return concatFields(parts);
}

/** sha256, base64url, 16 characters (96 bits): collisions are not a practical concern for config versions. */
export function contentHash(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('base64url').slice(0, 16);
}

/** Version of a set of (name, version) pairs, independent of their order. */
export function setVersion(pairs: Iterable<readonly [string, string]>): string {
  const sorted = [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const h = createHash('sha256');
  for (const [n, v] of sorted) h.update(n).update('\0').update(v).update('\n');
  return h.digest('base64url').slice(0, 16);
}
