// meshgate's xDS server as a benchmark child process, with the same control API as the Go peer
// (bench/peer/main.go) so both are driven and measured the same way and the load generator's
// CPU never lands in the server's numbers. Prints `READY {"xdsPort","ctlPort","pid"}` and exits
// when its stdin closes (the driver went away) or on POST /quit.
//
//   POST /setup?n=N            build N services, translate them and publish (whole group)
//   POST /change?svc=I&port=P  endpoint 0 of service I gets port P; only its assignment is patched
//   POST /gc                   global.gc() (needs --expose-gc), then the /stats body
//   GET  /stats                {"rssKB","hwmKB","cpuMs","heapKB"}
//   POST /quit
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Model } from '@meshgate/model';
import { translate, translateEndpoints, TYPE } from '@meshgate/translator';
import { XdsCache, XdsServer } from '@meshgate/xds-core';
import { benchModel } from './model.ts';
import { stats } from './proc.ts';

const GROUP = 'envoy';
const cache = new XdsCache();
const server = new XdsServer({ cache });
let model: Model | undefined;

function setup(n: number): number {
  const t0 = performance.now();
  model = benchModel(n);
  const { resources, problems } = translate(model, 'envoy');
  if (problems.length)
    throw new Error(`translate reported ${problems.length} problems, first: ${JSON.stringify(problems[0])}`);
  cache.publish(GROUP, resources);
  if (!cache.ready) cache.markReady();
  return performance.now() - t0;
}

function change(i: number, port: number): void {
  const svc = model?.services[i];
  if (!svc) throw new Error(`svc ${i} out of range (setup first; 0..${(model?.services.length ?? 0) - 1})`);
  svc.endpoints[0] = { ...svc.endpoints[0], port };
  cache.patch(GROUP, TYPE.endpoint, new Map([[svc.name, translateEndpoints(svc, 'envoy')]]));
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('our-server was started without --expose-gc');
  g();
  g();
}

function reply(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const q = (k: string) => Number(url.searchParams.get(k));
  try {
    switch (url.pathname) {
      case '/setup': {
        const n = q('n');
        if (!Number.isInteger(n) || n < 1) throw new Error('setup needs n=<positive integer>');
        return reply(res, { ms: setup(n) });
      }
      case '/change': {
        const i = q('svc');
        const port = q('port');
        if (!Number.isInteger(i) || !Number.isInteger(port) || port < 1 || port > 65535) {
          throw new Error('change needs svc=<index>&port=<1..65535>');
        }
        change(i, port);
        return reply(res, {});
      }
      case '/gc':
        gc();
        return reply(res, stats());
      case '/stats':
        return reply(res, stats());
      case '/quit':
        reply(res, {});
        void quit();
        return;
      default:
        return reply(res, { error: `unknown path ${url.pathname}` }, 404);
    }
  } catch (err) {
    reply(res, { error: (err as Error).message }, 400);
  }
}

let quitting = false;
async function quit(): Promise<void> {
  if (quitting) return;
  quitting = true;
  ctl.close();
  await Promise.race([server.close(), new Promise((r) => setTimeout(r, 2000))]);
  // A plain exit (not a signal) so --cpu-prof writes its profile.
  process.exit(0);
}

const xdsPort = await server.listen(0, '127.0.0.1');
const ctl = createServer(handle);
await new Promise<void>((r) => ctl.listen(0, '127.0.0.1', r));
process.stdin.on('end', () => void quit());
process.stdin.on('error', () => void quit());
process.stdin.resume();
process.stdout.write(
  `READY ${JSON.stringify({ xdsPort, ctlPort: (ctl.address() as AddressInfo).port, pid: process.pid })}\n`,
);
