import { fileURLToPath } from 'node:url';
import { ChildRpc } from './child-rpc.ts';
import { grpcBootstrap } from '@meshgate/meshgate';

const CHILD = fileURLToPath(new URL('./xds-client-child.ts', import.meta.url));

export interface Summary {
  total: number;
  /** "backendName:port" -> successful calls. */
  counts: Record<string, number>;
  failures: number;
  errors: string[];
}

export interface Outcome {
  t: number;
  ok: boolean;
  server?: string;
  error?: string;
}

/** The gRPC xDS bootstrap `meshgate bootstrap --grpc` prints, so real clients exercise it. */
export function grpcBootstrapFor(xdsPort: number, nodeId: string): object {
  return grpcBootstrap({ xdsAddress: '127.0.0.1', xdsPort, nodeId, cluster: 'e2e' });
}

/** A grpc-js-xds client in its own process (one XdsClient per process), driven over stdin/stdout. */
export class XdsClientProcess {
  readonly nodeId: string;
  private rpc: ChildRpc;

  constructor(xdsPort: number, nodeId: string, extraEnv: Record<string, string> = {}) {
    this.nodeId = nodeId;
    this.rpc = new ChildRpc(CHILD, grpcBootstrapFor(xdsPort, nodeId), 'xDS client', extraEnv);
  }

  /** n calls to target (4 in flight), each with its own deadline. */
  burst(target: string, n: number, deadlineMs = 5000): Promise<Summary> {
    return this.rpc.send({ op: 'burst', target, n, deadlineMs });
  }

  /** Starts back-to-back calls (one at a time, intervalMs apart) until stop(). */
  start(target: string, intervalMs = 20, deadlineMs = 5000): Promise<void> {
    return this.rpc.send({ op: 'start', target, intervalMs, deadlineMs });
  }

  /** The latest outcomes of a running loop. */
  async peek(target: string, n = 20): Promise<Outcome[]> {
    return (await this.rpc.send<{ outcomes: Outcome[] }>({ op: 'peek', target, n })).outcomes;
  }

  stop(target: string): Promise<Summary & { outcomes: Outcome[] }> {
    return this.rpc.send({ op: 'stop', target });
  }

  close(): Promise<void> {
    return this.rpc.close();
  }
}

/** Share of successful calls whose backend name starts with prefix. */
export function share(s: Summary, prefix: string): number {
  const ok = Object.values(s.counts).reduce((a, b) => a + b, 0);
  const hit = Object.entries(s.counts)
    .filter(([k]) => k.startsWith(prefix))
    .reduce((a, [, v]) => a + v, 0);
  return ok ? hit / ok : 0;
}
