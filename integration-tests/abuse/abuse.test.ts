// The xDS port under abuse (docs/reliability.md): a real `meshgate serve` process, each fault applied with real
// sockets (raw TCP for garbage and malformed HTTP/2, grpc-js for the rest). After each fault a well-behaved grpc-js
// client must still get exactly the configured resources, and the process's RSS is measured against the baseline
// taken before the first fault. RSS is a figure (printed as `abuse-figures`, copied into docs/reliability.md), asserted
// only loosely: V8 returns memory to the system lazily and the machine is shared.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { TYPE, lookupMessage } from '@meshgate/xds-core';
import { AdsClient, Prng } from '@meshgate/xds-core/testing';
import { tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, getText, metricValue, waitFor } from '../lib/wait.ts';

/** Enough services that a wildcard CDS or EDS response (~200 KB) overflows the HTTP/2 windows of a client that
 *  does not read. */
const SERVICES = 1500;
const STALLED = '2s';
/** Above what the other faults hold open at once (at most ~100), so only the connection-limit fault reaches it. */
const MAX_CONNECTIONS = 300;

const tmp = tempDir('meshgate-abuse-');
const config = join(tmp.dir, 'meshgate.yaml');
let mg: MeshgateProcess;
let address: string;
let baselineKb = 0;
const figures: Array<Record<string, unknown>> = [];

function configText(firstPort: number): string {
  const services = Array.from(
    { length: SERVICES },
    (_, i) => `  - name: svc-${i}\n    endpoints: [{ address: 127.0.0.1, port: ${firstPort + (i % 1000)} }]\n`,
  ).join('');
  return `services:
  - name: echo-v1
    protocol: grpc
    endpoints: [{ address: 127.0.0.1, port: 50051 }]
${services}routes:
  - name: echo
    hosts: [echo]
    match: { prefix: / }
    backends: [{ service: echo-v1, weight: 1 }]
listeners: [{ name: http, port: 8080, routes: [echo] }]
xds: { stalledStreamTimeout: ${STALLED}, maxConnections: ${MAX_CONNECTIONS} }
`;
}

