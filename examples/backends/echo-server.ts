// Tiny gRPC echo backends that answer with their own name and port.
//   node --conditions=source examples/backends/echo-server.ts echo-v1:50051 echo-v2:50052 ...
import * as grpc from '@grpc/grpc-js';
import { loadEcho } from './echo-proto.ts';

export interface EchoServer {
  name: string;
  port: number;
  close(): Promise<void>;
}

export async function startEchoServer(name: string, port = 0, host = '127.0.0.1'): Promise<EchoServer> {
  const { service } = loadEcho();
  const server = new grpc.Server();
  let bound = 0;
  server.addService(service, {
    Echo(call: grpc.ServerUnaryCall<{ message: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      cb(null, { message: call.request.message, server: name, port: bound });
    },
  });
  bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`echo backend ${name} cannot listen on ${host}:${port}: ${err.message}`)) : resolve(p),
    ),
  );
  return {
    name,
    port: bound,
    close: () => shutdownGracefully(server),
  };
}

/** Graceful shutdown, forced after a short grace period so a test's teardown never hangs on a stuck call. */
export function shutdownGracefully(server: grpc.Server, graceMs = 1000): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

if (import.meta.main) {
  const specs = process.argv.slice(2);
  if (specs.length === 0 || specs.some((s) => !/^[\w.-]+:\d+$/.test(s))) {
    console.error('usage: echo-server.ts NAME:PORT [NAME:PORT...]   e.g. echo-v1:50051 echo-v2:50052');
    process.exit(2);
  }
  const servers = await Promise.all(
    specs.map((s) => {
      const [name, port] = s.split(':');
      return startEchoServer(name, Number(port));
    }),
  );
  for (const s of servers) console.log(`echo backend ${s.name} listening on 127.0.0.1:${s.port}`);
  const stop = async () => {
    await Promise.all(servers.map((s) => s.close()));
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
