// The load generator's transport: bidirectional gRPC streams written straight onto node:http2, not through
// @grpc/grpc-js's client. One generator thread plays 1,000 proxies, so whatever it spends per message lands in
// every latency it measures, for both servers alike; grpc-js's client copies each outgoing message twice and
// runs it through several promise-based layers, which for SotW ACKs (about 15 KB each: the whole name list
// again) cost more than the servers' own work. Here a request leaves as the 5-byte gRPC prefix plus the
// caller's buffers in one writev, and responses are cut out of the DATA chunks without copying when they fit.
//
// The windows are Envoy's defaults (256 MiB per stream and per connection), so neither server is throttled by a
// client window a real Envoy would not have.
import http2 from 'node:http2';

const ENVOY_WINDOW = 256 * 1024 * 1024;
const MAX_WINDOW = 2 ** 31 - 1;

export interface CallHandlers {
  message(b: Buffer): void;
  /** The stream ended with a non-OK status or a transport error (not called for a cancel). */
  error(text: string): void;
  end(): void;
}

export class H2Connection {
  readonly session: http2.ClientHttp2Session;

  constructor(target: string) {
    this.session = http2.connect(`http://${target}`, {
      settings: { initialWindowSize: Math.min(ENVOY_WINDOW, MAX_WINDOW), enablePush: false },
      // Node's default caps a session's buffered memory at 10 MB; 100 cold-starting streams exceed it.
      maxSessionMemory: 1024,
    });
    this.session.on('connect', () => this.session.setLocalWindowSize(ENVOY_WINDOW));
    // Errors surface on each call; a session error with no listener would crash the generator.
    this.session.on('error', () => {});
  }

  call(path: string, h: CallHandlers): H2Call {
    return new H2Call(this.session, path, h);
  }

  close(): void {
    this.session.destroy();
  }
}

export class H2Call {
  readonly #req: http2.ClientHttp2Stream;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #cancelled = false;
  #failed = false;

  constructor(session: http2.ClientHttp2Session, path: string, h: CallHandlers) {
    this.#req = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const fail = (text: string) => {
      if (this.#cancelled || this.#failed) return;
      this.#failed = true;
      h.error(text);
    };
    this.#req.on('response', (headers) => {
      if (headers[':status'] !== 200) fail(`HTTP status ${headers[':status']}`);
      // A trailers-only response carries grpc-status in the headers.
      const st = headers['grpc-status'];
      if (st !== undefined && st !== '0') fail(`${st} ${headers['grpc-message'] ?? ''}`);
    });
    this.#req.on('trailers', (trailers) => {
      const st = trailers['grpc-status'];
      if (st !== undefined && st !== '0') fail(`${st} ${trailers['grpc-message'] ?? ''}`);
    });
    this.#req.on('data', (chunk: Buffer) => this.#onData(chunk, h));
    this.#req.on('error', (err: Error) => fail(err.message));
    this.#req.on('close', () => h.end());
  }

  #onData(chunk: Buffer, h: CallHandlers): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    while (this.#pendingBytes >= 5) {
      let first = this.#pending[0];
      if (first.length < 5) {
        first = Buffer.concat(this.#pending);
        this.#pending = [first];
      }
      if (first[0] !== 0) throw new Error('compressed gRPC messages are not expected');
      const len = first.readUInt32BE(1);
      if (this.#pendingBytes < 5 + len) return;
      if (first.length < 5 + len) {
        first = Buffer.concat(this.#pending);
        this.#pending = [first];
      }
      const msg = first.subarray(5, 5 + len);
      const rest = first.subarray(5 + len);
      this.#pending.shift();
      if (rest.length) this.#pending.unshift(rest);
      this.#pendingBytes -= 5 + len;
      h.message(msg);
    }
  }

  /** Writes one gRPC message made of `parts` (concatenated on the wire, not in memory). */
  write(...parts: Buffer[]): void {
    let len = 0;
    for (const p of parts) len += p.length;
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(len, 1);
    this.#req.cork();
    this.#req.write(prefix);
    for (const p of parts) if (p.length) this.#req.write(p);
    this.#req.uncork();
  }

  cancel(): void {
    this.#cancelled = true;
    if (!this.#req.destroyed) this.#req.close(http2.constants.NGHTTP2_CANCEL);
  }
}
