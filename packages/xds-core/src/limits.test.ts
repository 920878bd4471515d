// The xDS port's size and time limits: an oversized request ends its own stream before it is decoded, and a client
// that stops reading is dropped after stalledStreamMs with its buffers freed; everyone else is served throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import { connect, type Socket } from 'node:net';
import { TYPE } from './types.ts';
import { XdsCache } from './cache.ts';
import { XdsServer } from './server.ts';
import { messageType } from './protos.ts';
import { startServer, resourceSet, cla, names, eventually, type Harness } from './test-helpers.ts';

const ADS_SOTW = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const Req = messageType('envoy.service.discovery.v3.DiscoveryRequest');

async function stillServes(h: Harness): Promise<void> {
  const c = await h.client({ id: `healthy-${Math.random()}` });
  c.subscribe(TYPE.cluster, ['*']);
  assert.ok(names(await c.next(TYPE.cluster)).length > 0);
  c.close();
}

function rawStream(h: Harness, t: { after(fn: () => void): void }) {
  const client = new grpc.Client(h.address, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const call = client.makeBidiStreamRequest(
    ADS_SOTW,
    (o: object) => Buffer.from(Req.encode(Req.fromObject(o)).finish()),
    (b: Buffer) => b,
  );
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => {});
  return { call, status };
}

test('a request over maxRequestBytes ends its stream with RESOURCE_EXHAUSTED; the server keeps serving', async (t) => {
  const h = await startServer(t, { maxRequestBytes: 64 * 1024 });
  h.cache.publish('envoy', resourceSet(['a']));
  const { call, status } = rawStream(h, t);
  call.write({
    node: { id: 'big', user_agent_name: 'envoy' },
    type_url: TYPE.cluster,
    resource_names: Array.from({ length: 10_000 }, (_, i) => `cluster-with-a-long-name-${i}`),
  });
  const st = await status;
  assert.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.deepEqual(h.server.nodes(), [], 'the oversized request never registered a node');
  await stillServes(h);
});

test('a client refused for an oversized message is told to stop sending it (RST_STREAM NO_ERROR after the status)', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  // Node's client counts its own unsent 10 MiB against maxSessionMemory (10 MB by default) and would refuse the reply.
  const session = http2.connect(`http://${h.address}`, { maxSessionMemory: 64 });
  t.after(() => session.destroy());
  session.on('error', () => {});
  const req = session.request({
    ':method': 'POST',
    ':path': ADS_SOTW,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  req.on('error', () => {});
  req.resume();
  // A 10 MiB message: its 5-byte prefix, then the body, handed to HTTP/2 at once.
  const size = 10 * 1024 * 1024;
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(size, 1);
  req.write(prefix);
  req.end(Buffer.alloc(size));
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
    req.on('response', (hd) => hd['grpc-status'] !== undefined && resolve(hd));
    req.on('trailers', resolve);
  });
  await new Promise((resolve) => req.on('close', resolve));
  assert.equal((await trailers)['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
  assert.equal(req.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  // The server's receive window (1 MiB per stream) is all the client got out before the reset, not 10 MiB.
  assert.equal(req.writableFinished, false, 'the client never finished uploading the refused message');
  assert.ok(session.socket.bytesWritten < 3 * 1024 * 1024, `${session.socket.bytesWritten} bytes sent`);
  await stillServes(h);
});

test('maxRequestBytes is checked', () => {
  assert.throws(
    () => new XdsServer({ cache: new XdsCache(), maxRequestBytes: 10 }),
    /maxRequestBytes must be an integer between 1024/,
  );
});

test('a client that stops reading is dropped after stalledStreamMs, with its buffers freed', async (t) => {
  const h = await startServer(t, { stalledStreamMs: 500, ackWaitMs: 0 });
  // Big enough that a few responses overflow HTTP/2's and grpc-js's buffers of a client that does not read.
  const big = (i: number) =>
    cla(
      'a',
      Array.from({ length: 4000 }, (_, k) => 1000 + ((k + i) % 60000)),
    );
  h.cache.publish('envoy', resourceSet(['a']));
  const { call, status } = rawStream(h, t);
  let got = 0;
  call.on('data', () => got++);
  call.write({ node: { id: 'stalled', user_agent_name: 'envoy' }, type_url: TYPE.endpoint, resource_names: ['a'] });
  await eventually(() => got === 1, 5000, 'first response');
  call.pause();
  const disconnected = new Promise<void>((resolve) =>
    h.server.on('disconnect', (e) => {
      if (e.node === 'stalled') resolve();
    }),
  );
  for (let i = 1; i <= 40; i++) {
    h.cache.patch('envoy', TYPE.endpoint, new Map([['a', big(i)]]));
    await new Promise((r) => setTimeout(r, 20));
  }
  await disconnected;
  assert.equal(
    h.server.nodes().find((n) => n.id === 'stalled'),
    undefined,
  );
  call.resume();
  const st = await status;
  assert.equal(st.code, grpc.status.CANCELLED, 'the client sees its stream reset');
  await stillServes(h);
});

/** Opens a TCP connection and sends the HTTP/2 preface: 'accepted' once the server answers with its SETTINGS,
 *  'refused' when the server closes it without a byte. */
function rawConnection(address: string): Promise<{ socket: Socket; outcome: 'accepted' | 'refused' }> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(port), host, () =>
      socket.write(
        Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]),
      ),
    );
    socket.on('error', () => {});
    socket.once('data', () => resolve({ socket, outcome: 'accepted' }));
    socket.once('close', () => resolve({ socket, outcome: 'refused' }));
  });
}

