import { createHash } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Model, Source, SourceSink, SourceStatus } from '@meshgate/model';
import { loadConfigFile } from './config.ts';
import { formatErrors } from '@meshgate/config-schema';
import type { ObjectSpec } from '@meshgate/config-schema';

export interface FileSourceOptions {
  /** Path of the YAML config file. */
  path: string;
  /** Source name (status pages, merge precedence). Default 'file'. */
  name?: string;
  /** Quiet time after a change event before reloading. Default 50 ms. */
  debounceMs?: number;
  /** Safety-net poll of content and referenced files. Default 1000 ms; 0 disables. */
  pollIntervalMs?: number;
  /** Use fs.watch. Default true; false leaves only the poll (for file systems without change events). */
  watch?: boolean;
  /** The whole file's schema when it holds more than the model's sections (see ParseOptions.schema). */
  schema?: ObjectSpec;
  /** Top-level keys owned by other components, accepted unchecked (see ParseOptions). */
  extraTopLevelKeys?: readonly string[];
  /**
   * Accept route backends the file does not define, for other sources to provide (see
   * ParseOptions.externalReferences). meshgate sets it when a `consul:` section exists. Default false.
   */
  externalReferences?: boolean;
}

/**
 * The YAML file as a Source, with hot reload. fs.watch on the directory (not the file) so that
 * editors that write a temp file and rename it over the original are seen; a 1 s poll of a
 * fingerprint (config content plus size/mtime of referenced cert files) backs it up, because
 * fs.watch can miss events (network file systems, some container mounts).
 * A bad edit never reaches the sink: the last good model stays and the status turns stale.
 */
export class FileSource implements Source {
  readonly name: string;
  readonly path: string;
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private readonly useWatch: boolean;
  private readonly schema: ObjectSpec | undefined;
  private readonly extraTopLevelKeys: readonly string[];
  private readonly externalReferences: boolean;
  private external: string[] = [];
  private sink?: SourceSink;
  private watcher?: FSWatcher;
  private poller?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private lastFingerprint?: string;
  private referenced: string[] = [];
  private current?: Model;
  private state: SourceStatus;
  private stopped = false;

  constructor(opts: FileSourceOptions) {
    this.path = resolve(opts.path);
    this.name = opts.name ?? 'file';
    this.debounceMs = opts.debounceMs ?? 50;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.useWatch = opts.watch ?? true;
    this.schema = opts.schema;
    this.extraTopLevelKeys = opts.extraTopLevelKeys ?? [];
    this.externalReferences = opts.externalReferences ?? false;
    this.state = { name: this.name, synced: false, stale: false };
  }

  /** The last good model, if any. */
  get model(): Model | undefined {
    return this.current;
  }

  get status(): SourceStatus {
    return { ...this.state };
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    this.check(true);
    if (this.useWatch) this.startWatch();
    if (this.pollIntervalMs > 0) {
      this.poller = setInterval(() => this.check(false), this.pollIntervalMs);
      this.poller.unref();
    }
  }

  private startWatch(): void {
    const dir = dirname(this.path);
    const base = basename(this.path);
    try {
      this.watcher = watch(dir, { persistent: false }, (_event, filename) => {
        // filename can be null on some platforms; then any event in the directory counts.
        // `..data` is how Kubernetes swaps a mounted ConfigMap/Secret: the file is a symlink
        // through it, so the file itself never changes name.
        if (
          filename === null ||
          filename === base ||
          filename.startsWith('..data') ||
          this.referenced.some((f) => dirname(f) === dir && basename(f) === filename)
        ) {
          this.schedule();
        }
      });
      this.watcher.on('error', () => {
        // The poll keeps working when the watch dies (directory removed, too many watches).
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      /* no watch available: the poll alone will do */
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
    this.poller = this.debounce = undefined;
  }

  /** Reload now, even if nothing seems to have changed (e.g. on SIGHUP). */
  reload(): void {
    this.lastFingerprint = undefined;
    this.check(false);
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.check(false);
    }, this.debounceMs);
    this.debounce.unref();
  }

  /** Content of the config plus size/mtime of every referenced file. */
  private fingerprint(): string {
    const h = createHash('sha256');
    try {
      h.update(readFileSync(this.path));
    } catch (e) {
      h.update(`missing:${(e as NodeJS.ErrnoException).code}`);
    }
    for (const f of this.referenced) {
      try {
        const st = statSync(f);
        h.update(`\0${f}\0${st.size}\0${st.mtimeMs}`);
      } catch {
        h.update(`\0${f}\0missing`);
      }
    }
    return h.digest('hex');
  }

  private check(first: boolean): void {
    if (this.stopped && !first) return;
    try {
      const fp = this.fingerprint();
      if (fp === this.lastFingerprint) return;
      this.lastFingerprint = fp;
      const { model, errors, files, external } = loadConfigFile(this.path, {
        source: this.name,
        ...(this.schema ? { schema: this.schema } : {}),
        extraTopLevelKeys: this.extraTopLevelKeys,
        externalReferences: this.externalReferences,
      });
      if (files.length > 0 || model) this.referenced = [...new Set(files)];
      // The fingerprint read before the load may not cover newly referenced files; fold them in.
      if (model) this.lastFingerprint = this.fingerprint();
      const now = Date.now();
      if (!model) {
        this.setStatus({
          ...this.state,
          stale: true,
          lastError: formatErrors(errors),
          lastErrorAt: now,
          details: this.details(errors.length),
        });
        return;
      }
      const changed = !this.current || !isDeepStrictEqual(this.current, model);
      this.current = model;
      this.external = [...new Set(external.map((x) => x.service))].sort();
      if (changed) this.sink?.update(model);
      const { lastError: _e, lastErrorAt: _t, ...rest } = this.state;
      this.setStatus({
        ...rest,
        synced: true,
        stale: false,
        lastUpdateAt: changed ? now : (this.state.lastUpdateAt ?? now),
        details: this.details(0),
      });
    } catch (e) {
      // Nothing may throw out of a timer callback; report and keep the last good model.
      this.setStatus({
        ...this.state,
        stale: true,
        lastError: `reloading ${this.path} failed: ${(e as Error).message}`,
        lastErrorAt: Date.now(),
      });
    }
  }

  private details(errors: number): Record<string, unknown> {
    const m = this.current;
    return {
      file: this.path,
      errors,
      services: m?.services.length ?? 0,
      routes: m?.routes.length ?? 0,
      listeners: m?.listeners.length ?? 0,
      identities: m?.identities.length ?? 0,
      trustBundles: m?.trustBundles.length ?? 0,
      // Route backends left to other sources; the merged model must resolve them.
      ...(this.external.length ? { externalReferences: [...this.external] } : {}),
    };
  }

  private setStatus(s: SourceStatus): void {
    const changed = !isDeepStrictEqual(s, this.state);
    this.state = s;
    if (changed) this.sink?.status({ ...s });
  }
}
