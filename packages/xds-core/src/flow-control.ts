// HTTP/2 receive windows for the xDS port. grpc-js's server never raises them, so every connection keeps the
// protocol's initial 65,535 bytes for the connection and for each stream. A SotW ACK repeats every name the proxy
// subscribes to (about 15 KB for a gateway following 1,000 clusters), so with 64 KB a connection carries about four
// ACKs per WINDOW_UPDATE round trip; when many proxies share a connection (a load balancer in front, or a busy
// server whose event loop answers WINDOW_UPDATEs late) ACKs queue in the client for up to a second, and the ACK
// gate (stream-base.ts) holds the next change for them. Measured in BENCHMARKS.md (S3 SotW p99 1.0 s -> 0.19 s).
//
// grpc-js exposes neither the HTTP/2 session nor an option for this, so the session is reached through the call's
// internal fields. That path is checked by flow-control.test.ts, and when a grpc-js update moves it the server
// keeps working with the default windows and says so once in the log.
import { constants as http2Constants, type Http2Session, type Http2Stream } from 'node:http2';

export interface ReceiveWindows {
  /** Connection-level window (bytes); 0 leaves grpc-js's 65,535. */
  connection: number;
  /** Initial window of every stream (bytes), announced in a SETTINGS frame. */
  stream: number;
}

export const DEFAULT_RECEIVE_WINDOWS: ReceiveWindows = { connection: 8 * 1024 * 1024, stream: 1024 * 1024 };

/** HTTP/2 limits a window to 2^31-1 bytes (RFC 9113 6.9.1). */
const MAX_WINDOW = 2 ** 31 - 1;
const PROTOCOL_DEFAULT = 65_535;

export function checkReceiveWindows(w: ReceiveWindows): void {
  for (const [k, v] of Object.entries(w)) {
    if (!Number.isInteger(v) || (v !== 0 && (v < PROTOCOL_DEFAULT || v > MAX_WINDOW))) {
      throw new TypeError(
        `XdsServer option receiveWindows.${k} must be 0 (keep the default) or an integer between ${PROTOCOL_DEFAULT} and ${MAX_WINDOW} bytes, got ${String(v)}`,
      );
    }
  }
}

/**
 * The HTTP/2 stream under a grpc-js server call, or undefined when grpc-js's internals no longer lead there:
 * ServerDuplexStreamImpl.call -> (interceptors' nextCall ...) -> BaseServerInterceptingCall.stream.
 */
export function http2StreamOf(call: unknown): Http2Stream | undefined {
  let c = (call as { call?: unknown } | undefined)?.call;
  for (let depth = 0; c && depth < 8; depth++) {
    const stream = (c as { stream?: unknown }).stream;
    if (stream && typeof (stream as Http2Stream).close === 'function' && 'session' in (stream as object))
      return stream as Http2Stream;
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** The HTTP/2 session under a grpc-js server call (the session of http2StreamOf's stream), or undefined. */
export function sessionOf(call: unknown): Http2Session | undefined {
  const session = http2StreamOf(call)?.session;
  return session && typeof session.setLocalWindowSize === 'function' ? session : undefined;
}

/**
 * Once the server has sent a stream's status, asks the client to stop sending on it: RST_STREAM NO_ERROR after the
 * complete response, which RFC 9113 8.1 provides for and which leaves the client its status. Without it a stream
 * refused for an oversized message (grpc-js checks the 5-byte length prefix and answers RESOURCE_EXHAUSTED at once)
 * stays open for reading, and a client that finishes its writes before it closes (grpc-js does) uploads the rest of
 * the message, which the server reads into short-lived Buffers only to drop them: 20 refused 10 MB requests moved
 * 200 MB through the allocator and left RSS ~60-80 MB up (docs/reliability.md). With the reset, a refused client
 * gets no further than the receive window it already had.
 */
export function stopUploadAfterStatus(call: unknown): void {
  const h2 = http2StreamOf(call);
  if (!h2) return;
  h2.once('finish', () => resetOnceSent(h2, 0));
}

/** Resets once the status is on the wire: a reset submitted while the stream's last DATA frames and trailers still
 *  wait for flow control would go out first and drop them, losing the client its status. nghttp2 marks the stream
 *  closed for writing (state.localClose) once the END_STREAM frame is sent. A client that does not read (its
 *  trailers stuck behind flow control) is reset after about a second anyway. */
function resetOnceSent(h2: Http2Stream, tries: number): void {
  if (h2.destroyed || h2.closed || h2.readableEnded) return;
  try {
    if (!h2.state.localClose && tries < 110) {
      // Usually out by the next turn of the event loop (a trailers-only refusal is); later only behind the
      // stream's own DATA, which waits for the client to read.
      if (tries < 10) setImmediate(resetOnceSent, h2, tries + 1);
      else setTimeout(resetOnceSent, 10, h2, tries + 1).unref();
      return;
    }
    h2.close(http2Constants.NGHTTP2_NO_ERROR);
  } catch {
    /* the connection is going away */
  }
}

export class WindowTuner {
  readonly #windows: ReceiveWindows;
  readonly #done = new WeakSet<Http2Session>();
  /** Set once the session could not be found on a call: grpc-js changed, nothing more is tried. */
  #unavailable = false;

  constructor(windows: ReceiveWindows) {
    checkReceiveWindows(windows);
    this.#windows = windows;
  }

  /** Raises the windows of the call's connection, once per connection. False only on the first call that finds
   *  the session unreachable (so the caller reports it once); later calls do nothing and answer true. */
  tune(call: unknown): boolean {
    const { connection, stream } = this.#windows;
    if (this.#unavailable || (!connection && !stream)) return true;
    const session = sessionOf(call);
    if (!session) {
      this.#unavailable = true;
      return false;
    }
    if (this.#done.has(session) || session.destroyed || session.closed) return true;
    this.#done.add(session);
    try {
      if (connection) session.setLocalWindowSize(connection);
      if (stream) session.settings({ initialWindowSize: stream });
    } catch {
      // The connection is going away; nothing to tune.
    }
    return true;
  }
}
