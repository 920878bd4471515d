// Fills a real kube-apiserver with S6's objects fast: N Services and, per Service, one EndpointSlice with
// E endpoints, created by parallel POSTs on keep-alive connections as the admin (system:masters is exempt
// from API Priority and Fairness, so the server is not throttling us on purpose). Also measures what a
// plain client pays to LIST them back, which is the API server's own share of any initial sync.
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface KubeTarget {
  apiUrl: string;
  adminToken: string;
  caPem: string;
}

export interface LoadShape {
  services: number;
  endpointsPerService: number;
  namespaces: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** clusterIP: None (no ClusterIP allocation). */
  headless?: boolean;
}

export const S6_FULL: LoadShape = { services: 10_000, endpointsPerService: 10, namespaces: 100, concurrency: 64 };
export const S6_QUICK: LoadShape = { services: 1_000, endpointsPerService: 10, namespaces: 10, concurrency: 32 };

export const benchNamespace = (i: number) => `bench-${String(i).padStart(3, '0')}`;
export const benchServiceName = (i: number) => `svc-${String(i).padStart(5, '0')}`;
/** Where service i lives: round-robin over the namespaces. */
export const namespaceOf = (i: number, shape: LoadShape) => benchNamespace(i % shape.namespaces);

/**
 * Endpoint j of service i: 10.0.0.0/8 addresses (never dialled: nothing connects to them), unique per
 * endpoint so 100,000 of them are distinct; the API server refuses only loopback and link-local.
 */
export function benchEndpointIp(i: number, j: number): string {
  const n = i * 64 + j + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export function serviceObject(i: number, shape: LoadShape): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: benchServiceName(i), namespace: namespaceOf(i, shape) },
    spec: {
      ...(shape.headless ? { clusterIP: 'None' } : {}),
      ports: [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }],
    },
  };
}

export function sliceObject(i: number, shape: LoadShape, port = 8080): object {
  const name = benchServiceName(i);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-0`, namespace: namespaceOf(i, shape), labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: Array.from({ length: shape.endpointsPerService }, (_, j) => ({
      addresses: [benchEndpointIp(i, j)],
      conditions: { ready: true, serving: true, terminating: false },
      zone: `zone-${j % 3}`,
    })),
  };
}

export class KubeRest {
  private readonly agent: Agent;
  private readonly target: KubeTarget;
  constructor(target: KubeTarget, maxSockets = 64) {
    this.target = target;
    this.agent = new Agent({ keepAlive: true, maxSockets, ca: target.caPem });
  }

  call(method: string, path: string, body?: object, contentType = 'application/json'): Promise<any> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.target.apiUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.target.adminToken}`,
            accept: 'application/json',
            ...(data ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 300)
              reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`));
            else resolve(text ? JSON.parse(text) : undefined);
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** CPU time (user + system) of a process in ms, from /proc/PID/stat. */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in USER_HZ (100 on Linux)
}

/** VmRSS / VmHWM of a process in kB. */
export function procMemKB(pid: number): { rssKB: number; hwmKB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? -1);
  return { rssKB: kb('VmRSS'), hwmKB: kb('VmHWM') };
}

/** Runs fn(i) for i in [0, n) with at most `limit` in flight. */
export async function pool(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

export interface LoadResult {
  objects: number;
  wallMs: number;
  perSecond: number;
  apiserverCpuMs: number;
  etcdCpuMs: number;
  clientCpuMs: number;
}

/** Creates the namespaces, then every Service with its EndpointSlice. */
export async function loadServices(
  target: KubeTarget,
  shape: LoadShape,
  pids: { apiserver?: number; etcd?: number },
): Promise<LoadResult> {
  const rest = new KubeRest(target, shape.concurrency);
  const cpu = () => ({
    api: pids.apiserver ? procCpuMs(pids.apiserver) : 0,
    etcd: pids.etcd ? procCpuMs(pids.etcd) : 0,
    client: process.cpuUsage(),
  });
  const c0 = cpu();
  const t0 = performance.now();
  try {
    await pool(shape.namespaces, shape.concurrency, (n) =>
      rest.call('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: benchNamespace(n) },
      }),
    );
    await pool(shape.services, shape.concurrency, async (i) => {
      const ns = namespaceOf(i, shape);
      await rest.call('POST', `/api/v1/namespaces/${ns}/services`, serviceObject(i, shape));
      await rest.call('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, sliceObject(i, shape));
    });
  } finally {
    rest.close();
  }
  const wallMs = performance.now() - t0;
  const c1 = cpu();
  const client = process.cpuUsage(c0.client);
  const objects = shape.namespaces + 2 * shape.services;
  return {
    objects,
    wallMs,
    perSecond: objects / (wallMs / 1000),
    apiserverCpuMs: c1.api - c0.api,
    etcdCpuMs: c1.etcd - c0.etcd,
    clientCpuMs: (client.user + client.system) / 1000,
  };
}

/** Time for a plain client to LIST a collection across all namespaces in pages (what an informer's first list costs). */
export async function listAll(
  target: KubeTarget,
  path: string,
  pageSize = 500,
): Promise<{ ms: number; items: number }> {
  const rest = new KubeRest(target, 1);
  const t0 = performance.now();
  let items = 0;
  let cont = '';
  try {
    do {
      const page = await rest.call(
        'GET',
        `${path}?limit=${pageSize}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
      );
      items += page.items.length;
      cont = page.metadata?.continue ?? '';
    } while (cont);
  } finally {
    rest.close();
  }
  return { ms: performance.now() - t0, items };
}

/**
 * One EndpointSlice update, the S6 change: the slice of service i moves to `port` (a marker the load generator
 * and the watcher match). Resolves when the API server has accepted the write; clock the change before calling.
 * Pass a warm KubeRest so no TLS handshake lands in the figure.
 */
export async function updateSlicePort(rest: KubeRest, shape: LoadShape, i: number, port: number): Promise<void> {
  await rest.call(
    'PATCH',
    `/apis/discovery.k8s.io/v1/namespaces/${namespaceOf(i, shape)}/endpointslices/${benchServiceName(i)}-0`,
    { ports: [{ name: 'http', port, protocol: 'TCP' }] },
    'application/merge-patch+json',
  );
}

/**
 * A plain watch on every EndpointSlice (as an informer's watch, from `resourceVersion`); calls onPort with the
 * first port of each slice event as it arrives. The API server's share of an update's latency is the time from
 * the write to this event.
 */
export function watchSlicePorts(
  target: KubeTarget,
  resourceVersion: string,
  onPort: (port: number, at: number) => void,
): { ready: Promise<void>; close(): void } {
  let close = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    const req = request(
      `${target.apiUrl}/apis/discovery.k8s.io/v1/endpointslices?watch=1&allowWatchBookmarks=false&resourceVersion=${resourceVersion}`,
      { ca: target.caPem, headers: { authorization: `Bearer ${target.adminToken}` } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`watch: HTTP ${res.statusCode}`));
        resolve();
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          const at = performance.now();
          buf += d;
          let nl = buf.indexOf('\n');
          while (nl >= 0) {
            const ev = JSON.parse(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
            const port = ev.object?.ports?.[0]?.port;
            if (typeof port === 'number') onPort(port, at);
            nl = buf.indexOf('\n');
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return { ready, close: () => close() };
}
