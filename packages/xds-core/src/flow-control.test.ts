// The xDS port raises HTTP/2 receive windows above the protocol's 64 KB (see flow-control.ts), observed from a raw
// node:http2 client as the peer sees it: the connection window it may send into and the stream window the server's
// SETTINGS announce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { messageType } from './protos.ts';
import { startServer, resourceSet, eventually } from './test-helpers.ts';
import { TYPE } from './types.ts';
import { XdsServer } from './server.ts';
import { XdsCache } from './cache.ts';

const ADS_SOTW = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

function grpcFrame(msg: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  Buffer.from(msg).copy(b, 5);
  return b;
}

/** Opens one ADS stream with a raw HTTP/2 client, asks for clusters and waits for the first response. */
async function windowsSeenByClient(address: string): Promise<{ connection: number; stream: number }> {
  const client = http2.connect(`http://${address}`);
  try {
    const req = client.request({
      ':method': 'POST',
      ':path': ADS_SOTW,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const type = messageType('envoy.service.discovery.v3.DiscoveryRequest');
    req.write(
      grpcFrame(
        type
          .encode(type.fromObject({ node: { id: 'raw-h2', user_agent_name: 'envoy' }, type_url: TYPE.cluster }))
          .finish(),
      ),
    );
    await new Promise<void>((resolve, reject) => {
      req.once('data', () => resolve());
      req.once('error', reject);
    });
    // The SETTINGS frame and the WINDOW_UPDATE were sent before the response; give the client a turn to apply them.
    await eventually(
      () => (client.remoteSettings.initialWindowSize ?? 0) > 65_535 || client.state.remoteWindowSize! > 65_535,
      500,
    ).catch(() => {});
    const out = {
      connection: client.state.remoteWindowSize ?? 0,
      stream: client.remoteSettings.initialWindowSize ?? 0,
    };
    req.close();
    return out;
  } finally {
    client.close();
  }
}

test('each client connection may send 8 MiB before a WINDOW_UPDATE, each stream 1 MiB (defaults)', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const w = await windowsSeenByClient(h.address);
  // The client sent one small request on the connection, so slightly less than the full window is left.
  assert.ok(w.connection > 8 * 1024 * 1024 - 1024, `connection window ${w.connection}`);
  assert.equal(w.stream, 1024 * 1024);
});

test('receiveWindows 0 keeps the protocol defaults (the case the option exists to avoid)', async (t) => {
  const h = await startServer(t, { receiveWindows: { connection: 0, stream: 0 } });
  h.cache.publish('envoy', resourceSet(['a']));
  const w = await windowsSeenByClient(h.address);
  assert.ok(w.connection <= 65_535, `connection window ${w.connection}`);
  assert.equal(w.stream, 65_535);
});

test('a window outside HTTP/2 limits is refused with the option named', () => {
  assert.throws(
    () => new XdsServer({ cache: new XdsCache(), receiveWindows: { connection: 1000 } }),
    /receiveWindows\.connection must be 0 \(keep the default\) or an integer between 65535 and 2147483647 bytes, got 1000/,
  );
});