function rssKb(): number {
  const status = readFileSync(`/proc/${mg.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

/** Bytes the process has read through read(2) and the like (`rchar`): on this server, almost all of it sockets. */
function readBytes(): number {
  return Number(/^rchar:\s+(\d+)/m.exec(readFileSync(`/proc/${mg.pid}/io`, 'utf8'))![1]);
}

/** Samples RSS every 100 ms while `fn` runs: the peak during the fault. */
async function withPeak<T>(fn: () => Promise<T>): Promise<{ result: T; peakKb: number }> {
  let peakKb = rssKb();
  const timer = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, rssKb());
    } catch {
      /* the process is gone: the next check fails with its log */
    }
  }, 100);
  try {
    return { result: await fn(), peakKb };
  } finally {
    clearInterval(timer);
  }
}

/** RSS once it is back within 10 % of the baseline, or the last sample after 30 s. */
async function settledRssKb(): Promise<number> {
  const end = Date.now() + 30_000;
  let kb = rssKb();
  while (kb > baselineKb * 1.1 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 500));
    kb = rssKb();
  }
  return kb;
}

/** A well-behaved client: the configured clusters, and echo-v1's endpoint, exactly. */
async function stillServes(): Promise<void> {
  const c = await AdsClient.connect({ address, node: { id: `healthy-${Date.now()}`, user_agent_name: 'envoy' } });
  try {
    c.subscribe(TYPE.cluster, ['*']);
    const cds = await c.next(TYPE.cluster, 20_000);
    assert.equal(cds.resources.length, SERVICES + 1, 'every configured cluster');
    c.subscribe(TYPE.endpoint, ['echo-v1']);
    const eds = await c.next(TYPE.endpoint, 20_000);
    const ep = JSON.stringify(eds.resources[0]?.object);
    assert.match(ep, /"port_value":50051/, 'echo-v1 keeps its endpoint');
  } finally {
    c.close();
  }
  assert.equal(mg.pid !== undefined && rssKb() > 0, true, `meshgate is running:\n${mg.logs()}`);
}

async function fault(name: string, load: string, fn: () => Promise<Record<string, unknown>>): Promise<void> {
  const read0 = readBytes();
  const { result, peakKb } = await withPeak(fn);
  const readMb = +((readBytes() - read0) / 1048576).toFixed(1);
  await stillServes();
  const afterKb = await settledRssKb();
  // The live JavaScript heap (prom-client's gauge) tells retained objects from heap V8 has not yet given back.
  const heap = metricValue((await getText(`${mg.adminUrl}/metrics`)).body, 'nodejs_heap_size_used_bytes');
  const row = {
    fault: name,
    load,
    ...result,
    serverReadMb: readMb,
    peakRssMb: +(peakKb / 1024).toFixed(1),
    afterRssMb: +(afterKb / 1024).toFixed(1),
    vsBaseline: `${(((afterKb - baselineKb) / baselineKb) * 100).toFixed(1)}%`,
    heapUsedMb: heap === undefined ? 'n/a' : +(heap / 1048576).toFixed(1),
    wellBehavedClient: 'served correctly',
  };
  figures.push(row);
  console.log(`abuse-figures ${JSON.stringify(row)}`);
  // Loose: a leak grows without bound; lazily returned heap does not double the process.
  assert.ok(afterKb < baselineKb * 1.5, `RSS ${afterKb} kB after ${name}, baseline ${baselineKb} kB`);
}

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const Req = lookupMessage('envoy.service.discovery.v3.DiscoveryRequest')!;
const encodeReq = (o: object) => Buffer.from(Req.encode(Req.fromObject(o)).finish());
/** gRPC's length-prefixed message framing, for clients that speak HTTP/2 directly. */
function grpcFrame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

/** Opens one ADS stream on `client` sending raw bytes; resolves with its final status. */
function rawCall(client: grpc.Client, messages: Buffer[], method = ADS): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', resolve);
    for (const m of messages) call.write(m);
  });
}

/** Sends bytes on a fresh TCP connection and waits until the server closes it (or 5 s pass). */
function tcpSend(bytes: Buffer): Promise<'closed by server' | 'still open'> {
  return new Promise((resolve) => {
    const s: Socket = connect(Number(address.split(':')[1]), '127.0.0.1');
    s.on('error', () => {});
    s.on('data', () => {});
    const t = setTimeout(() => {
      s.destroy();
      resolve('still open');
    }, 5000);
    s.on('close', () => {
      clearTimeout(t);
      resolve('closed by server');
    });
    s.on('connect', () => s.write(bytes));
  });
}

const count = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const SETTINGS = frame(4, 0, 0, Buffer.alloc(0));

before(async () => {
  writeAtomic(config, configText(20000));
  // As meshgate ships (packages/meshgate/bin/meshgate.js, npm start): with V8's default young generation (up to 64 MB
  // a semi-space here) an idle process runs no GC for minutes, so the Buffers of the last fault stay allocated and
  // RSS measures garbage rather than what meshgate holds.
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, '--max-semi-space-size=16'].filter(Boolean).join(' ');
  mg = new MeshgateProcess(config);
  await mg.start();
  await mg.waitReady(60_000);
  address = `127.0.0.1:${mg.xdsPort}`;
  for (let i = 0; i < 3; i++) await stillServes();
  // Start-up (compiling the TypeScript sources, the first translation) leaves garbage V8 frees lazily: the baseline
  // is taken once RSS has stopped falling (two samples 2 s apart within 2 %), or after 30 s.
  let prev = rssKb();
  for (const end = Date.now() + 30_000; Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = rssKb();
    if (Math.abs(now - prev) < prev * 0.02) break;
    prev = now;
  }
  baselineKb = rssKb();
  console.log(
    `abuse-figures ${JSON.stringify({ baselineRssMb: +(baselineKb / 1024).toFixed(1), services: SERVICES })}`,
  );
});

after(async () => {
  await mg?.stop();
  tmp.cleanup();
});

test('garbage bytes and malformed HTTP/2: each connection is closed, nothing else is affected', async () => {
  const prng = new Prng(1);
  await fault(
    'garbage and malformed HTTP/2',
    '300 connections of random bytes, 12 malformed-HTTP/2 kinds x 20',
    async () => {
      const outcomes: string[] = [];
      for (let batch = 0; batch < 6; batch++) {
        outcomes.push(
          ...(await Promise.all(Array.from({ length: 50 }, () => tcpSend(prng.bytes(1 + prng.below(4096)))))),
        );
      }
      const headersBlock = prng.bytes(64); // not valid HPACK
      const malformed = [
        Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
        Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), // a wrong preface
        Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(5))]), // SETTINGS of a length not a multiple of 6
        Buffer.concat([PREFACE, SETTINGS, frame(1, 4, 1, headersBlock)]), // HEADERS with a broken HPACK block
        Buffer.concat([PREFACE, SETTINGS, frame(0, 0, 0, Buffer.alloc(10))]), // DATA on stream 0
        Buffer.concat([PREFACE, SETTINGS, frame(8, 0, 0, Buffer.alloc(4))]), // WINDOW_UPDATE of 0
        Buffer.concat([PREFACE, SETTINGS, frame(0, 0, 7, Buffer.alloc(10))]), // DATA on an idle stream
        Buffer.concat([PREFACE, SETTINGS, frame(6, 0, 0, Buffer.alloc(3))]), // PING of the wrong size
        Buffer.concat([PREFACE, SETTINGS, frame(4, 0, 0, Buffer.from([0, 4, 0xff, 0xff, 0xff, 0xff]))]), // window > 2^31-1
        Buffer.concat([PREFACE, SETTINGS, Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1])]), // 16 MB frame header, no body
        Buffer.concat([PREFACE, SETTINGS, frame(9, 0, 1, Buffer.alloc(8))]), // CONTINUATION without HEADERS
        Buffer.concat([PREFACE, SETTINGS, frame(3, 0, 0, Buffer.alloc(4))]), // RST_STREAM on stream 0
      ];
      for (let round = 0; round < 20; round++) outcomes.push(...(await Promise.all(malformed.map((m) => tcpSend(m)))));
      return { connections: outcomes.length, outcomes: count(outcomes) };
    },
  );
});

test('malformed protobuf in DiscoveryRequest: INVALID_ARGUMENT on that stream', async () => {
  const prng = new Prng(2);
  await fault('malformed protobuf', '500 streams, each one undecodable DiscoveryRequest', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const codes: string[] = [];
      for (let batch = 0; batch < 10; batch++) {
        const statuses = await Promise.all(
          Array.from({ length: 50 }, () =>
            // A length-delimited field whose length runs past the end: never valid protobuf.
            rawCall(client, [Buffer.concat([Buffer.from([0x12, 0xff, 0x7f]), prng.bytes(prng.below(200))])]),
          ),
        );
        codes.push(...statuses.map((s) => grpc.status[s.code]));
      }
      assert.deepEqual(count(codes), { INVALID_ARGUMENT: 500 });
      return { statuses: count(codes) };
    } finally {
      client.close();
    }
  });
});

test('unknown and mismatched type URLs', async () => {
  await fault(
    'unknown / mismatched type URL',
    '200 ADS streams with an unknown type, 200 CDS streams asking for EDS',
    async () => {
      const client = new grpc.Client(address, grpc.credentials.createInsecure());
      try {
        const node = { id: 'typo', user_agent_name: 'envoy' };
        // Unknown types are ignored on ADS (a newer client may ask for types this server lacks); the stream lives.
        const unknown: string[] = [];
        for (let i = 0; i < 200; i++) {
          const c = await AdsClient.connect({ address, node: { ...node, id: `typo-${i}` } });
          c.send({ type_url: 'type.googleapis.com/made.up.Thing', resource_names: ['x'] });
          c.subscribe(TYPE.cluster, ['echo-v1']);
          const r = await c.next(TYPE.cluster, 20_000);
          unknown.push(r.resources[0]?.name === 'echo-v1' ? 'stream kept, served' : 'wrong answer');
          c.close();
        }
        const mismatched = await Promise.all(
          Array.from({ length: 200 }, () =>
            rawCall(
              client,
              [encodeReq({ node, type_url: TYPE.endpoint, resource_names: ['echo-v1'] })],
              '/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters',
            ),
          ),
        );
        const codes = count(mismatched.map((s) => grpc.status[s.code]));
        assert.deepEqual(count(unknown), { 'stream kept, served': 200 });
        assert.deepEqual(codes, { INVALID_ARGUMENT: 200 });
        return { unknownType: count(unknown), mismatchedType: codes };
      } finally {
        client.close();
      }
    },
  );
});

test('a 10 MB request: RESOURCE_EXHAUSTED before it is decoded, and the upload is stopped', async () => {
  await fault('10 MB request', '20 requests of 10 MB (4 MiB limit)', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    try {
      const big = encodeReq({
        node: { id: 'big', user_agent_name: 'envoy' },
        type_url: TYPE.cluster,
        resource_names: [Buffer.alloc(10 * 1024 * 1024, 'a').toString()],
      });
      const codes: string[] = [];
      for (let i = 0; i < 20; i++) codes.push(grpc.status[(await rawCall(client, [big])).code]);
      assert.deepEqual(count(codes), { RESOURCE_EXHAUSTED: 20 });
      return { requestBytes: big.length, statuses: count(codes) };
    } finally {
      client.close();
    }
  });
});

test('100,000 resource names in one request: served; 100,001 refused with RESOURCE_EXHAUSTED', async () => {
  await fault('100,000 names', '10 requests of 100,000 names (~2.6 MB each), 10 of 100,001', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const names = (n: number) => ['echo-v1', ...Array.from({ length: n - 1 }, (_, i) => `absent-cluster-${i}`)];
      const ok: string[] = [];
      for (let i = 0; i < 10; i++) {
        const c = await AdsClient.connect({ address, node: { id: `many-${i}`, user_agent_name: 'envoy' } });
        c.subscribe(TYPE.endpoint, names(100_000));
        const r = await c.next(TYPE.endpoint, 30_000);
        ok.push(r.resources.map((x) => x.name).join(',') === 'echo-v1' ? 'served (1 of them exists)' : 'wrong answer');
        c.close();
      }
      const over = encodeReq({
        node: { id: 'too-many', user_agent_name: 'envoy' },
        type_url: TYPE.endpoint,
        resource_names: names(100_001),
      });
      const codes: string[] = [];
      for (let i = 0; i < 10; i++) codes.push(grpc.status[(await rawCall(client, [over])).code]);
      assert.deepEqual(count(ok), { 'served (1 of them exists)': 10 });
      assert.deepEqual(count(codes), { RESOURCE_EXHAUSTED: 10 });
      return { at100000: count(ok), at100001: count(codes), requestBytes: over.length };
    } finally {
      client.close();
    }
  });
});

test('clients that never read: each stream is reset after xds.stalledStreamTimeout', async () => {
  await fault(
    'never-reading clients',
    '50 HTTP/2 connections, each an ADS stream for every cluster and endpoint, never read',
    async () => {
      // node:http2 rather than grpc-js: a paused grpc-js call still lets its library take ~300 KB, where a client that
      // really stops reading leaves HTTP/2's 64 KB window closed.
      const sessions = Array.from({ length: 50 }, () => http2.connect(`http://${address}`));
      try {
        const resets = await Promise.all(
          sessions.map(
            (session, i) =>
              new Promise<string>((resolve) => {
                session.on('error', () => {});
                const req = session.request({
                  ':method': 'POST',
                  ':path': ADS,
                  'content-type': 'application/grpc',
                  te: 'trailers',
                });
                req.pause();
                req.on('error', () => {});
                req.on('close', () =>
                  resolve(req.rstCode === http2.constants.NGHTTP2_CANCEL ? 'reset (CANCEL)' : `closed ${req.rstCode}`),
                );
                const node = { id: `stalled-${i}`, user_agent_name: 'envoy' };
                req.write(grpcFrame(encodeReq({ node, type_url: TYPE.cluster, resource_names: [] })));
                req.write(grpcFrame(encodeReq({ type_url: TYPE.endpoint, resource_names: ['*'] })));
              }),
          ),
        );
        // The log is read through a pipe: wait for each stream's line rather than expect it to be there already.
        const droppedIds = () =>
          new Set(
            mg
              .logs(200_000)
              .split('\n')
              .filter((l) => l.includes('has not read its responses'))
              .flatMap((l) => /"node":"(stalled-\d+)"/.exec(l)?.[1] ?? []),
          );
        await waitFor(() => droppedIds().size === 50, 'a log line for each dropped stream', 20_000).catch(() => {});
        const logged = droppedIds().size;
        const nodes = (await getJson(`${mg.adminUrl}/debug/nodes`)).body;
        const left = JSON.stringify(nodes).match(/"stalled-\d+"/g)?.length ?? 0;
        assert.deepEqual(count(resets), { 'reset (CANCEL)': 50 }, 'every stalled stream was reset');
        assert.equal(logged, 50, 'one log line per dropped stream');
        assert.equal(left, 0, 'no dropped node is still listed as connected');
        return { stalledStreamTimeout: STALLED, streams: count(resets), logLines: logged };
      } finally {
        for (const s of sessions) s.destroy();
      }
    },
  );
});

