// The only module that talks to the API server. @kubernetes/client-node supplies the credentials
// (kubeconfig file or the pod's service account, token refresh, client certificates, CA) and the
// streaming watch; requests here keep objects as the server's raw JSON so that lists, watch events
// and status writes all share one shape. Loaded lazily: the client library costs ~1.5 s to import.
import { HttpMethod, KubeConfig, RequestContext, Watch } from '@kubernetes/client-node';
import { fetch } from 'undici';

/** An API server answer other than 2xx, with the server's own reason (`NotFound`, `Conflict`, `Expired`...). */
export class KubeApiError extends Error {
  readonly code = 'E_KUBE_API';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items: KubeObject[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Where the credentials come from: a kubeconfig file, or the pod's own service account. */
export type KubeCredentials = { kubeconfig: string; context?: string } | { inCluster: true };

export interface KubeClient {
  /** The API server URL (for logs; never carries credentials). */
  readonly server: string;
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, timeoutMs?: number): Promise<T>;
  /**
   * Opens one watch. `onEvent` gets every event; the promise resolves when the stream ends
   * (server timeout, connection closed) and rejects when it cannot be opened. `abort` ends it.
   */
  watch(
    path: string,
    params: Record<string, string>,
    onEvent: (type: WatchEventType, obj: KubeObject) => void,
    signal: AbortSignal,
    idleTimeoutMs: number,
    /** The server accepted the watch (HTTP 200): the connection is healthy even before any event. */
    onOpen?: () => void,
  ): Promise<void>;
}

export function loadKubeConfig(creds: KubeCredentials): KubeConfig {
  const kc = new KubeConfig();
  if ('inCluster' in creds) kc.loadFromCluster();
  else {
    kc.loadFromFile(creds.kubeconfig);
    if (creds.context) kc.setCurrentContext(creds.context);
  }
  if (!kc.getCurrentCluster())
    throw new Error(
      'inCluster' in creds
        ? 'no in-cluster API server: KUBERNETES_SERVICE_HOST is not set (pass --kubeconfig outside a pod)'
        : `kubeconfig ${creds.kubeconfig} has no current cluster; set current-context or kubernetes.context`,
    );
  return kc;
}

const METHOD: Record<string, HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  DELETE: HttpMethod.DELETE,
};

export function createKubeClient(kc: KubeConfig): KubeClient {
  const server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
  return {
    server,
    async request<T>(method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<T> {
      const ctx = new RequestContext(server + path, METHOD[method]);
      await kc.applySecurityAuthentication(ctx);
      const headers = ctx.getHeaders() as Record<string, string>;
      headers.accept = 'application/json';
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Awaited<ReturnType<typeof fetch>>;
      try {
        res = await fetch(server + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          dispatcher: ctx.getDispatcher() as never,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const e = err as Error & { cause?: Error };
        throw new KubeApiError(0, 'Unreachable', `${method} ${path}: ${e.cause?.message ?? e.message}`);
      }
      const text = await res.text();
      if (res.status < 200 || res.status > 299) {
        let reason = '';
        let message = text.slice(0, 300);
        try {
          const st = JSON.parse(text) as { reason?: string; message?: string };
          reason = st.reason ?? '';
          message = st.message ?? message;
        } catch {
          /* not a Status object */
        }
        throw new KubeApiError(res.status, reason, `${method} ${path}: ${res.status} ${reason}: ${message}`);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    },
    watch(path, params, onEvent, signal, idleTimeoutMs, onOpen) {
      // client-node's Watch applies the same credentials, reads the stream line by line and
      // aborts a stream that has been silent for requestTimeoutMs (bookmarks keep it alive).
      const watcher = new Watch(kc);
      (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = idleTimeoutMs;
      return new Promise<void>((resolve, reject) => {
        let opened: AbortController | undefined;
        let settled = false;
        const done = (err: unknown) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          if (err && !signal.aborted) {
            const e = err as Error & { statusCode?: number };
            reject(
              e.statusCode
                ? new KubeApiError(e.statusCode, e.message, `watch ${path}: ${e.statusCode} ${e.message}`)
                : new KubeApiError(
                    0,
                    e.name === 'TimeoutError' ? 'Timeout' : 'Unreachable',
                    `watch ${path}: ${e.message}`,
                  ),
            );
          } else resolve();
        };
        const onAbort = () => {
          opened?.abort();
          done(null);
        };
        signal.addEventListener('abort', onAbort);
        watcher
          .watch(path, params, (type: string, obj: KubeObject) => onEvent(type as WatchEventType, obj), done)
          .then(
            (c) => {
              opened = c;
              if (signal.aborted) c.abort();
              // watch() resolves once the response is in; when it was not a 200, done already ran.
              else if (!settled) onOpen?.();
            },
            (err) => done(err),
          );
      });
    },
  };
}
