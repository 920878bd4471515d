// One driver interface over "a Consul agent" so the Consul suite runs against a real
// `consul agent -dev` (v1.16.4, the last MPL-2.0 release) whenever one is available, and against
// the Consul contract server (consul-contract-server.ts) otherwise. It prints which one it uses.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRoot } from '@meshgate/certs';
import { ConsulContractServer, type CheckStatus, type Malformation } from './consul-contract-server.ts';
import { freePort, waitFor } from './wait.ts';

export type { CheckStatus, Malformation };

export interface ServiceSpec {
  id: string;
  name: string;
  address: string;
  port: number;
  tags?: string[];
  meta?: Record<string, string>;
  weights?: { Passing: number; Warning: number };
  /** Initial status of the service's TTL check. Default 'passing'. */
  checkStatus?: CheckStatus;
  /** Register a Connect sidecar (sidecar_service) whose public listener is this port. */
  sidecarPort?: number;
  /** Sidecar address, when it differs from the service's. */
  sidecarAddress?: string;
}

export interface DriverOptions {
  aclToken?: string;
  nodeMeta?: Record<string, string>;
  defaultIntentionPolicy?: 'allow' | 'deny';
}

export interface ConsulDriver {
  readonly kind: 'real' | 'contract';
  readonly address: string;
  readonly datacenter: string;
  /** Registers many plain services (no checks) quickly. */
  seedServices(list: { id: string; name: string; address: string; port: number; tags?: string[] }[]): Promise<void>;
  /** Registers a service with one TTL check; returns the check id. */
  registerService(s: ServiceSpec): Promise<string>;
  setCheck(checkId: string, status: CheckStatus): Promise<void>;
  deregister(id: string): Promise<void>;
  /** Replaces the Connect CA with a fresh root (the old root stays in the bundle, inactive). */
  rotateCA(): Promise<void>;
  /** Sets LeafCertTTL; throws when the agent refuses a value this short. */
  setLeafTTL(ttl: string): Promise<void>;
  setIntention(source: string, destination: string, action: 'allow' | 'deny'): Promise<void>;
  deleteIntention(source: string, destination: string): Promise<void>;
  putConfigEntry(entry: Record<string, unknown>): Promise<void>;
  deleteConfigEntry(kind: string, name: string): Promise<void>;
  getJson(path: string): Promise<any>;
  stopAgent(): Promise<void>;
  startAgent(): Promise<void>;
  close(): Promise<void>;
  /** Fault injection, only on the contract server (nothing real can produce these on demand). */
  readonly contract?: ConsulContractServer;
}

const VERSION = '1.16.4';
let chosen: string | null | undefined;

/** Path of a usable real consul binary, or null. Decided once per process. */
export function findRealConsul(): string | null {
  if (chosen !== undefined) return chosen;
  const suitable = (bin: string) => {
    const r = spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 && r.stdout.split('\n')[0].trim() === `Consul v${VERSION}`;
  };
  if (process.env.MESHGATE_CONSUL_BIN && suitable(process.env.MESHGATE_CONSUL_BIN))
    return (chosen = process.env.MESHGATE_CONSUL_BIN);
  if (suitable('consul')) return (chosen = 'consul');
  const script = new URL('../tools/build-consul.sh', import.meta.url).pathname;
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status === 0 && r.stdout.trim()) return (chosen = r.stdout.trim().split('\n').pop()!);
  const why =
    r.status === 3
      ? 'the Go module proxy answers 403 for hashicorp/consul@v1.16.4'
      : `build-consul.sh exited ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  console.log(`# consul suite: no real Consul v${VERSION} (${why})`);
  return (chosen = null);
}

/** Starts a real agent when available, else the contract server; says which on stdout. */
export async function startConsul(o: DriverOptions = {}): Promise<ConsulDriver> {
  if (process.env.MESHGATE_CONSUL_CONTRACT !== '1') {
    const bin = findRealConsul();
    if (bin) {
      const d = await RealAgentDriver.start(bin, o);
      console.log(`# consul suite: using REAL Consul v${VERSION} (${bin}) at ${d.address}`);
      return d;
    }
  }
  const d = await ContractDriver.start(o);
  console.log(`# consul suite: using the Consul CONTRACT SERVER (not a real Consul) at ${d.address}`);
  return d;
}