test('2,000 connections opened and dropped in a loop', async () => {
  await fault(
    'connection churn',
    '2,000 connections (1,800 raw HTTP/2, 200 grpc-js with an ADS stream), dropped',
    async () => {
      let raw = 0;
      for (let batch = 0; batch < 18; batch++) {
        await Promise.all(
          Array.from(
            { length: 100 },
            () =>
              new Promise<void>((resolve) => {
                const s = connect(mg.xdsPort, '127.0.0.1');
                s.on('error', () => resolve());
                s.on('connect', () => {
                  s.write(Buffer.concat([PREFACE, SETTINGS]));
                  raw++;
                  s.destroy();
                  resolve();
                });
              }),
          ),
        );
      }
      let grpcDropped = 0;
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const c = await AdsClient.connect({
              address,
              node: { id: `churn-${batch}-${i}`, user_agent_name: 'envoy' },
            });
            c.subscribe(TYPE.cluster, ['*']);
            await c.next(TYPE.cluster, 30_000);
            c.close(); // drops the connection with the stream open
            grpcDropped++;
          }),
        );
      }
      const nodes = (await getJson(`${mg.adminUrl}/debug/nodes`)).body;
      const left = JSON.stringify(nodes).match(/"churn-\d+-\d+"/g)?.length ?? 0;
      return { rawConnections: raw, grpcConnections: grpcDropped, churnNodesStillConnected: left };
    },
  );
});

