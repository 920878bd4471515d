// Child process for the grpc-js-xds smoke test (grpc-js-xds keeps one XdsClient per bootstrap per process, so each
// run gets a fresh process). Env: GRPC_XDS_BOOTSTRAP_CONFIG (bootstrap JSON), TARGET (e.g. xds:///echo), CALLS.
// Prints one JSON line: { replies: [{ server } | { code, details }] }.
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { echoService, type SayReply } from './echo-service.ts';

grpcXds.register();
const target = process.env.TARGET ?? 'xds:///echo';
const calls = Number(process.env.CALLS ?? '4');
const Client = grpc.makeGenericClientConstructor(echoService(), 'Echo');
const client = new Client(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  Say(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply?: SayReply) => void): void;
};

const replies: Array<{ server: string } | { code: number; details: string }> = [];
for (let i = 0; i < calls; i++) {
  const r = await new Promise<{ server: string } | { code: number; details: string }>((resolve) => {
    client.Say({ text: `hello ${i}` }, { deadline: Date.now() + 20_000 }, (err, reply) => {
      resolve(err ? { code: err.code, details: err.details } : { server: reply!.server });
    });
  });
  replies.push(r);
}
process.stdout.write(JSON.stringify({ replies }) + '\n');
client.close();
process.exit(0);