abstract class HttpDriver {
  abstract readonly address: string;
  protected token?: string;

  protected async call(method: string, path: string, body?: unknown): Promise<any> {
    const headers: Record<string, string> = {};
    if (this.token) headers['x-consul-token'] = this.token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.address + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  getJson(path: string): Promise<any> {
    return this.call('GET', path);
  }

  async registerService(s: ServiceSpec): Promise<string> {
    await this.call('PUT', '/v1/agent/service/register', {
      ID: s.id,
      Name: s.name,
      Address: s.address,
      Port: s.port,
      Tags: s.tags ?? [],
      Meta: s.meta ?? {},
      Weights: s.weights,
      Check: { CheckID: `check:${s.id}`, Name: `${s.id} ttl`, TTL: '10m', Status: s.checkStatus ?? 'passing' },
      Connect: s.sidecarPort
        ? { SidecarService: { Port: s.sidecarPort, ...(s.sidecarAddress ? { Address: s.sidecarAddress } : {}) } }
        : undefined,
    });
    return `check:${s.id}`;
  }

  async setCheck(checkId: string, status: CheckStatus): Promise<void> {
    const verb = status === 'passing' ? 'pass' : status === 'warning' ? 'warn' : 'fail';
    await this.call('PUT', `/v1/agent/check/${verb}/${encodeURIComponent(checkId)}`);
  }

  async deregister(id: string): Promise<void> {
    await this.call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
  }

  async rotateCA(): Promise<void> {
    const roots = await this.call('GET', '/v1/connect/ca/roots');
    const root = await createRoot({ trustDomain: roots.TrustDomain, commonName: `Consul CA rotated ${Date.now()}` });
    await this.call('PUT', '/v1/connect/ca/configuration', {
      Provider: 'consul',
      Config: { PrivateKey: root.keyPem, RootCert: root.certPem },
    });
  }

  async setLeafTTL(ttl: string): Promise<void> {
    const cur = await this.call('GET', '/v1/connect/ca/configuration');
    await this.call('PUT', '/v1/connect/ca/configuration', {
      Provider: cur.Provider,
      Config: { ...cur.Config, LeafCertTTL: ttl },
    });
  }

  async setIntention(source: string, destination: string, action: 'allow' | 'deny'): Promise<void> {
    await this.call(
      'PUT',
      `/v1/connect/intentions/exact?source=${encodeURIComponent(source)}&destination=${encodeURIComponent(destination)}`,
      { Action: action },
    );
  }

  async deleteIntention(source: string, destination: string): Promise<void> {
    await this.call(
      'DELETE',
      `/v1/connect/intentions/exact?source=${encodeURIComponent(source)}&destination=${encodeURIComponent(destination)}`,
    );
  }

  async putConfigEntry(entry: Record<string, unknown>): Promise<void> {
    const ok = await this.call('PUT', '/v1/config', entry);
    if (ok !== true) throw new Error(`PUT /v1/config refused the ${String(entry.Kind)} entry`);
  }

  async deleteConfigEntry(kind: string, name: string): Promise<void> {
    await this.call('DELETE', `/v1/config/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`);
  }
}

export class ContractDriver extends HttpDriver implements ConsulDriver {
  readonly kind = 'contract' as const;
  readonly contract: ConsulContractServer;

  private constructor(c: ConsulContractServer, token?: string) {
    super();
    this.contract = c;
    this.token = token;
  }

  static async start(o: DriverOptions): Promise<ContractDriver> {
    const c = await ConsulContractServer.start({
      aclToken: o.aclToken,
      nodeMeta: o.nodeMeta,
      defaultIntentionPolicy: o.defaultIntentionPolicy,
    });
    return new ContractDriver(c, o.aclToken);
  }

