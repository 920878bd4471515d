// List + watch of one resource, the way client-go's reflector does it: list (paginated) to get a
// complete view and a resourceVersion, then watch from that version with bookmarks so the version
// keeps moving on quiet resources. A watch that ends is resumed from the last version seen. When
// the server has compacted that version away (410 Gone, or an ERROR event with code 410) the
// resource is listed again; the old objects stay in the store until the new list is complete and
// are then replaced in one step, so a relist never drops endpoints on the way. Any other failure
// is retried after a jittered, capped exponential backoff.
import type { KubeClient, KubeObject, WatchEventType } from './kube.ts';
import { KubeApiError } from './kube.ts';

export interface ReflectorHandler {
  /** A complete list: the store's new contents. */
  replace(items: KubeObject[]): void;
  upsert(obj: KubeObject): void;
  remove(obj: KubeObject): void;
  /** A failure (listing or watching); the reflector retries by itself. */
  error(err: Error): void;
  /** A list or watch succeeded after failures. */
  recovered(): void;
}

export interface ReflectorOptions {
  /** Collection path, e.g. `/api/v1/services` or `/apis/gateway.networking.k8s.io/v1/namespaces/x/httproutes`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size of lists. Default 500. */
  pageSize?: number;
  backoff?: { baseMs: number; capMs: number };
  /** Server-side watch timeout range (seconds); each watch picks one at random. Default 240..480. */
  watchSeconds?: [number, number];
  /**
   * The resource may not exist on this server (a CRD not installed): a 404 counts as an empty,
   * complete list and is retried at the backoff cap, so installing the CRD later is picked up.
   */
  optional?: boolean;
}

/** Full jitter: uniform in [0, min(cap, base * 2^attempt)], at least 50 ms. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, rand = Math.random): number {
  const ceil = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.max(50, Math.floor(rand() * ceil));
}

export class Reflector {
  /** Last resourceVersion seen; empty means "list first". */
  resourceVersion = '';
  /** Completed lists (1 after the first sync; more after 410 Gone relists). */
  lists = 0;
  watches = 0;
  /** The resource was not found (optional resources only). */
  absent = false;
  private readonly abort = new AbortController();
  private failures = 0;
  private running: Promise<void> | undefined;

  private readonly client: KubeClient;
  private readonly o: ReflectorOptions;
  private readonly h: ReflectorHandler;

  constructor(client: KubeClient, o: ReflectorOptions, h: ReflectorHandler) {
    this.client = client;
    this.o = o;
    this.h = h;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private query(extra: Record<string, string>): Record<string, string> {
    const q: Record<string, string> = { ...extra };
    if (this.o.labelSelector) q.labelSelector = this.o.labelSelector;
    if (this.o.fieldSelector) q.fieldSelector = this.o.fieldSelector;
    return q;
  }

  private async list(): Promise<void> {
    const items: KubeObject[] = [];
    let cont = '';
    let rv = '';
    do {
      const q = new URLSearchParams(this.query({ limit: String(this.o.pageSize ?? 500) }));
      if (cont) q.set('continue', cont);
      const page = await this.client.request<{
        metadata?: { resourceVersion?: string; continue?: string };
        items?: KubeObject[];
      }>('GET', `${this.o.path}?${q}`, undefined, 60_000);
      for (const it of page.items ?? []) items.push(it);
      cont = page.metadata?.continue ?? '';
      rv = page.metadata?.resourceVersion ?? rv;
      if (this.abort.signal.aborted) return;
    } while (cont);
    this.h.replace(items);
    this.absent = false;
    this.resourceVersion = rv;
    this.lists++;
  }

  /** Returns whether any event arrived. */
  private async watchOnce(): Promise<boolean> {
    const [lo, hi] = this.o.watchSeconds ?? [240, 480];
    const seconds = Math.floor(lo + Math.random() * (hi - lo));
    let gone = false;
    let progressed = false;
    await this.client.watch(
      this.o.path,
      this.query({
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(seconds),
      }),
      (type: WatchEventType, obj: KubeObject) => {
        if (type === 'ERROR') {
          const code = (obj as { code?: number }).code;
          if (code === 410) gone = true;
          else
            this.h.error(new Error(`watch ${this.o.path}: ${(obj as { message?: string }).message ?? 'error event'}`));
          return;
        }
        if (type === 'ADDED' || type === 'MODIFIED') this.h.upsert(obj);
        else if (type === 'DELETED') this.h.remove(obj);
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (!progressed) {
          progressed = true;
          this.ok();
        }
      },
      this.abort.signal,
      // Silent longer than the server's own timeout plus bookmark slack: the connection is dead.
      (seconds + 60) * 1000,
      () => this.ok(),
    );
    this.watches++;
    if (gone) this.resourceVersion = '';
    return progressed || gone;
  }

  private ok(): void {
    if (this.failures > 0) {
      this.failures = 0;
      this.h.recovered();
    }
  }

  private async loop(): Promise<void> {
    const { baseMs, capMs } = this.o.backoff ?? { baseMs: 200, capMs: 10_000 };
    while (!this.abort.signal.aborted) {
      try {
        if (!this.resourceVersion) {
          await this.list();
          this.ok();
        }
        if (this.abort.signal.aborted) break;
        const t0 = Date.now();
        const progressed = await this.watchOnce();
        // A watch the server ends at once, again and again, must not spin.
        if (progressed || Date.now() - t0 > 1000) continue;
        await sleep(backoffDelay(3, baseMs, capMs), this.abort.signal);
        continue;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        const e = err as KubeApiError;
        if (e instanceof KubeApiError && e.status === 404 && this.o.optional) {
          if (!this.absent) {
            this.absent = true;
            this.h.replace([]);
            this.lists++;
          }
          this.ok();
          await sleep(capMs, this.abort.signal);
          continue;
        }
        if (e instanceof KubeApiError && e.status === 410) {
          // Expired resourceVersion or continue token: list again at once, keeping the store.
          this.resourceVersion = '';
          continue;
        }
        this.failures++;
        this.h.error(e);
      }
      await sleep(backoffDelay(this.failures, baseMs, capMs), this.abort.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
