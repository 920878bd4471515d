// A one-shot grpc-js-xds client with the same flags and JSON lines as the grpc-go and C-core test
// clients (integration-tests/tools/), so the client matrix drives all three alike:
//   node --conditions=source grpc-js-client-cli.ts -target xds:///echo[,xds:///b] -calls 100 -timeout 10s [-xds-creds] [-hold]
// Bootstrap: GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG.
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { parseArgs } from 'node:util';
import { loadEcho } from '../../examples/backends/echo-proto.ts';

// Go-style single-dash flags, as the grpc-go and C-core clients take them.
const { values: v } = parseArgs({
  args: process.argv.slice(2).map((a) => (/^-[a-z]/.test(a) ? `-${a}` : a)),
  options: {
    target: { type: 'string', default: 'xds:///echo' },
    calls: { type: 'string', default: '100' },
    timeout: { type: 'string', default: '10s' },
    'xds-creds': { type: 'boolean', default: false },
    hold: { type: 'boolean', default: false },
  },
});
const seconds = /^(\d+(?:\.\d+)?)s$/.exec(v.timeout ?? '');
if (!seconds) throw new Error(`-timeout must look like 10s, got ${v.timeout}`);
const deadlineMs = Number(seconds[1]) * 1000;

grpcXds.register();
const { Client } = loadEcho();
// The insecure fallback applies only to clusters without a transport socket.
const creds = v['xds-creds']
  ? new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure())
  : grpc.credentials.createInsecure();
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const clients = [];
for (const target of v.target!.split(',')) {
  const c = new Client(target, creds);
  clients.push(c);
  for (let i = 0; i < Number(v.calls); i++) {
    await new Promise<void>((resolve) =>
      c.Echo(
        { message: '' },
        new grpc.Metadata({ waitForReady: true }),
        { deadline: Date.now() + deadlineMs },
        (err, reply) => {
          if (err || !reply) out({ target, ok: false, code: err?.code, error: err?.details ?? err?.message });
          else out({ target, ok: true, fields: { '2': reply.server, '3': reply.port } });
          resolve();
        },
      ),
    );
  }
}
if (v.hold) {
  out({ done: true });
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
}
for (const c of clients) c.close();
process.exit(0);
