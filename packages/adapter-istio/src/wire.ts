// The two messages of istio.v1.auth.IstioCertificateService/CreateCertificate, encoded by hand: a generated
// codec would pull a .proto toolchain in for four fields. Field numbers are those of istio/api
// security/v1alpha1/ca.proto at the 1.31 development line (field 2, the old subject_id, is unused there).
//   IstioCertificateRequest  { string csr = 1; int64 validity_duration = 3; google.protobuf.Struct metadata = 4; }
//   IstioCertificateResponse { repeated string cert_chain = 1; }   (leaf first, root last)

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function tag(field: number, wireType: number): number[] {
  return varint(BigInt((field << 3) | wireType));
}

function lengthDelimited(field: number, bytes: Uint8Array): Uint8Array {
  return concat([Uint8Array.from([...tag(field, 2), ...varint(BigInt(bytes.length))]), bytes]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** google.protobuf.Struct with string values only: `fields` (1) is a map<string, Value>, Value.string_value is 3. */
function stringStruct(values: Record<string, string>): Uint8Array {
  const entries = Object.entries(values).map(([k, v]) => {
    const value = lengthDelimited(3, utf8.encode(v));
    return lengthDelimited(1, concat([lengthDelimited(1, utf8.encode(k)), lengthDelimited(2, value)]));
  });
  return concat(entries);
}

export interface CertificateRequest {
  csrPem: string;
  /** Requested lifetime in seconds; 0 or absent lets istiod pick (DEFAULT_WORKLOAD_CERT_TTL). */
  validitySeconds?: number;
  /** Struct metadata, e.g. { ClusterID: 'Kubernetes' }. */
  metadata?: Record<string, string>;
}

export function encodeCertificateRequest(req: CertificateRequest): Buffer {
  const parts = [lengthDelimited(1, utf8.encode(req.csrPem))];
  if (req.validitySeconds) parts.push(Uint8Array.from([...tag(3, 0), ...varint(BigInt(req.validitySeconds))]));
  if (req.metadata && Object.keys(req.metadata).length > 0) parts.push(lengthDelimited(4, stringStruct(req.metadata)));
  return Buffer.from(concat(parts));
}

/** Decodes cert_chain; unknown fields (a later root_cert = 2, say) are skipped, as protobuf requires. */
export function decodeCertificateResponse(buf: Uint8Array): string[] {
  const chain: string[] = [];
  let i = 0;
  const readVarint = (): bigint => {
    let shift = 0n;
    let v = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
      if (shift > 63n) throw new Error('varint longer than 64 bits');
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wt = key & 7;
    if (wt === 0) readVarint();
    else if (wt === 1) i += 8;
    else if (wt === 5) i += 4;
    else if (wt === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error(`field ${field} runs past the end of the message`);
      if (field === 1) chain.push(fromUtf8.decode(buf.subarray(i, i + len)));
      i += len;
    } else throw new Error(`unsupported wire type ${wt} for field ${field}`);
    if (i > buf.length) throw new Error('truncated message');
  }
  return chain;
}
