// A Consul HTTP API **contract server**: the part of Consul's agent API that meshgate's Consul
// adapter relies on, implemented from the documented wire contract (Consul's HTTP API documentation and
// Consul's public API docs), because a real Consul agent cannot be built on this machine (the Go
// module proxy refuses hashicorp/consul@v1.16.4 with 403; see integration-tests/consul/README.md).
// It is not Consul: no raft, no gossip, one node, one datacenter. What it does keep faithfully:
//  - X-Consul-Index on every response; blocking queries with `index` and `wait` (default 5m,
//    capped at 10m, plus up to wait/16 random jitter) that return early when the watched data
//    changes; an index that can go backwards on demand (snapshot-restore style: waiters are
//    answered at once with the lower index);
//  - catalog services, health/service and health/connect with `passing`, TTL checks, sidecar
//    registration with an alias check that mirrors the parent's health;
//  - Connect CA: roots (active + inactive after rotation), blocking leaf endpoint issuing real
//    ECDSA P-256 leaves with the Consul SPIFFE URI, renewed at 60-90% of LeafCertTTL and on rotation;
//  - intentions (exact, match, check), agent authorize, config entries, ACL token check;
//  - fault injection: stop/start listening, malformed / wrong-typed / huge answers per service.
import http from 'node:http';
import https from 'node:https';
import { randomUUID, X509Certificate } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { CertificateAuthority, createRoot } from '@meshgate/certs';

export type CheckStatus = 'passing' | 'warning' | 'critical';

interface Check {
  CheckID: string;
  Name: string;
  Status: CheckStatus;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  TTLms?: number;
  timer?: NodeJS.Timeout;
  ModifyIndex: number;
}

interface Svc {
  ID: string;
  Service: string;
  Kind: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  Weights: { Passing: number; Warning: number };
  Proxy?: { DestinationServiceName: string; DestinationServiceID?: string; LocalServicePort?: number };
  Connect?: { Native?: boolean };
  parentId?: string;
  CreateIndex: number;
  ModifyIndex: number;
}

interface Intention {
  ID: string;
  SourceName: string;
  DestinationName: string;
  Action: 'allow' | 'deny';
  Description: string;
  Precedence: number;
  CreateIndex: number;
  ModifyIndex: number;
}

interface Root {
  ID: string;
  Name: string;
  SerialNumber: number;
  SigningKeyID: string;
  NotBefore: string;
  NotAfter: string;
  RootCert: string;
  Active: boolean;
  keyPem: string;
  ca: CertificateAuthority;
  CreateIndex: number;
  ModifyIndex: number;
}

interface Leaf {
  body: Record<string, unknown>;
  index: number;
  rootId: string;
  timer?: NodeJS.Timeout;
}

export type Malformation = 'json' | 'types' | 'huge';

export interface ContractServerOptions {
  datacenter?: string;
  nodeName?: string;
  nodeAddress?: string;
  nodeMeta?: Record<string, string>;
  /** When set, every request must carry this token (X-Consul-Token or Authorization: Bearer). */
  aclToken?: string;
  /** Verdict when no intention matches. Default 'allow' (ACLs off, as in `consul agent -dev`). */
  defaultIntentionPolicy?: 'allow' | 'deny';
  /** Initial LeafCertTTL. Default '72h'. */
  leafCertTTL?: string;
  /** Size of the 'huge' malformation. Default 17 MiB. */
  hugeBytes?: number;
  /** Serve HTTPS (like an agent with an https port); with `ca`, client certificates are required (verify_incoming). */
  tls?: { certPem: string; keyPem: string; caPem?: string };
}

interface Waiter {
  compute: () => { index: number; body: unknown; status?: number };
  minIndex: number;
  respond: (r: { index: number; body: unknown; status?: number }) => void;
  timer: NodeJS.Timeout;
}

export interface ContractStats {
  requests: number;
  byRoute: Record<string, number>;
  blocking: number;
  maxPlainInFlight: number;
  tokensSeen: Set<string>;
}

function parseDur(s: string): number | undefined {
  let total = 0;
  let rest = s.trim();
  if (!rest) return undefined;
  // Go durations may be compound ("1h30m"); take them apart left to right.
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
    rest = rest.slice(m[0].length);
  }
  return total;
}

const colonHex = (hex: string) =>
  hex
    .toLowerCase()
    .replace(/^0+(?=..)/, '')
    .match(/.{1,2}/g)!
    .join(':');

export class ConsulContractServer {
  readonly datacenter: string;
  readonly trustDomain: string;
  readonly clusterId: string;
  port = 0;
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly o: Required<Omit<ContractServerOptions, 'aclToken' | 'tls'>> & {
    aclToken?: string;
    tls?: ContractServerOptions['tls'];
  };

  private index = 10;
  private readonly touched = new Map<string, number>();
  private readonly services = new Map<string, Svc>();
  private readonly checks = new Map<string, Check>();
  private readonly intentions = new Map<string, Intention>();
  private readonly configEntries = new Map<string, Record<string, unknown>>();
  private roots: Root[] = [];
  private leafTtlMs: number;
  private leafTtl: string;
  private readonly leaves = new Map<string, Leaf>();
  private readonly leafIssuing = new Map<string, Promise<Leaf>>();
  private readonly waiters = new Set<Waiter>();
  private readonly malformed = new Map<string, Malformation>();
  private hugeBody?: Buffer;
  private plainInFlight = 0;
  /** Delay before answering non-blocking requests (a loaded agent), so fan-out limits are observable. */
  plainLatencyMs = 0;
  stats: ContractStats = { requests: 0, byRoute: {}, blocking: 0, maxPlainInFlight: 0, tokensSeen: new Set() };