/** Opens a TCP connection and sends the HTTP/2 preface: 'accepted' once the server answers with its SETTINGS,
 *  'refused' when the server closes it without a byte. */
function heldConnection(): Promise<{ socket: Socket; outcome: 'accepted' | 'refused' }> {
  return new Promise((resolve) => {
    const socket = connect(mg.xdsPort, '127.0.0.1', () => socket.write(Buffer.concat([PREFACE, SETTINGS])));
    socket.on('error', () => {});
    socket.once('data', () => resolve({ socket, outcome: 'accepted' }));
    socket.once('close', () => resolve({ socket, outcome: 'refused' }));
  });
}

test('connections past xds.maxConnections: refused at accept and counted; connected clients keep being served', async () => {
  await fault(
    'connection limit',
    `600 HTTP/2 connections held open at once (xds.maxConnections ${MAX_CONNECTIONS})`,
    async () => {
      const metric = async (name: string) => metricValue((await getText(`${mg.adminUrl}/metrics`)).body, name) ?? NaN;
      const early = await AdsClient.connect({ address, node: { id: 'early', user_agent_name: 'envoy' } });
      const held: Array<{ socket: Socket; outcome: string }> = [];
      try {
        early.subscribe(TYPE.cluster, ['echo-v1']);
        assert.equal((await early.next(TYPE.cluster, 20_000)).resources.length, 1);
        const refusedBefore = await metric('meshgate_xds_connections_refused_total');
        const openBefore = await metric('meshgate_xds_connections');
        for (let batch = 0; batch < 6; batch++)
          held.push(...(await Promise.all(Array.from({ length: 100 }, () => heldConnection()))));
        const outcomes = count(held.map((h) => h.outcome));
        const accepted = outcomes.accepted ?? 0;
        const openAtLimit = await metric('meshgate_xds_connections');
        const refused = (await metric('meshgate_xds_connections_refused_total')) - refusedBefore;
        // The client connected before the flood is still served.
        early.subscribe(TYPE.endpoint, ['echo-v1']);
        const eds = await early.next(TYPE.endpoint, 20_000);
        assert.match(JSON.stringify(eds.resources[0]?.object), /"port_value":50051/);
        assert.equal(accepted + (outcomes.refused ?? 0), 600);
        assert.ok(accepted <= MAX_CONNECTIONS - openBefore, `${accepted} accepted with ${openBefore} already open`);
        assert.equal(refused, outcomes.refused, 'every refused connection is counted');
        assert.ok(openAtLimit <= MAX_CONNECTIONS, `${openAtLimit} connections open, limit ${MAX_CONNECTIONS}`);
        assert.match(mg.logs(200_000), /refusing xDS connections: xds.maxConnections reached/);
        return { connections: outcomes, refusedMetric: refused, openAtLimit };
      } finally {
        for (const h of held) h.socket.destroy();
        early.close();
        await waitFor(
          async () => (await metric('meshgate_xds_connections')) < 10,
          'the held connections to close',
          20_000,
        );
      }
    },
  );
});

