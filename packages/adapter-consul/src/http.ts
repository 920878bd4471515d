// A small HTTP client for the Consul agent API: one keep-alive agent, a hard body-size limit,
// timeouts, ACL token in a header (never in the URL, so it cannot leak through logged URLs), and
// errors that never carry the token.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { parseIndexHeader } from './blocking.ts';

export type ConsulErrorKind = 'unreachable' | 'timeout' | 'acl' | 'status' | 'too-large' | 'bad-json' | 'aborted';

export class ConsulHttpError extends Error {
  readonly code = 'CONSUL_HTTP';
  readonly kind: ConsulErrorKind;
  readonly status?: number;
  constructor(kind: ConsulErrorKind, message: string, status?: number) {
    super(message);
    this.name = 'ConsulHttpError';
    this.kind = kind;
    this.status = status;
  }
}

export interface ConsulResponse {
  status: number;
  index: number | undefined;
  body: unknown;
}

export interface ConsulHttpOptions {
  address: string;
  /** Returns the current token ('' = none); called per request so a re-read token is used at once. */
  token: () => string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  maxBodyBytes: number;
  /** Query parameters added to every request (dc, ns, partition) when set. */
  common: Record<string, string | undefined>;
  /** Replaces secrets in any text that leaves this module. */
  redact: (s: string) => string;
}

export class ConsulHttp {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  private readonly opts: ConsulHttpOptions;
  private readonly tlsExtra: https.RequestOptions = {};

  constructor(opts: ConsulHttpOptions) {
    this.opts = opts;
    this.base = new URL(opts.address);
    const isHttps = this.base.protocol === 'https:';
    this.mod = isHttps ? https : http;
    if (isHttps && opts.tls) {
      const read = (f: string, what: string) => {
        try {
          return readFileSync(f);
        } catch (e) {
          throw new Error(
            `consul.tls.${what}: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; fix the path or the file's permissions`,
          );
        }
      };
      if (opts.tls.caFile) this.tlsExtra.ca = read(opts.tls.caFile, 'caFile');
      if (opts.tls.certFile) this.tlsExtra.cert = read(opts.tls.certFile, 'certFile');
      if (opts.tls.keyFile) this.tlsExtra.key = read(opts.tls.keyFile, 'keyFile');
      if (opts.tls.serverName) this.tlsExtra.servername = opts.tls.serverName;
    }
    // Blocking queries hold a socket each; do not cap sockets, or watches would queue behind each other.
    this.agent = isHttps
      ? new https.Agent({
          keepAlive: true,
          ca: this.tlsExtra.ca,
          cert: this.tlsExtra.cert,
          key: this.tlsExtra.key,
          servername: this.tlsExtra.servername,
        })
      : new http.Agent({ keepAlive: true });
  }

  close(): void {
    this.agent.destroy();
  }

  url(path: string, query: Record<string, string | number | boolean | undefined> = {}): URL {
    const u = new URL(path, this.base);
    for (const [k, v] of Object.entries({ ...this.opts.common, ...query })) {
      if (v === undefined || v === false) continue;
      u.searchParams.set(k, v === true ? '' : String(v));
    }
    return u;
  }

  request(
    method: string,
    path: string,
    o: {
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
      timeoutMs: number;
      signal?: AbortSignal;
      allow404?: boolean;
    },
  ): Promise<ConsulResponse> {
    const u = this.url(path, o.query);
    const where = `${method} ${u.pathname}`;
    return new Promise<ConsulResponse>((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      const token = this.opts.token();
      if (token) headers['x-consul-token'] = token;
      let payload: Buffer | undefined;
      if (o.body !== undefined) {
        payload = Buffer.from(JSON.stringify(o.body));
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(payload.length);
      }
      let settled = false;
      const fail = (err: ConsulHttpError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        req.destroy();
        reject(err);
      };
      const req = this.mod.request(u, { method, headers, agent: this.agent, ...this.tlsExtra }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.opts.maxBodyBytes) {
            fail(
              new ConsulHttpError(
                'too-large',
                `${where}: answer larger than ${this.opts.maxBodyBytes} bytes (maxBodyBytes); skipped`,
                status,
              ),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => fail(new ConsulHttpError('unreachable', `${where}: ${this.opts.redact(e.message)}`)));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          o.signal?.removeEventListener('abort', onAbort);
          const text = Buffer.concat(chunks).toString('utf8');
          const index = parseIndexHeader(res.headers['x-consul-index']);
          if (status === 403)
            return reject(
              new ConsulHttpError(
                'acl',
                `${where}: Consul refused the ACL token (403 ${this.opts.redact(text.trim().slice(0, 120))}); check tokenFile/tokenEnv and the token's policy`,
                status,
              ),
            );
          if (status === 404 && o.allow404) return resolve({ status, index, body: undefined });
          if (status < 200 || status > 299)
            return reject(
              new ConsulHttpError(
                'status',
                `${where}: HTTP ${status} ${this.opts.redact(text.trim().slice(0, 200))}`,
                status,
              ),
            );
          if (text === '') return resolve({ status, index, body: undefined });
          try {
            resolve({ status, index, body: JSON.parse(text) });
          } catch {
            reject(new ConsulHttpError('bad-json', `${where}: answer is not valid JSON`, status));
          }
        });
      });
      const timer = setTimeout(
        () => fail(new ConsulHttpError('timeout', `${where}: no answer within ${o.timeoutMs} ms`)),
        o.timeoutMs,
      );
      const onAbort = () => fail(new ConsulHttpError('aborted', `${where}: aborted`));
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e: NodeJS.ErrnoException) =>
        fail(
          new ConsulHttpError(
            'unreachable',
            `${where}: cannot reach the Consul agent at ${this.base.origin} (${e.code ?? this.opts.redact(e.message)})`,
          ),
        ),
      );
      if (payload) req.end(payload);
      else req.end();
    });
  }
}
