// Child process: a grpc-js-xds client whose channel credentials are XdsChannelCredentials, so the
// upstream TLS settings meshgate sends in CDS (gRFC A29 certificate-provider instances, SAN
// matchers) decide how it connects. Commands arrive as JSON lines on stdin; answers leave as JSON
// lines on stdout. Bootstrap (with certificate_providers): GRPC_XDS_BOOTSTRAP_CONFIG.
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { createInterface } from 'node:readline';
import { loadEcho } from '../../examples/backends/echo-proto.ts';
import type { EchoClient } from '../../examples/backends/echo-proto.ts';

grpcXds.register();
const { Client } = loadEcho();
const clients = new Map<string, EchoClient>();
// Insecure fallback only applies to clusters without a transport socket; none of ours lack one, so
// a missing TLS config shows up as a refused plaintext call at the mTLS backend.
const creds = new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure());

function client(target: string): EchoClient {
  let c = clients.get(target);
  if (!c) clients.set(target, (c = new Client(target, creds)));
  return c;
}

export interface MtlsOutcome {
  t: number;
  ok: boolean;
  server?: string;
  code?: number;
  error?: string;
}

function call(target: string, deadlineMs: number): Promise<MtlsOutcome> {
  return new Promise((resolve) => {
    client(target).Echo({ message: 'hi' }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, reply) => {
      if (err || !reply) resolve({ t: Date.now(), ok: false, code: err?.code, error: err?.details ?? err?.message });
      else resolve({ t: Date.now(), ok: true, server: reply.server });
    });
  });
}

const loops = new Map<string, { stop: boolean; outcomes: MtlsOutcome[]; done: Promise<void> }>();
const reply = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const cmd = JSON.parse(line) as {
    id: number;
    op: string;
    target: string;
    n?: number;
    deadlineMs?: number;
    intervalMs?: number;
  };
  try {
    if (cmd.op === 'calls') {
      const outcomes: MtlsOutcome[] = [];
      for (let i = 0; i < (cmd.n ?? 1); i++) outcomes.push(await call(cmd.target, cmd.deadlineMs ?? 5000));
      reply({ id: cmd.id, outcomes });
    } else if (cmd.op === 'start') {
      const state = { stop: false, outcomes: [] as MtlsOutcome[], done: Promise.resolve() };
      state.done = (async () => {
        while (!state.stop) {
          state.outcomes.push(await call(cmd.target, cmd.deadlineMs ?? 5000));
          await new Promise((r) => setTimeout(r, cmd.intervalMs ?? 50));
        }
      })();
      loops.set(cmd.target, state);
      reply({ id: cmd.id, started: true });
    } else if (cmd.op === 'stop') {
      const state = loops.get(cmd.target);
      if (!state) throw new Error(`no running loop for ${cmd.target}`);
      state.stop = true;
      await state.done;
      loops.delete(cmd.target);
      reply({ id: cmd.id, outcomes: state.outcomes });
    } else throw new Error(`unknown op ${cmd.op}`);
  } catch (err) {
    reply({ id: cmd.id, error: (err as Error).message });
  }
});
process.stdin.on('end', () => {
  for (const c of clients.values()) c.close();
  process.exit(0);
});