  private constructor(o: ContractServerOptions) {
    this.o = {
      datacenter: o.datacenter ?? 'dc1',
      nodeName: o.nodeName ?? 'contract-node',
      nodeAddress: o.nodeAddress ?? '127.0.0.1',
      nodeMeta: o.nodeMeta ?? {},
      aclToken: o.aclToken,
      defaultIntentionPolicy: o.defaultIntentionPolicy ?? 'allow',
      leafCertTTL: o.leafCertTTL ?? '72h',
      hugeBytes: o.hugeBytes ?? 17 * 1024 * 1024,
      tls: o.tls,
    };
    this.datacenter = this.o.datacenter;
    this.clusterId = randomUUID();
    this.trustDomain = `${this.clusterId}.consul`;
    this.leafTtl = this.o.leafCertTTL;
    const ttl = parseDur(this.leafTtl);
    if (!ttl) throw new Error(`leafCertTTL ${this.leafTtl} is not a duration`);
    this.leafTtlMs = ttl;
  }

  /** Starts a contract server on 127.0.0.1 (port 0 = a free port). */
  static async start(o: ContractServerOptions = {}, port = 0): Promise<ConsulContractServer> {
    const s = new ConsulContractServer(o);
    await s.addRoot();
    await s.listen(port);
    return s;
  }

