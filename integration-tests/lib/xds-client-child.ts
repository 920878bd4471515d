// Child process: a proxyless gRPC xDS client (grpc-js-xds) that takes commands as JSON lines on
// stdin and answers as JSON lines on stdout. grpc-js-xds keeps one XdsClient per process and
// bootstrap, so each test client lives in its own process. Bootstrap: GRPC_XDS_BOOTSTRAP_CONFIG.
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { createInterface } from 'node:readline';
import { loadEcho } from '../../examples/backends/echo-proto.ts';
import type { EchoClient } from '../../examples/backends/echo-proto.ts';

grpcXds.register();
const { Client } = loadEcho();
const clients = new Map<string, EchoClient>();

function client(target: string): EchoClient {
  let c = clients.get(target);
  if (!c) clients.set(target, (c = new Client(target, grpc.credentials.createInsecure())));
  return c;
}

interface Outcome {
  t: number;
  ok: boolean;
  server?: string;
  error?: string;
}

function call(target: string, deadlineMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    client(target).Echo({ message: 'hi' }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, reply) => {
      if (err || !reply) resolve({ t: Date.now(), ok: false, error: `${err?.code} ${err?.details ?? err?.message}` });
      else resolve({ t: Date.now(), ok: true, server: `${reply.server}:${reply.port}` });
    });
  });
}

function summarize(outcomes: Outcome[]) {
  const counts: Record<string, number> = {};
  const errors: string[] = [];
  let failures = 0;
  for (const o of outcomes) {
    if (o.ok) counts[o.server!] = (counts[o.server!] ?? 0) + 1;
    else {
      failures++;
      if (errors.length < 5) errors.push(o.error!);
    }
  }
  return { total: outcomes.length, counts, failures, errors };
}

const loops = new Map<string, { stop: boolean; outcomes: Outcome[]; done: Promise<void> }>();
const reply = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const cmd = JSON.parse(line) as {
    id: number;
    op: string;
    target: string;
    n?: number;
    concurrency?: number;
    deadlineMs?: number;
    intervalMs?: number;
    key?: string;
  };
  try {
    if (cmd.op === 'burst') {
      const outcomes: Outcome[] = [];
      const n = cmd.n ?? 100;
      let next = 0;
      const worker = async () => {
        while (next < n) {
          next++;
          outcomes.push(await call(cmd.target, cmd.deadlineMs ?? 5000));
        }
      };
      await Promise.all(Array.from({ length: cmd.concurrency ?? 4 }, worker));
      reply({ id: cmd.id, ...summarize(outcomes) });
    } else if (cmd.op === 'start') {
      const state = { stop: false, outcomes: [] as Outcome[], done: Promise.resolve() };
      state.done = (async () => {
        while (!state.stop) {
          state.outcomes.push(await call(cmd.target, cmd.deadlineMs ?? 5000));
          await new Promise((r) => setTimeout(r, cmd.intervalMs ?? 20));
        }
      })();
      loops.set(cmd.key ?? cmd.target, state);
      reply({ id: cmd.id, started: true });
    } else if (cmd.op === 'peek') {
      const state = loops.get(cmd.key ?? cmd.target);
      reply({ id: cmd.id, outcomes: state?.outcomes.slice(-(cmd.n ?? 20)) ?? [] });
    } else if (cmd.op === 'stop') {
      const state = loops.get(cmd.key ?? cmd.target);
      if (!state) throw new Error(`no running loop ${cmd.key ?? cmd.target}`);
      state.stop = true;
      await state.done;
      loops.delete(cmd.key ?? cmd.target);
      reply({ id: cmd.id, ...summarize(state.outcomes), outcomes: state.outcomes });
    } else if (cmd.op === 'exit') {
      for (const c of clients.values()) c.close();
      reply({ id: cmd.id, bye: true });
      process.exit(0);
    } else throw new Error(`unknown op ${cmd.op}`);
  } catch (err) {
    reply({ id: cmd.id, error: (err as Error).message });
  }
});
process.stdin.on('end', () => process.exit(0));
