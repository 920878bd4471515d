import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.ts';

export interface AdminHandlers {
  /** Readiness with a JSON-able detail object (the rest of the /readyz body). */
  readiness(): { ready: boolean; detail: object };
  metrics(): string | Promise<string>;
  nodes(): unknown;
  /** Returns undefined when nothing matches (404). Throws AdminInputError for bad queries (400). */
  resources(query: URLSearchParams): unknown;
}

/** A bad query string on an admin page: answered 400 with the message. */
export class AdminInputError extends Error {
  readonly code = 'E_ADMIN_INPUT';
}

function send(res: ServerResponse, status: number, body: string, type = 'application/json; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/**
 * The admin HTTP server. It binds to 127.0.0.1 unless told otherwise because /debug pages show
 * the whole mesh configuration; only GET and HEAD are answered.
 */
export class AdminServer {
  private server: Server | undefined;
  private readonly handlers: AdminHandlers;
  private readonly log: Logger;

  constructor(handlers: AdminHandlers, log: Logger) {
    this.handlers = handlers;
    this.log = log;
  }

  async listen(port: number, address = '127.0.0.1'): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = (server.address() as AddressInfo).port;
    this.log.info({ address, port: bound }, 'admin server listening');
    return bound;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, json({ error: `method ${req.method} not allowed; the admin API is read-only` }));
    }
    try {
      switch (url.pathname) {
        case '/healthz':
          return send(res, 200, 'ok\n', 'text/plain; charset=utf-8');
        case '/readyz': {
          const r = this.handlers.readiness();
          return send(res, r.ready ? 200 : 503, json({ ready: r.ready, ...r.detail }));
        }
        case '/metrics':
          Promise.resolve()
            .then(() => this.handlers.metrics())
            .then(
              (body) => send(res, 200, body, 'text/plain; version=0.0.4; charset=utf-8'),
              (err: Error) => send(res, 500, json({ error: `metrics: ${err.message}` })),
            );
          return;
        case '/debug/nodes':
          return send(res, 200, json(this.handlers.nodes()));
        case '/debug/resources': {
          const out = this.handlers.resources(url.searchParams);
          if (out === undefined) return send(res, 404, json({ error: 'no such resource' }));
          return send(res, 200, json(out));
        }
        case '/':
          return send(
            res,
            200,
            json({
              endpoints: [
                '/healthz',
                '/readyz',
                '/metrics',
                '/debug/nodes',
                '/debug/resources?profile=envoy&type=cluster[&name=NAME]',
              ],
            }),
          );
        default:
          return send(res, 404, json({ error: `no page ${url.pathname}; see / for the list` }));
      }
    } catch (err) {
      if (err instanceof AdminInputError) return send(res, 400, json({ error: err.message }));
      this.log.error({ err, path: url.pathname }, 'admin handler failed');
      return send(res, 500, json({ error: 'internal error; see the meshgate log' }));
    }
  }
}
