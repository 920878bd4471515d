// Child process: a grpc-js-xds client with XdsChannelCredentials (so the cluster's
// UpstreamTlsContext, gRFC A29, decides mTLS), making N Echo calls to one target and printing a
// JSON summary. Bootstrap (with certificate_providers) from GRPC_XDS_BOOTSTRAP_CONFIG.
//   node --conditions=source consul-xds-tls-client.ts <target> <n> <deadlineMs>
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { loadEcho } from '../../examples/backends/echo-proto.ts';

grpcXds.register();
const [target, nArg = '10', deadlineArg = '5000'] = process.argv.slice(2);
const { Client } = loadEcho();
const client = new Client(target, new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()));
const counts: Record<string, number> = {};
const errors: string[] = [];
let failures = 0;
for (let i = 0; i < Number(nArg); i++) {
  await new Promise<void>((resolve) => {
    client.Echo(
      { message: 'hi' },
      new grpc.Metadata(),
      { deadline: Date.now() + Number(deadlineArg) },
      (err, reply) => {
        if (err || !reply) {
          failures++;
          if (errors.length < 5) errors.push(`${err?.code} ${err?.details ?? err?.message}`);
        } else counts[`${reply.server}:${reply.port}`] = (counts[`${reply.server}:${reply.port}`] ?? 0) + 1;
        resolve();
      },
    );
  });
}
process.stdout.write(`${JSON.stringify({ total: Number(nArg), counts, failures, errors })}\n`);
client.close();
process.exit(0);