  get address(): string {
    return this.contract.address;
  }
  get datacenter(): string {
    return this.contract.datacenter;
  }
  async seedServices(
    list: { id: string; name: string; address: string; port: number; tags?: string[] }[],
  ): Promise<void> {
    this.contract.seedServices(list);
  }
  stopAgent(): Promise<void> {
    return this.contract.stopListening();
  }
  startAgent(): Promise<void> {
    return this.contract.startListening();
  }
  close(): Promise<void> {
    return this.contract.close();
  }
}

/** `consul agent -dev` on free loopback ports, in-memory state; restarts replay registrations. */
export class RealAgentDriver extends HttpDriver implements ConsulDriver {
  readonly kind = 'real' as const;
  readonly datacenter = 'dc1';
  readonly address: string;
  readonly contract = undefined;
  private proc?: ChildProcess;
  private readonly bin: string;
  private readonly dir: string;
  private readonly replay: ServiceSpec[] = [];

  private constructor(bin: string, dir: string, httpPort: number, token?: string) {
    super();
    this.bin = bin;
    this.dir = dir;
    this.address = `http://127.0.0.1:${httpPort}`;
    this.token = token;
  }

  static async start(bin: string, o: DriverOptions): Promise<RealAgentDriver> {
    const dir = mkdtempSync(join(tmpdir(), 'meshgate-consul-'));
    const [http, grpc, serfLan, serfWan, server] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const meta = Object.entries(o.nodeMeta ?? {})
      .map(([k, v]) => `  ${k} = ${JSON.stringify(v)}`)
      .join('\n');
    const acl = o.aclToken
      ? `acl {\n  enabled = true\n  default_policy = "deny"\n  tokens { initial_management = ${JSON.stringify(o.aclToken)} }\n}\n`
      : '';
    writeFileSync(
      join(dir, 'agent.hcl'),
      `datacenter = "dc1"\nnode_name = "meshgate-test"\nbind_addr = "127.0.0.1"\naddresses { http = "127.0.0.1" grpc = "127.0.0.1" dns = "127.0.0.1" }\n` +
        `ports { http = ${http} grpc = ${grpc} grpc_tls = -1 https = -1 dns = -1 serf_lan = ${serfLan} serf_wan = ${serfWan} server = ${server} }\n` +
        `node_meta {\n${meta}\n}\n${acl}`,
    );
    const d = new RealAgentDriver(bin, dir, http, o.aclToken);
    await d.startAgent();
    if (o.defaultIntentionPolicy === 'deny') await d.setIntention('*', '*', 'deny');
    return d;
  }

  async startAgent(): Promise<void> {
    if (this.proc) return;
    this.proc = spawn(this.bin, ['agent', '-dev', `-config-file=${join(this.dir, 'agent.hcl')}`], { stdio: 'ignore' });
    await waitFor(
      async () =>
        (
          await fetch(`${this.address}/v1/status/leader`)
            .then((r) => r.text())
            .catch(() => '')
        ).length > 4,
      'consul agent leader',
      60_000,
      200,
    );
    await waitFor(
      () =>
        this.call('GET', '/v1/connect/ca/roots')
          .then((r) => r.Roots?.length > 0)
          .catch(() => false),
      'consul Connect CA',
      60_000,
      200,
    );
    for (const s of this.replay) await super.registerService(s);
  }

  async seedServices(
    list: { id: string; name: string; address: string; port: number; tags?: string[] }[],
  ): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const s = list[next++];
        await this.call('PUT', '/v1/agent/service/register', {
          ID: s.id,
          Name: s.name,
          Address: s.address,
          Port: s.port,
          Tags: s.tags ?? [],
        });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }

  override async registerService(s: ServiceSpec): Promise<string> {
    this.replay.push(s);
    return super.registerService(s);
  }

  override async deregister(id: string): Promise<void> {
    const i = this.replay.findIndex((s) => s.id === id);
    if (i >= 0) this.replay.splice(i, 1);
    await super.deregister(id);
  }

  async stopAgent(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
    });
  }

  async close(): Promise<void> {
    await this.stopAgent();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
