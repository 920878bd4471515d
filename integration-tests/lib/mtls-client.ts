import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MtlsOutcome } from './mtls-client-child.ts';
import type { LeafFiles } from './mtls-pki.ts';

export type { MtlsOutcome };

const CHILD = fileURLToPath(new URL('./mtls-client-child.ts', import.meta.url));

/** gRFC A29 `file_watcher` certificate-provider instances, keyed by the names meshgate's CDS refers to. */
export type CertificateProviders = Record<string, { certificate_file?: string; private_key_file?: string; ca_certificate_file?: string }>;

/** An identity instance (cert + key) read from a leaf directory. */
export function identityProvider(f: LeafFiles): CertificateProviders[string] {
  return { certificate_file: f.cert, private_key_file: f.key };
}

/** A trust-bundle instance (CA certificates only). */
export function rootsProvider(caFile: string): CertificateProviders[string] {
  return { ca_certificate_file: caFile };
}

export function mtlsBootstrap(xdsPort: number, nodeId: string, providers: CertificateProviders): object {
  return {
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'e2e', metadata: { meshgate_profile: 'grpc' }, locality: {} },
    certificate_providers: Object.fromEntries(
      Object.entries(providers).map(([name, config]) => [name, { plugin_name: 'file_watcher', config: { ...config, refresh_interval: '1s' } }]),
    ),
  };
}

/** A grpc-js-xds client with xDS channel credentials, in its own process (one XdsClient per process). */
export class MtlsClientProcess {
  private child: ChildProcess;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private stderr = '';

  constructor(xdsPort: number, nodeId: string, providers: CertificateProviders, extraEnv: Record<string, string> = {}) {
    this.child = spawn(process.execPath, ['--conditions=source', CHILD], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, GRPC_XDS_BOOTSTRAP: '', GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(mtlsBootstrap(xdsPort, nodeId, providers)), ...extraEnv },
    });
    this.child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-20_000)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id: number; error?: string };
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error));
      else p.resolve(msg);
    });
    this.child.once('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`mTLS xDS client exited (${code}); stderr:\n${this.stderr}`));
      this.pending.clear();
    });
  }

  /** Recent stderr of the child (grpc traces when GRPC_TRACE is set), for assertion messages. */
  logs(): string {
    return this.stderr;
  }

  private send<T>(cmd: Record<string, unknown>, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`mTLS xDS client did not answer ${cmd.op} within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(t), resolve(v)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.child.stdin!.write(JSON.stringify({ ...cmd, id }) + '\n');
    });
  }

  /** n calls to target, one after the other. */
  async calls(target: string, n: number, deadlineMs = 5000): Promise<MtlsOutcome[]> {
    return (await this.send<{ outcomes: MtlsOutcome[] }>({ op: 'calls', target, n, deadlineMs })).outcomes;
  }

  /** Calls target one at a time, intervalMs apart, until stop(). */
  async start(target: string, intervalMs = 50, deadlineMs = 5000): Promise<void> {
    await this.send({ op: 'start', target, intervalMs, deadlineMs });
  }

  async stop(target: string): Promise<MtlsOutcome[]> {
    return (await this.send<{ outcomes: MtlsOutcome[] }>({ op: 'stop', target })).outcomes;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