  get address(): string {
    return `${this.o.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  // ------------------------------------------------------------ lifecycle and faults

  private listen(port: number): Promise<void> {
    const t = this.o.tls;
    const server: http.Server = t
      ? https.createServer(
          {
            cert: t.certPem,
            key: t.keyPem,
            ...(t.caPem ? { ca: t.caPem, requestCert: true, rejectUnauthorized: true } : {}),
          },
          (req, res) => this.handle(req, res),
        )
      : http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stops listening and drops every connection (the agent went away). State is kept. */
  async stopListening(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Listens again on the same port. */
  async startListening(): Promise<void> {
    if (this.server) return;
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    await this.stopListening();
    for (const c of this.checks.values()) clearTimeout(c.timer);
    for (const l of this.leaves.values()) clearTimeout(l.timer);
  }

  /** Makes /v1/health/{service,connect}/<name> answer badly (or normally again with null). */
  malform(service: string, kind: Malformation | null): void {
    if (kind) this.malformed.set(service, kind);
    else this.malformed.delete(service);
    this.bump([`svc:${service}`, `connect:${service}`]);
  }

  /** Serves a leaf for `svc` whose private key does not match its certificate (until the next renewal). */
  async injectBadLeaf(svc: string): Promise<void> {
    const good = await this.ensureLeaf(svc);
    const other = await this.active().ca.issue({
      spiffe: `spiffe://${this.trustDomain}/ns/default/dc/${this.datacenter}/svc/${svc}`,
      ttlMs: this.leafTtlMs,
    });
    const idx = this.bump([`leaf:${svc}`]);
    good.body = { ...good.body, PrivateKeyPEM: other.keyPem, ModifyIndex: idx };
    good.index = idx;
    this.wake();
  }

  /**
   * Sets the index back to `to` (as a raft snapshot restore does): every index is capped at `to`
   * and all blocking queries are answered at once, so clients see an index lower than theirs.
   */
  resetIndex(to: number): void {
    this.index = Math.max(1, to);
    for (const [k, v] of this.touched) if (v > this.index) this.touched.set(k, this.index);
    for (const w of [...this.waiters]) this.finish(w);
  }

  resetStats(): void {
    this.stats = { requests: 0, byRoute: {}, blocking: 0, maxPlainInFlight: 0, tokensSeen: new Set() };
  }

  /** Blocking queries currently waiting for a change. */
  get waitingQueries(): number {
    return this.waiters.size;
  }

  /** Current (global) index. */
  get currentIndex(): number {
    return this.index;
  }

  /** Inserts many plain services at once (equivalent to registering each; one index bump). */
  seedServices(services: { id: string; name: string; address: string; port: number; tags?: string[] }[]): void {
    const idx = ++this.index;
    const keys: string[] = ['catalog'];
    for (const s of services) {
      this.services.set(s.id, {
        ID: s.id,
        Service: s.name,
        Kind: '',
        Tags: s.tags ?? [],
        Address: s.address,
        Port: s.port,
        Meta: {},
        Weights: { Passing: 1, Warning: 1 },
        CreateIndex: idx,
        ModifyIndex: idx,
      });
      keys.push(`svc:${s.name}`, `connect:${s.name}`);
    }
    for (const k of keys) this.touched.set(k, idx);
    this.wake();
  }

  // ------------------------------------------------------------ index bookkeeping

  private bump(keys: string[]): number {
    const idx = ++this.index;
    for (const k of keys) this.touched.set(k, idx);
    this.wake();
    return idx;
  }

  private idx(key: string, fallback = 'catalog'): number {
    return Math.max(1, this.touched.get(key) ?? this.touched.get(fallback) ?? this.index);
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      const r = w.compute();
      if (r.index > w.minIndex) this.finish(w, r);
    }
  }

  private finish(w: Waiter, r = w.compute()): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    w.respond(r);
  }

  // ------------------------------------------------------------ HTTP plumbing

  private send(res: http.ServerResponse, status: number, body: unknown, index = this.index): void {
    if (res.writableEnded || res.destroyed) return;
    res.setHeader('X-Consul-Index', String(Math.max(1, index)));
    res.setHeader('X-Consul-KnownLeader', 'true');
    res.setHeader('X-Consul-LastContact', '0');
    if (Buffer.isBuffer(body)) {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    } else if (typeof body === 'string' && status >= 400) {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    } else {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text);
    }
  }

  private readBody(req: http.IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', reject);
      req.on('end', () => {
        const t = Buffer.concat(chunks).toString('utf8');
        if (!t) return resolve(undefined);
        try {
          resolve(JSON.parse(t));
        } catch {
          reject(new Error('Request decode failed: invalid JSON body'));
        }
      });
    });
  }

  /** Answers now, or blocks until the computed index passes `index` or the wait expires. */
  private blocking(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    q: URLSearchParams,
    compute: () => { index: number; body: unknown; status?: number },
    plainDone: () => void,
  ): void {
    const minIndex = Number(q.get('index') ?? '0');
    const first = compute();
    if (!(minIndex > 0) || first.index > minIndex) {
      plainDone();
      return this.send(res, first.status ?? 200, first.body, first.index);
    }
    plainDone();
    this.stats.blocking++;
    let wait = 5 * 60_000;
    const ws = q.get('wait');
    if (ws) {
      const d = parseDur(ws);
      if (d === undefined) return this.send(res, 400, `Invalid wait time: ${ws}`);
      wait = d;
    }
    wait = Math.min(wait, 10 * 60_000);
    wait += Math.random() * (wait / 16);
    const w: Waiter = {
      compute,
      minIndex,
      respond: (r) => this.send(res, r.status ?? 200, r.body, r.index),
      timer: setTimeout(() => this.finish(w), wait),
    };
    this.waiters.add(w);
    req.socket.once('close', () => {
      clearTimeout(w.timer);
      this.waiters.delete(w);
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const path = u.pathname;
    const q = u.searchParams;
    const method = req.method ?? 'GET';
    const route = `${method} ${path.replace(/^(\/v1\/[a-z-]+\/[a-z-]+(?:\/(?:ca|check|service)\/[a-z]+)?).*$/, '$1')}`;
    this.stats.requests++;
    this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
    const plain = !(Number(q.get('index') ?? '0') > 0);
    let counted = false;
    if (plain) {
      counted = true;
      this.plainInFlight++;
      this.stats.maxPlainInFlight = Math.max(this.stats.maxPlainInFlight, this.plainInFlight);
    }
    const done = () => {
      if (counted) {
        counted = false;
        this.plainInFlight--;
      }
    };
    res.on('close', done);

    const token =
      (req.headers['x-consul-token'] as string | undefined) ??
      (req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : undefined) ??
      q.get('token') ??
      '';
    if (token) this.stats.tokensSeen.add(token);
    if (this.o.aclToken !== undefined && token !== this.o.aclToken) return this.send(res, 403, 'ACL not found');

    const go = () => this.route(method, path, q, req, res, done).catch((e: Error) => this.send(res, 500, e.message));
    if (plain && this.plainLatencyMs > 0) setTimeout(go, this.plainLatencyMs);
    else void go();
  }

  private async route(
    method: string,
    path: string,
    q: URLSearchParams,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    done: () => void,
  ): Promise<void> {
    const dc = q.get('dc');
    if (dc && dc !== this.datacenter) return this.send(res, 500, `No path to datacenter`);
    let m: RegExpExecArray | null;
    const need = (allowed: string) => {
      if (method !== allowed) {
        this.send(res, 405, `method ${method} not allowed`);
        return false;
      }
      return true;
    };

    if (path === '/v1/agent/self') {
      if (!need('GET')) return;
      return this.send(res, 200, {
        Config: {
          Datacenter: this.datacenter,
          NodeName: this.o.nodeName,
          NodeID: this.clusterId,
          Server: true,
          Version: '1.16.4-contract',
        },
        Member: { Name: this.o.nodeName, Addr: this.o.nodeAddress },
        Meta: this.o.nodeMeta,
      });
    }
    if (path === '/v1/status/leader') return this.send(res, 200, '127.0.0.1:8300');

    if (path === '/v1/catalog/services') {
      if (!need('GET')) return;
      return this.blocking(
        req,
        res,
        q,
        () => {
          const out: Record<string, string[]> = {};
          for (const s of this.services.values()) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
          return { index: this.idx('catalog'), body: out };
        },
        done,
      );
    }
    if ((m = /^\/v1\/health\/(service|connect)\/([^/]+)$/.exec(path))) {
      if (!need('GET')) return;
      const kind = m[1];
      const name = decodeURIComponent(m[2]);
      const passing = q.has('passing') && !['false', '0'].includes(q.get('passing')!);
      return this.blocking(
        req,
        res,
        q,
        () => {
          const key = `${kind === 'connect' ? 'connect' : 'svc'}:${name}`;
          const index = this.idx(key);
          const bad = this.malformed.get(name);
          if (bad) return { index, body: this.badBody(bad) };
          const entries = [...this.services.values()]
            .filter((s) =>
              kind === 'service'
                ? s.Service === name && s.Kind === ''
                : (s.Kind === 'connect-proxy' && s.Proxy?.DestinationServiceName === name) ||
                  (s.Service === name && s.Connect?.Native),
            )
            .map((s) => this.healthEntry(s))
            .filter((e) => !passing || e.Checks.every((c) => c.Status === 'passing'));
          return { index, body: entries };
        },
        done,
      );
    }

    if (path === '/v1/agent/service/register') {
      if (!need('PUT')) return;
      const b = (await this.readBody(req)) as Record<string, unknown>;
      const err = this.register(b);
      return err ? this.send(res, 400, err) : this.send(res, 200, undefined);
    }
    if ((m = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(path))) {
      if (!need('PUT')) return;
      const id = decodeURIComponent(m[1]);
      if (!this.services.has(id))
        return this.send(
          res,
          404,
          `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
        );
      this.deregister(id);
      return this.send(res, 200, undefined);
    }
    if ((m = /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/.exec(path))) {
      if (!need('PUT')) return;
      const status: CheckStatus = m[1] === 'pass' ? 'passing' : m[1] === 'warn' ? 'warning' : 'critical';
      const err = this.setCheck(decodeURIComponent(m[2]), status, q.get('note') ?? '');
      return err ? this.send(res, 404, err) : this.send(res, 200, undefined);
    }
    if ((m = /^\/v1\/agent\/check\/update\/(.+)$/.exec(path))) {
      if (!need('PUT')) return;
      const b = ((await this.readBody(req)) ?? {}) as { Status?: string; Output?: string };
      if (!['passing', 'warning', 'critical'].includes(b.Status ?? ''))
        return this.send(res, 400, 'Invalid check status');
      const err = this.setCheck(decodeURIComponent(m[1]), b.Status as CheckStatus, b.Output ?? '');
      return err ? this.send(res, 404, err) : this.send(res, 200, undefined);
    }

    if (path === '/v1/agent/connect/ca/roots' || path === '/v1/connect/ca/roots') {
      if (!need('GET')) return;
      return this.blocking(req, res, q, () => ({ index: this.idx('roots'), body: this.rootsBody() }), done);
    }
    if ((m = /^\/v1\/agent\/connect\/ca\/leaf\/([^/]+)$/.exec(path))) {
      if (!need('GET')) return;
      const svc = decodeURIComponent(m[1]);
      await this.ensureLeaf(svc);
      return this.blocking(
        req,
        res,
        q,
        () => {
          const l = this.leaves.get(svc)!;
          return { index: l.index, body: l.body };
        },
        done,
      );
    }
    if (path === '/v1/connect/ca/configuration') {
      if (method === 'GET') return this.send(res, 200, this.caConfig(), this.idx('caconfig', 'roots'));
      if (!need('PUT')) return;
      const b = (await this.readBody(req)) as { Provider?: string; Config?: Record<string, unknown> };
      const err = await this.putCaConfig(b);
      return err ? this.send(res, 400, err) : this.send(res, 200, undefined);
    }
    if (path === '/v1/agent/connect/authorize') {
      if (!need('POST')) return;
      const b = ((await this.readBody(req)) ?? {}) as { Target?: string; ClientCertURI?: string };
      if (!b.Target || !b.ClientCertURI)
        return this.send(res, 400, 'Target service and ClientCertURI must be specified');
      const sm = /^spiffe:\/\/([^/]+)\/ns\/[^/]+\/dc\/[^/]+\/svc\/([^/]+)$/.exec(b.ClientCertURI);
      if (!sm)
        return this.send(res, 200, { Authorized: false, Reason: 'Client ID must be a valid SPIFFE service URI' });
      if (sm[1].toLowerCase() !== this.trustDomain)
        return this.send(res, 200, { Authorized: false, Reason: 'Client ID from a different trust domain' });
      const v = this.evaluate(sm[2], b.Target);
      return this.send(res, 200, { Authorized: v.allowed, Reason: v.reason });
    }

    if (path === '/v1/connect/intentions/exact') {
      const src = q.get('source');
      const dst = q.get('destination');
      if (!src || !dst) return this.send(res, 400, 'required query parameter source and destination');
      const key = `${src}\u0000${dst}`;
      if (method === 'GET') {
        const i = this.intentions.get(key);
        return i
          ? this.send(res, 200, this.intentionBody(i), this.idx('intentions'))
          : this.send(res, 404, 'Intention not found');
      }
      if (method === 'DELETE') {
        this.intentions.delete(key);
        this.bump(['intentions']);
        return this.send(res, 200, true);
      }
      if (!need('PUT')) return;
      const b = ((await this.readBody(req)) ?? {}) as { Action?: string; Description?: string };
      if (b.Action !== 'allow' && b.Action !== 'deny')
        return this.send(res, 400, "Action must be set to 'allow' or 'deny'");
      const prev = this.intentions.get(key);
      const idx = this.index + 1;
      this.intentions.set(key, {
        ID: prev?.ID ?? randomUUID(),
        SourceName: src,
        DestinationName: dst,
        Action: b.Action,
        Description: b.Description ?? '',
        Precedence: precedence(src, dst),
        CreateIndex: prev?.CreateIndex ?? idx,
        ModifyIndex: idx,
      });
      this.bump(['intentions']);
      return this.send(res, 200, true);
    }
    if (path === '/v1/connect/intentions/match') {
      if (!need('GET')) return;
      const by = q.get('by');
      const names = q.getAll('name');
      if ((by !== 'source' && by !== 'destination') || names.length === 0)
        return this.send(res, 400, 'required query parameter by (source|destination) and name');
      return this.blocking(
        req,
        res,
        q,
        () => {
          const out: Record<string, unknown[]> = {};
          for (const n of names)
            out[n] = this.sorted()
              .filter(
                (i) =>
                  (by === 'source' ? i.SourceName : i.DestinationName) === n ||
                  (by === 'source' ? i.SourceName : i.DestinationName) === '*',
              )
              .map((i) => this.intentionBody(i));
          return { index: this.idx('intentions'), body: out };
        },
        done,
      );
    }
    if (path === '/v1/connect/intentions/check') {
      if (!need('GET')) return;
      const src = q.get('source');
      const dst = q.get('destination');
      if (!src || !dst) return this.send(res, 400, 'required query parameter source and destination');
      return this.send(res, 200, { Allowed: this.evaluate(src, dst).allowed }, this.idx('intentions'));
    }

    if (path === '/v1/config') {
      if (!need('PUT')) return;
      const b = (await this.readBody(req)) as Record<string, unknown>;
      const err = this.putConfigEntry(b, q.get('cas'));
      if (err === false) return this.send(res, 200, false);
      return err ? this.send(res, 400, err) : this.send(res, 200, true);
    }
    if ((m = /^\/v1\/config\/([^/]+)(?:\/([^/]+))?$/.exec(path))) {
      const kind = decodeURIComponent(m[1]);
      const name = m[2] ? decodeURIComponent(m[2]) : undefined;
      if (method === 'DELETE' && name) {
        this.configEntries.delete(`${kind}/${name}`);
        this.bump([`config:${kind}/${name}`, `config:${kind}`]);
        return this.send(res, 200, true);
      }
      if (!need('GET')) return;
      if (name) {
        return this.blocking(
          req,
          res,
          q,
          () => {
            const e = this.configEntries.get(`${kind}/${name}`);
            const index = this.idx(`config:${kind}/${name}`, 'config');
            return e
              ? { index, body: e }
              : { index, body: `Config entry not found for "${kind}" / "${name}"`, status: 404 };
          },
          done,
        );
      }
      return this.blocking(
        req,
        res,
        q,
        () => ({
          index: this.idx(`config:${kind}`, 'config'),
          body: [...this.configEntries.entries()].filter(([k]) => k.startsWith(`${kind}/`)).map(([, v]) => v),
        }),
        done,
      );
    }
    this.send(res, 404, `Invalid URL path: not a recognized HTTP API endpoint: ${path}`);
  }

  // ------------------------------------------------------------ catalog and health

  private badBody(kind: Malformation): unknown {
    if (kind === 'json') return Buffer.from('[{"Node": {"Node": "contract-node", "Address": ');
    if (kind === 'types')
      return [
        {
          Node: { Node: 7, Address: ['x'] },
          Service: { ID: 1, Service: 'x', Port: 'eighty', Tags: 'nope' },
          Checks: { Status: 'passing' },
        },
      ];
    if (!this.hugeBody) this.hugeBody = Buffer.from(JSON.stringify([{ Padding: 'x'.repeat(this.o.hugeBytes) }]));
    return this.hugeBody;
  }

  private healthEntry(s: Svc) {
    const node = {
      ID: this.clusterId,
      Node: this.o.nodeName,
      Address: this.o.nodeAddress,
      Datacenter: this.datacenter,
      TaggedAddresses: { lan: this.o.nodeAddress, wan: this.o.nodeAddress },
      Meta: { ...this.o.nodeMeta },
      CreateIndex: 5,
      ModifyIndex: 5,
    };
    const checks: Record<string, unknown>[] = [
      {
        Node: this.o.nodeName,
        CheckID: 'serfHealth',
        Name: 'Serf Health Status',
        Status: 'passing',
        Notes: '',
        Output: 'Agent alive and reachable',
        ServiceID: '',
        ServiceName: '',
        ServiceTags: [],
        Type: '',
        CreateIndex: 5,
        ModifyIndex: 5,
      },
    ];
    for (const c of this.checks.values()) {
      if (c.ServiceID !== s.ID) continue;
      checks.push({
        Node: this.o.nodeName,
        CheckID: c.CheckID,
        Name: c.Name,
        Status: c.Status,
        Notes: '',
        Output: c.Output,
        ServiceID: s.ID,
        ServiceName: s.Service,
        ServiceTags: s.Tags,
        Type: c.TTLms ? 'ttl' : '',
        CreateIndex: c.ModifyIndex,
        ModifyIndex: c.ModifyIndex,
      });
    }
    if (s.parentId) {
      // Sidecars registered with sidecar_service carry an alias check mirroring the parent's health.
      const parentChecks = [...this.checks.values()].filter((c) => c.ServiceID === s.parentId);
      const worst =
        parentChecks.some((c) => c.Status === 'critical') || !this.services.has(s.parentId)
          ? 'critical'
          : parentChecks.some((c) => c.Status === 'warning')
            ? 'warning'
            : 'passing';
      checks.push({
        Node: this.o.nodeName,
        CheckID: `service:${s.ID}:2`,
        Name: `Connect Sidecar Aliasing ${s.parentId}`,
        Status: worst,
        Output: '',
        ServiceID: s.ID,
        ServiceName: s.Service,
        ServiceTags: s.Tags,
        Type: 'alias',
        CreateIndex: s.CreateIndex,
        ModifyIndex: s.ModifyIndex,
      });
    }
    const service: Record<string, unknown> = {
      ID: s.ID,
      Service: s.Service,
      Tags: s.Tags,
      Address: s.Address,
      Meta: s.Meta,
      Port: s.Port,
      Weights: s.Weights,
      EnableTagOverride: false,
      Connect: s.Connect ?? {},
      CreateIndex: s.CreateIndex,
      ModifyIndex: s.ModifyIndex,
    };
    if (s.Kind) service.Kind = s.Kind;
    if (s.Proxy) service.Proxy = { ...s.Proxy, Mode: '', MeshGateway: {}, Expose: {} };
    return { Node: node, Service: service, Checks: checks as { Status: string }[] };
  }

  private keysFor(s: Svc): string[] {
    const keys = ['catalog', `svc:${s.Service}`, `connect:${s.Service}`];
    if (s.Proxy?.DestinationServiceName) keys.push(`connect:${s.Proxy.DestinationServiceName}`);
    return keys;
  }

  private register(b: Record<string, unknown>): string | undefined {
    if (!b || typeof b.Name !== 'string' || !b.Name) return 'Missing service name';
    const name = b.Name;
    const id = typeof b.ID === 'string' && b.ID ? b.ID : name;
    const kind = typeof b.Kind === 'string' ? b.Kind : '';
    if (
      ![
        '',
        'typical',
        'connect-proxy',
        'ingress-gateway',
        'terminating-gateway',
        'mesh-gateway',
        'api-gateway',
      ].includes(kind)
    )
      return `Invalid service kind: ${kind}`;
    const port = b.Port === undefined ? 0 : b.Port;
    if (typeof port !== 'number' || !Number.isInteger(port)) return 'Request decode failed: Port must be a number';
    const proxy = b.Proxy as Svc['Proxy'] | undefined;
    if (kind === 'connect-proxy' && !proxy?.DestinationServiceName)
      return 'Proxy.DestinationServiceName must be set for connect-proxy';
    const prev = this.services.get(id);
    const idx = this.index + 1;
    const weights = (b.Weights as Svc['Weights'] | undefined) ?? { Passing: 1, Warning: 1 };
    const svc: Svc = {
      ID: id,
      Service: name,
      Kind: kind === 'typical' ? '' : kind,
      Tags: Array.isArray(b.Tags) ? (b.Tags as string[]) : [],
      Address: typeof b.Address === 'string' ? b.Address : '',
      Port: port,
      Meta: (b.Meta as Record<string, string>) ?? {},
      Weights: weights,
      Proxy: proxy,
      Connect: (b.Connect as { Native?: boolean } | undefined)?.Native ? { Native: true } : undefined,
      parentId: prev?.parentId,
      CreateIndex: prev?.CreateIndex ?? idx,
      ModifyIndex: idx,
    };
    for (const [cid, c] of this.checks)
      if (c.ServiceID === id) {
        clearTimeout(c.timer);
        this.checks.delete(cid);
      }
    this.services.set(id, svc);
    const defs: Record<string, unknown>[] = [];
    if (b.Check && typeof b.Check === 'object') defs.push(b.Check as Record<string, unknown>);
    if (Array.isArray(b.Checks)) defs.push(...(b.Checks as Record<string, unknown>[]));
    defs.forEach((d, i) => {
      const cid =
        typeof d.CheckID === 'string' && d.CheckID
          ? d.CheckID
          : defs.length === 1
            ? `service:${id}`
            : `service:${id}:${i + 1}`;
      const ttl = typeof d.TTL === 'string' ? parseDur(d.TTL) : undefined;
      const status = (
        ['passing', 'warning', 'critical'].includes(d.Status as string) ? d.Status : 'critical'
      ) as CheckStatus;
      const c: Check = {
        CheckID: cid,
        Name: (d.Name as string) ?? `Service '${name}' check`,
        Status: status,
        Output: '',
        ServiceID: id,
        ServiceName: name,
        TTLms: ttl,
        ModifyIndex: idx,
      };
      this.checks.set(cid, c);
      this.armTtl(c);
    });
    const sidecar = (b.Connect as { SidecarService?: { Port?: number; Tags?: string[]; Address?: string } } | undefined)
      ?.SidecarService;
    const keys = this.keysFor(svc);
    if (sidecar) {
      const sid = `${id}-sidecar-proxy`;
      const used = new Set([...this.services.values()].map((s) => s.Port));
      let p = sidecar.Port ?? 21000;
      while (!sidecar.Port && used.has(p)) p++;
      const sc: Svc = {
        ID: sid,
        Service: `${name}-sidecar-proxy`,
        Kind: 'connect-proxy',
        Tags: sidecar.Tags ?? [],
        Address: sidecar.Address ?? svc.Address,
        Port: p,
        Meta: {},
        Weights: { Passing: 1, Warning: 1 },
        Proxy: { DestinationServiceName: name, DestinationServiceID: id, LocalServicePort: port },
        parentId: id,
        CreateIndex: this.services.get(sid)?.CreateIndex ?? idx,
        ModifyIndex: idx,
      };
      this.services.set(sid, sc);
      keys.push(...this.keysFor(sc));
    }
    this.bump(keys);
    return undefined;
  }

  private deregister(id: string): void {
    const s = this.services.get(id)!;
    const keys = this.keysFor(s);
    for (const [sid, x] of this.services) {
      if (sid === id || x.parentId === id) {
        keys.push(...this.keysFor(x));
        this.services.delete(sid);
        for (const [cid, c] of this.checks)
          if (c.ServiceID === sid) {
            clearTimeout(c.timer);
            this.checks.delete(cid);
          }
      }
    }
    this.bump(keys);
  }

  private armTtl(c: Check): void {
    clearTimeout(c.timer);
    if (!c.TTLms || c.Status === 'critical') return;
    c.timer = setTimeout(() => {
      c.Status = 'critical';
      c.Output = 'TTL expired';
      this.touchService(c.ServiceID);
    }, c.TTLms);
    c.timer.unref();
  }

  private touchService(id: string): void {
    const s = this.services.get(id);
    if (!s) return;
    const keys = this.keysFor(s);
    for (const x of this.services.values()) if (x.parentId === id) keys.push(...this.keysFor(x));
    this.bump(keys);
  }

  private setCheck(id: string, status: CheckStatus, output: string): string | undefined {
    const c = this.checks.get(id);
    if (!c) return `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`;
    if (!c.TTLms) return `CheckID "${id}" does not have associated TTL`;
    c.Status = status;
    c.Output = output;
    c.ModifyIndex = this.index + 1;
    this.armTtl(c);
    this.touchService(c.ServiceID);
    return undefined;
  }

  // ------------------------------------------------------------ Connect CA

  private async addRoot(given?: { certPem: string; keyPem: string }): Promise<void> {
    const pems =
      given ?? (await createRoot({ trustDomain: this.trustDomain, commonName: `Consul CA ${this.roots.length + 7}` }));
    const ca = await CertificateAuthority.load({ certPem: pems.certPem, keyPem: pems.keyPem });
    const x = new X509Certificate(pems.certPem);
    const idx = this.index + 1;
    for (const r of this.roots) r.Active = false;
    this.roots.push({
      ID: x.fingerprint.toLowerCase(),
      Name: `Consul CA Primary Cert`,
      SerialNumber: Number.parseInt(x.serialNumber.slice(-8), 16),
      SigningKeyID: colonHex(x.fingerprint256.replace(/:/g, '').slice(0, 40)),
      NotBefore: new Date(x.validFrom).toISOString(),
      NotAfter: new Date(x.validTo).toISOString(),
      RootCert: pems.certPem.trim(),
      Active: true,
      keyPem: pems.keyPem,
      ca,
      CreateIndex: idx,
      ModifyIndex: idx,
    });
    this.bump(['roots', 'caconfig']);
  }

  private active(): Root {
    return this.roots.find((r) => r.Active)!;
  }

  private rootsBody() {
    const a = this.active();
    return {
      ActiveRootID: a.ID,
      TrustDomain: this.trustDomain,
      Roots: this.roots.map((r) => ({
        ID: r.ID,
        Name: r.Name,
        SerialNumber: r.SerialNumber,
        SigningKeyID: r.SigningKeyID,
        ExternalTrustDomain: this.clusterId,
        NotBefore: r.NotBefore,
        NotAfter: r.NotAfter,
        RootCert: r.RootCert,
        IntermediateCerts: null,
        Active: r.Active,
        PrivateKeyType: 'ec',
        PrivateKeyBits: 256,
        CreateIndex: r.CreateIndex,
        ModifyIndex: r.ModifyIndex,
      })),
    };
  }

  private caConfig() {
    return {
      Provider: 'consul',
      Config: {
        LeafCertTTL: this.leafTtl,
        IntermediateCertTTL: '8760h',
        RootCertTTL: '87600h',
        PrivateKeyType: 'ec',
        PrivateKeyBits: 256,
      },
      State: null,
      ForceWithoutCrossSigning: false,
      CreateIndex: 5,
      ModifyIndex: this.idx('caconfig', 'roots'),
    };
  }

  private async putCaConfig(b: { Provider?: string; Config?: Record<string, unknown> }): Promise<string | undefined> {
    if (!b || (b.Provider && b.Provider !== 'consul')) return 'contract server supports only the "consul" CA provider';
    const c = b.Config ?? {};
    if (c.LeafCertTTL !== undefined) {
      const ms = typeof c.LeafCertTTL === 'string' ? parseDur(c.LeafCertTTL) : undefined;
      if (!ms || ms < 1000) return `Invalid LeafCertTTL: ${String(c.LeafCertTTL)}`;
      this.leafTtl = c.LeafCertTTL as string;
      this.leafTtlMs = ms;
      this.bump(['caconfig']);
    }
    if (typeof c.PrivateKey === 'string' && c.PrivateKey.trim() !== this.active().keyPem.trim()) {
      if (typeof c.RootCert !== 'string') return 'the contract server needs RootCert together with a new PrivateKey';
      try {
        await this.addRoot({ certPem: c.RootCert, keyPem: c.PrivateKey });
      } catch (e) {
        return `error parsing private key / root certificate: ${(e as Error).message}`;
      }
      // Every cached leaf is reissued from the new CA, waking blocked leaf queries.
      for (const svc of this.leaves.keys()) await this.issueLeaf(svc);
    }
    return undefined;
  }

  private async ensureLeaf(svc: string): Promise<Leaf> {
    const l = this.leaves.get(svc);
    if (l && l.rootId === this.active().ID) return l;
    return this.issueLeaf(svc);
  }

  private issueLeaf(svc: string): Promise<Leaf> {
    const pending = this.leafIssuing.get(svc);
    if (pending) return pending;
    const p = (async () => {
      const root = this.active();
      const uri = `spiffe://${this.trustDomain}/ns/default/dc/${this.datacenter}/svc/${svc}`;
      const cert = await root.ca.issue({ spiffe: uri, ttlMs: this.leafTtlMs });
      const prev = this.leaves.get(svc);
      clearTimeout(prev?.timer);
      const idx = this.bump([`leaf:${svc}`]);
      const leaf: Leaf = {
        index: idx,
        rootId: root.ID,
        body: {
          SerialNumber: colonHex(cert.serialNumber),
          CertPEM: cert.chainPem,
          PrivateKeyPEM: cert.keyPem,
          Service: svc,
          ServiceURI: uri,
          ValidAfter: cert.notBefore.toISOString(),
          ValidBefore: cert.notAfter.toISOString(),
          Namespace: 'default',
          Datacenter: this.datacenter,
          CreateIndex: idx,
          ModifyIndex: idx,
        },
      };
      // Like the agent's cache: renew at a random point between 60% and 90% of the lifetime.
      const life = cert.notAfter.getTime() - Date.now();
      leaf.timer = setTimeout(() => void this.issueLeaf(svc), Math.max(100, life * (0.6 + 0.3 * Math.random())));
      leaf.timer.unref();
      this.leaves.set(svc, leaf);
      this.wake();
      return leaf;
    })().finally(() => this.leafIssuing.delete(svc));
    this.leafIssuing.set(svc, p);
    return p;
  }

  // ------------------------------------------------------------ intentions and config entries

  private sorted(): Intention[] {
    return [...this.intentions.values()].sort(
      (a, b) => b.Precedence - a.Precedence || (a.SourceName < b.SourceName ? -1 : 1),
    );
  }

  private intentionBody(i: Intention) {
    return {
      ID: i.ID,
      SourceNS: 'default',
      SourceName: i.SourceName,
      DestinationNS: 'default',
      DestinationName: i.DestinationName,
      SourceType: 'consul',
      Action: i.Action,
      Description: i.Description,
      Precedence: i.Precedence,
      Meta: {},
      CreateIndex: i.CreateIndex,
      ModifyIndex: i.ModifyIndex,
    };
  }

  private evaluate(src: string, dst: string): { allowed: boolean; reason: string } {
    const hit = this.sorted().find(
      (i) => (i.SourceName === src || i.SourceName === '*') && (i.DestinationName === dst || i.DestinationName === '*'),
    );
    if (hit)
      return {
        allowed: hit.Action === 'allow',
        reason: `Matched L4 intention: ${hit.SourceName} => ${hit.DestinationName} (${hit.Action})`,
      };
    return { allowed: this.o.defaultIntentionPolicy === 'allow', reason: 'Default behavior configured by ACLs' };
  }

  private putConfigEntry(b: Record<string, unknown>, cas: string | null): string | false | undefined {
    if (!b || typeof b.Kind !== 'string' || typeof b.Name !== 'string' || !b.Name)
      return 'Request decode failed: Kind and Name are required';
    const kind = b.Kind.toLowerCase();
    if (kind === 'ingress-gateway') {
      const ls = b.Listeners;
      if (ls !== undefined && !Array.isArray(ls)) return 'Listeners must be a list';
      for (const l of (ls ?? []) as Record<string, unknown>[]) {
        if (typeof l.Port !== 'number' || l.Port < 1 || l.Port > 65535) return 'listener port must be in 1..65535';
        const proto = (l.Protocol as string | undefined) ?? 'tcp';
        if (!['tcp', 'http', 'http2', 'grpc'].includes(proto))
          return `protocol must be tcp, http, http2 or grpc, got "${proto}"`;
        const svcs = (l.Services ?? []) as Record<string, unknown>[];
        if (proto === 'tcp' && svcs.length > 1)
          return `multiple services per listener are only supported for L7 protocols, port ${l.Port}`;
        if (proto === 'tcp' && svcs.some((s) => Array.isArray(s.Hosts) && s.Hosts.length))
          return 'associating hosts to a service is not supported for the tcp protocol';
      }
    }
    const key = `${kind}/${b.Name}`;
    const prev = this.configEntries.get(key);
    if (cas !== null && Number(cas) !== ((prev?.ModifyIndex as number | undefined) ?? 0)) return false;
    const idx = this.index + 1;
    this.configEntries.set(key, { ...b, Kind: kind, CreateIndex: prev?.CreateIndex ?? idx, ModifyIndex: idx });
    this.bump([`config:${key}`, `config:${kind}`, 'config']);
    return undefined;
  }
}

function precedence(src: string, dst: string): number {
  if (src !== '*' && dst !== '*') return 9;
  if (src === '*' && dst !== '*') return 8;
  if (src !== '*' && dst === '*') return 6;
  return 5;
}
