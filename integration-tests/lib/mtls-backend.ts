// A real mesh-style backend: a grpc-js Echo server that presents a SPIFFE leaf, requires a client
// certificate from the mesh CA (the TLS layer refuses anything else), and authorizes each call by
// the caller's SPIFFE ID, as a sidecar's RBAC on the URI SAN would.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { loadEcho } from '../../examples/backends/echo-proto.ts';
import { shutdownGracefully } from '../../examples/backends/echo-server.ts';

export interface SeenCall {
  t: number;
  /** The caller's URI SAN, or undefined when it had none. */
  spiffe: string | undefined;
  /** Serial of the client certificate this call's connection was made with. */
  serial: string | undefined;
  allowed: boolean;
}

export interface MtlsBackend {
  port: number;
  calls: SeenCall[];
  /** Distinct client certificate serials of allowed calls, in first-seen order. */
  serials(): string[];
  close(): Promise<void>;
}

export interface MtlsBackendOptions {
  name: string;
  caPem: string;
  certChainPem: string;
  keyPem: string;
  /** The only caller allowed, e.g. spiffe://example.org/ns/default/sa/gw. */
  allowedCaller: string;
  /**
   * Close each connection after this long (GOAWAY, then a grace period). A certificate is only
   * used in a handshake, so without new connections a client's rotation would never show here.
   */
  maxConnectionAgeMs?: number;
  /** Address to listen on. Default 127.0.0.1 (EndpointSlices refuse loopback: use a netns host address there). */
  host?: string;
}

function callerOf(call: grpc.ServerUnaryCall<unknown, unknown>): { spiffe?: string; serial?: string } {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  if (!raw) return {};
  const cert = new X509Certificate(raw);
  // subjectAltName reads like `URI:spiffe://td/ns/x/sa/y, DNS:...`; our leaves carry exactly one SAN.
  const uri = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .find((p) => p.startsWith('URI:'))
    ?.slice(4);
  return { spiffe: uri, serial: cert.serialNumber };
}

export async function startMtlsBackend(o: MtlsBackendOptions): Promise<MtlsBackend> {
  const { service } = loadEcho();
  const options: grpc.ServerOptions = {};
  if (o.maxConnectionAgeMs) {
    options['grpc.max_connection_age_ms'] = o.maxConnectionAgeMs;
    options['grpc.max_connection_age_grace_ms'] = 2000;
  }
  const server = new grpc.Server(options);
  const calls: SeenCall[] = [];
  let bound = 0;
  server.addService(service, {
    Echo(call: grpc.ServerUnaryCall<{ message: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const who = callerOf(call);
      const allowed = who.spiffe === o.allowedCaller;
      calls.push({ t: Date.now(), spiffe: who.spiffe, serial: who.serial, allowed });
      if (!allowed) {
        cb({
          code: grpc.status.PERMISSION_DENIED,
          details: `caller ${who.spiffe ?? '(no URI SAN)'} is not ${o.allowedCaller}`,
        });
        return;
      }
      cb(null, { message: call.request.message, server: o.name, port: bound });
    },
  });
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(o.caPem),
    [{ cert_chain: Buffer.from(o.certChainPem), private_key: Buffer.from(o.keyPem) }],
    true,
  );
  bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${o.host ?? '127.0.0.1'}:0`, creds, (err, p) =>
      err ? reject(new Error(`mTLS backend ${o.name} cannot listen: ${err.message}`)) : resolve(p),
    ),
  );
  return {
    port: bound,
    calls,
    serials: () => [...new Set(calls.filter((c) => c.allowed && c.serial).map((c) => c.serial as string))],
    close: () => shutdownGracefully(server),
  };
}