test('stale and forged nonces: ignored, nothing recorded as a NACK, the stream keeps working', async () => {
  await fault('stale / forged nonces', '1,000 ACKs and NACKs with stale or forged nonces on 10 streams', async () => {
    let ignored = 0;
    for (let s = 0; s < 10; s++) {
      const c = await AdsClient.connect({
        address,
        node: { id: `forger-${s}`, user_agent_name: 'envoy' },
        autoAck: false,
      });
      c.subscribe(TYPE.endpoint, ['echo-v1']);
      const r = await c.next(TYPE.endpoint, 20_000);
      c.ack(r);
      for (let i = 0; i < 100; i++) {
        const nonce = i % 2 ? `forged-${i}` : r.nonce.replace(/-[^-]*$/, '-0'); // forged, and a stale-looking one
        c.send({
          type_url: TYPE.endpoint,
          response_nonce: nonce,
          resource_names: i % 3 ? [] : ['echo-v1', 'svc-1'],
          ...(i % 4 === 0 ? { error_detail: { code: 3, message: 'forged NACK' } } : {}),
        });
        ignored++;
      }
      // Nothing is answered: a request with a nonce this stream never sent changes nothing.
      assert.equal(await c.quiet(TYPE.endpoint, 300), true, 'forged requests get no response');
      c.close();
    }
    const nodes = JSON.stringify((await getJson(`${mg.adminUrl}/debug/nodes`)).body);
    assert.doesNotMatch(nodes, /forged NACK/, 'a forged NACK is never recorded');
    return { forgedOrStaleRequests: ignored, nacksRecorded: 0 };
  });
  console.log(
    `abuse-figures summary ${JSON.stringify({ baselineRssMb: +(baselineKb / 1024).toFixed(1), faults: figures.length })}`,
  );
});
