// The two messages of io.linkerd.proxy.identity.Identity/Certify, encoded by hand (three fields each way).
// CertifyRequest { string identity = 1; bytes token = 2; bytes certificate_signing_request = 3; }
// CertifyResponse { bytes leaf_certificate = 1; repeated bytes intermediate_certificates = 2;
//                   google.protobuf.Timestamp valid_until = 3; }   Timestamp { int64 seconds = 1; int32 nanos = 2; }
// The proto's comments say PEM, but the controller parses the CSR as DER and answers with DER certificates.
import protobuf from 'protobufjs';

export interface CertifyRequest {
  identity: string;
  token: Uint8Array;
  /** DER. */
  certificateSigningRequest: Uint8Array;
}

export interface CertifyResponse {
  leafCertificate: Uint8Array;
  intermediateCertificates: Uint8Array[];
  /** undefined when the server sent no valid_until. */
  validUntil: Date | undefined;
}

export function encodeCertifyRequest(r: CertifyRequest): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string(r.identity);
  w.uint32((2 << 3) | 2).bytes(r.token);
  w.uint32((3 << 3) | 2).bytes(r.certificateSigningRequest);
  return Buffer.from(w.finish());
}

/** Test servers need the other direction too. */
export function decodeCertifyRequest(buf: Uint8Array): CertifyRequest {
  const r = protobuf.Reader.create(buf);
  const out: CertifyRequest = { identity: '', token: new Uint8Array(), certificateSigningRequest: new Uint8Array() };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        out.identity = r.string();
        break;
      case 2:
        out.token = r.bytes();
        break;
      case 3:
        out.certificateSigningRequest = r.bytes();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}

export function encodeCertifyResponse(r: CertifyResponse): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).bytes(r.leafCertificate);
  for (const c of r.intermediateCertificates) w.uint32((2 << 3) | 2).bytes(c);
  if (r.validUntil) {
    const ms = r.validUntil.getTime();
    const seconds = Math.floor(ms / 1000);
    w.uint32((3 << 3) | 2)
      .fork()
      .uint32(1 << 3)
      .int64(seconds)
      .uint32(2 << 3)
      .int32((ms - seconds * 1000) * 1_000_000)
      .ldelim();
  }
  return Buffer.from(w.finish());
}

export function decodeCertifyResponse(buf: Uint8Array): CertifyResponse {
  const r = protobuf.Reader.create(buf);
  const out: CertifyResponse = {
    leafCertificate: new Uint8Array(),
    intermediateCertificates: [],
    validUntil: undefined,
  };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        out.leafCertificate = r.bytes();
        break;
      case 2:
        out.intermediateCertificates.push(r.bytes());
        break;
      case 3: {
        const end = r.uint32() + r.pos;
        let seconds = 0;
        let nanos = 0;
        while (r.pos < end) {
          const t = r.uint32();
          if (t >>> 3 === 1) {
            const v = r.int64();
            seconds = typeof v === 'number' ? v : Number(String(v));
          } else if (t >>> 3 === 2) nanos = r.int32();
          else r.skipType(t & 7);
        }
        out.validUntil = new Date(seconds * 1000 + Math.floor(nanos / 1_000_000));
        break;
      }
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}
