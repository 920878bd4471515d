import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoServer } from '../../examples/backends/echo-server.ts';
import type { EchoServer } from '../../examples/backends/echo-server.ts';

/** A temp directory removed by cleanup(). */
export function tempDir(prefix = 'meshgate-e2e-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Replaces a file atomically (write + rename), as editors and config management do. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Echo backends by name, each on its own free port. */
export async function startBackends(names: string[]): Promise<Map<string, EchoServer> & { closeAll(): Promise<void> }> {
  const servers = await Promise.all(names.map((n) => startEchoServer(n.replace(/#.*$/, ''))));
  const map = new Map(names.map((n, i) => [n, servers[i]])) as Map<string, EchoServer> & { closeAll(): Promise<void> };
  map.closeAll = async () => {
    await Promise.all(servers.map((s) => s.close()));
  };
  return map;
}

export interface EndpointSpec {
  port: number;
  weight?: number;
}

/** The quickstart's shape (echo-v1 / echo-v2 behind host `echo`) with the given ports and weights. */
export function echoConfig(o: {
  v1: EndpointSpec[];
  v2: EndpointSpec[];
  weights?: [number, number];
  extra?: string;
}): string {
  const eps = (list: EndpointSpec[]) =>
    list
      .map((e) => `      - { address: 127.0.0.1, port: ${e.port}${e.weight ? `, weight: ${e.weight}` : ''} }`)
      .join('\n');
  const [w1, w2] = o.weights ?? [1, 3];
  return `services:
  - name: echo-v1
    protocol: grpc
    endpoints:
${eps(o.v1)}
  - name: echo-v2
    protocol: grpc
    endpoints:
${eps(o.v2)}
routes:
  - name: echo
    hosts: [echo]
    match: { prefix: / }
    backends:
      - { service: echo-v1, weight: ${w1} }
      - { service: echo-v2, weight: ${w2} }
listeners:
  - name: http
    port: 8080
    routes: [echo]
${o.extra ?? ''}`;
}
