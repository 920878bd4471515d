import { fileURLToPath } from 'node:url';
import { ChildRpc } from './child-rpc.ts';
import type { MtlsOutcome } from './mtls-client-child.ts';
import type { LeafFiles } from './mtls-pki.ts';
import { grpcBootstrapFor } from './xds-client.ts';

export type { MtlsOutcome };

const CHILD = fileURLToPath(new URL('./mtls-client-child.ts', import.meta.url));

/** gRFC A29 `file_watcher` certificate-provider instances, keyed by the names meshgate's CDS refers to. */
export type CertificateProviders = Record<
  string,
  { certificate_file?: string; private_key_file?: string; ca_certificate_file?: string }
>;

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
    ...grpcBootstrapFor(xdsPort, nodeId),
    certificate_providers: Object.fromEntries(
      Object.entries(providers).map(([name, config]) => [
        name,
        { plugin_name: 'file_watcher', config: { ...config, refresh_interval: '1s' } },
      ]),
    ),
  };
}

/** A grpc-js-xds client with xDS channel credentials, in its own process (one XdsClient per process). */
export class MtlsClientProcess {
  private rpc: ChildRpc;

  constructor(xdsPort: number, nodeId: string, providers: CertificateProviders, extraEnv: Record<string, string> = {}) {
    this.rpc = new ChildRpc(CHILD, mtlsBootstrap(xdsPort, nodeId, providers), 'mTLS xDS client', extraEnv);
  }

  /** Recent stderr of the child (grpc traces when GRPC_TRACE is set), for assertion messages. */
  logs(): string {
    return this.rpc.logs();
  }

  /** n calls to target, one after the other. */
  async calls(target: string, n: number, deadlineMs = 5000): Promise<MtlsOutcome[]> {
    return (await this.rpc.send<{ outcomes: MtlsOutcome[] }>({ op: 'calls', target, n, deadlineMs })).outcomes;
  }

  /** Calls target one at a time, intervalMs apart, until stop(). */
  async start(target: string, intervalMs = 50, deadlineMs = 5000): Promise<void> {
    await this.rpc.send({ op: 'start', target, intervalMs, deadlineMs });
  }

  async stop(target: string): Promise<MtlsOutcome[]> {
    return (await this.rpc.send<{ outcomes: MtlsOutcome[] }>({ op: 'stop', target })).outcomes;
  }

  close(): Promise<void> {
    return this.rpc.close();
  }
}
