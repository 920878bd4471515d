// S5 baseline: what one idle bidirectional gRPC stream costs a @grpc/grpc-js server, before any xDS state.
// It separates the part of "memory per connected proxy" that meshgate's code controls (subscriptions, sent
// versions, watch index) from what the transport costs on its own (HTTP/2 session and stream objects, buffers).
//   node bench/src/s5-baseline.ts [streams=1000] [streamsPerChannel=100]
// The server runs in a child process (started with --expose-gc) so the client's memory never counts.
import { fork } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { procStatusKB } from './proc.ts';

const METHOD = '/meshgate.bench.Baseline/Stream';
const identity = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

if (process.argv[2] === '--server') {
  const server = new grpc.Server({ 'grpc.max_concurrent_streams': 1 << 20 });
  const held: unknown[] = [];
  server.register(
    METHOD,
    (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      held.push(call);
      call.on('data', () => {});
      call.on('error', () => {});
    },
    identity.serialize,
    identity.deserialize,
    'bidi',
  );
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.send!({ port });
  });
  process.on('message', (m: { op: string }) => {
    if (m.op !== 'measure') return;
    const gc = (globalThis as { gc?: () => void }).gc!;
    for (let i = 0; i < 3; i++) gc();
    const mem = process.memoryUsage();
    process.send!({
      rssKB: procStatusKB('VmRSS'),
      heapKB: Math.round((mem.heapUsed + mem.external) / 1024),
      streams: held.length,
    });
  });
} else {
  const streams = Number(process.argv[2] ?? 1000);
  const perChannel = Number(process.argv[3] ?? 100);
  const child = fork(new URL(import.meta.url).pathname, ['--server'], { execArgv: ['--expose-gc'] });
  const next = () => new Promise<any>((resolve) => child.once('message', resolve));
  const { port } = await next();
  const measure = async () => {
    child.send({ op: 'measure' });
    return next();
  };
  await new Promise((r) => setTimeout(r, 300));
  const before = await measure();
  const calls: grpc.ClientDuplexStream<Buffer, Buffer>[] = [];
  const clients: grpc.Client[] = [];
  for (let i = 0; i < streams; i++) {
    if (i % perChannel === 0)
      clients.push(
        new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
        }),
      );
    const call = clients[clients.length - 1].makeBidiStreamRequest(METHOD, identity.serialize, identity.deserialize);
    call.on('error', () => {});
    // One small request, as an xDS client's first DiscoveryRequest would be.
    call.write(Buffer.alloc(64));
    calls.push(call);
  }
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = await measure();
    if (m.streams >= streams) break;
  }
  await new Promise((r) => setTimeout(r, 500));
  const after = await measure();
  const per = (a: number, b: number) => ((b - a) / after.streams).toFixed(1);
  console.log(`| idle grpc-js bidi streams | ${after.streams} streams over ${clients.length} connections |`);
  console.log(`| RSS per stream (KB)       | ${per(before.rssKB, after.rssKB)} |`);
  console.log(`| heap per stream (KB)      | ${per(before.heapKB, after.heapKB)} |`);
  for (const c of calls) c.cancel();
  for (const c of clients) c.close();
  child.kill();
}