test('connections past maxConnections are closed at accept and counted; open ones keep being served', async (t) => {
  const h = await startServer(t, { maxConnections: 3 });
  h.cache.publish('envoy', resourceSet(['a', 'b']));
  const refused: string[] = [];
  h.server.on('refused', (e) => refused.push(`${e.connections}/${e.limit}`));
  const c = await h.client({ id: 'early' });
  c.subscribe(TYPE.cluster, ['a']);
  assert.deepEqual(names(await c.next(TYPE.cluster)), ['a']);
  const raw: Array<{ socket: Socket; outcome: string }> = [];
  for (let i = 0; i < 5; i++) raw.push(await rawConnection(h.address));
  t.after(() => {
    for (const r of raw) r.socket.destroy();
  });
  assert.deepEqual(
    raw.map((r) => r.outcome),
    ['accepted', 'accepted', 'refused', 'refused', 'refused'],
  );
  assert.deepEqual(refused, ['3/3', '3/3', '3/3']);
  assert.equal(h.server.stats().refusedConnections, 3);
  // The client connected before the flood is still served.
  c.subscribe(TYPE.cluster, ['a', 'b']);
  assert.deepEqual(names(await c.next(TYPE.cluster)), ['a', 'b']);
  // Once the flood goes, new clients get in again.
  for (const r of raw) r.socket.destroy();
  await eventually(() => h.server.stats().connections === 1, 5000, 'the raw connections to close');
  await stillServes(h);
});

test('streams past maxStreamsPerConnection are refused (REFUSED_STREAM); the others are served', async (t) => {
  const h = await startServer(t, { maxStreamsPerConnection: 2 });
  h.cache.publish('envoy', resourceSet(['a']));
  // Opened before the server's SETTINGS can arrive, as a client that ignores them would.
  const session = http2.connect(`http://${h.address}`);
  t.after(() => session.destroy());
  session.on('error', () => {});
  const closed: number[] = [];
  const reqs = Array.from({ length: 5 }, () => {
    const req = session.request({
      ':method': 'POST',
      ':path': ADS_SOTW,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    req.on('error', () => {});
    req.on('close', () => closed.push(req.rstCode ?? -1));
    return req;
  });
  await eventually(() => closed.length === 3, 5000, 'three streams to be refused');
  assert.deepEqual(closed, [
    http2.constants.NGHTTP2_REFUSED_STREAM,
    http2.constants.NGHTTP2_REFUSED_STREAM,
    http2.constants.NGHTTP2_REFUSED_STREAM,
  ]);
  // The two within the limit work: each gets its answer.
  const open = reqs.filter((r) => !r.closed);
  assert.equal(open.length, 2);
  const answers = open.map(
    (req, i) =>
      new Promise<number>((resolve) => {
        let bytes = 0;
        req.on('data', (d: Buffer) => {
          bytes += d.length;
          resolve(bytes);
        });
        const msg = Buffer.from(
          Req.encode(
            Req.fromObject({
              node: { id: `within-${i}`, user_agent_name: 'envoy' },
              type_url: TYPE.cluster,
              resource_names: ['a'],
            }),
          ).finish(),
        );
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(msg.length, 1);
        req.write(Buffer.concat([prefix, msg]));
      }),
  );
  for (const n of await Promise.all(answers)) assert.ok(n > 5, 'a response');
});

test('maxConnections and maxStreamsPerConnection are checked', () => {
  assert.throws(
    () => new XdsServer({ cache: new XdsCache(), maxConnections: -1 }),
    /maxConnections must be an integer/,
  );
  assert.throws(
    () => new XdsServer({ cache: new XdsCache(), maxStreamsPerConnection: 0 }),
    /maxStreamsPerConnection must be an integer between 1/,
  );
});

test('a quiet port after a burst of requests gets one garbage collection, a port without traffic none', async (t) => {
  const h = await startServer(t, { quietGc: { afterBytes: 1024 * 1024, periodMs: 100, quietBytes: 64 * 1024 } });
  h.cache.publish('envoy', resourceSet(['a']));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(h.server.stats().quietCollections, 0, 'nothing came in: nothing to collect');
  const many = Array.from({ length: 20_000 }, (_, i) => `cluster-with-a-long-name-${i}`);
  for (let i = 0; i < 4; i++) {
    const c = await h.client({ id: `burst-${i}` });
    c.subscribe(TYPE.cluster, many);
    await c.next(TYPE.cluster);
    c.close();
  }
  await eventually(() => h.server.stats().quietCollections === 1, 5000, 'one collection once the port is quiet');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(h.server.stats().quietCollections, 1, 'and no more while nothing comes in');
  await stillServes(h);
});
