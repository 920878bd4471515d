// Makes calls through a proxyless gRPC xDS client and prints how they split across backends.
//   node --conditions=source examples/backends/echo-client.ts [xds:///echo] [--calls 100] [--xds 127.0.0.1:18000]
// Uses GRPC_XDS_BOOTSTRAP / GRPC_XDS_BOOTSTRAP_CONFIG when set; otherwise builds a bootstrap
// pointing at --xds (the address `meshgate serve` listens on by default).
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { parseArgs } from 'node:util';
import { loadEcho } from './echo-proto.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    calls: { type: 'string', default: '100' },
    xds: { type: 'string', default: '127.0.0.1:18000' },
    'deadline-ms': { type: 'string', default: '5000' },
  },
});
const target = positionals[0] ?? 'xds:///echo';
const calls = Number(values.calls);
if (!process.env.GRPC_XDS_BOOTSTRAP && !process.env.GRPC_XDS_BOOTSTRAP_CONFIG) {
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: values.xds, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: `echo-client-${process.pid}`, cluster: 'demo', metadata: { meshgate_profile: 'grpc' }, locality: {} },
  });
}
grpcXds.register();
const { Client } = loadEcho();
const client = new Client(target, grpc.credentials.createInsecure());
const counts = new Map<string, number>();
let failures = 0;
for (let i = 0; i < calls; i++) {
  await new Promise<void>((resolve) => {
    client.Echo(
      { message: `call ${i}` },
      new grpc.Metadata(),
      { deadline: Date.now() + Number(values['deadline-ms']) },
      (err, reply) => {
        if (err || !reply) {
          failures++;
          if (failures <= 3) console.error(`call ${i} failed: ${err?.message}`);
        } else
          counts.set(
            `${reply.server} (port ${reply.port})`,
            (counts.get(`${reply.server} (port ${reply.port})`) ?? 0) + 1,
          );
        resolve();
      },
    );
  });
}
console.log(`${calls} calls to ${target}:`);
for (const [k, v] of [...counts].sort())
  console.log(`  ${k.padEnd(28)} ${String(v).padStart(5)}  ${((100 * v) / calls).toFixed(1)}%`);
if (failures) console.log(`  failed${' '.repeat(22)} ${String(failures).padStart(5)}`);
client.close();
process.exit(failures === calls ? 1 : 0);
