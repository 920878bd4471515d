// Test helpers for the Consul suite: a recording SourceSink, a log capture that can be grepped
// for secrets, and a started ConsulSource that is stopped after the test.
import type { Model, SourceSink, SourceStatus } from '@meshgate/model';
import { ConsulSource, type ConsulSourceOptions } from '@meshgate/adapter-consul';
import { waitFor } from './wait.ts';

export class RecordingSink implements SourceSink {
  models: Model[] = [];
  statuses: SourceStatus[] = [];
  update(model: Model): void {
    this.models.push(structuredClone(model));
  }
  status(status: SourceStatus): void {
    this.statuses.push(structuredClone(status));
  }
  get model(): Model | undefined {
    return this.models.at(-1);
  }
  get lastStatus(): SourceStatus | undefined {
    return this.statuses.at(-1);
  }
  /** Waits for the latest model to satisfy `pred`; returns it. */
  waitModel(pred: (m: Model) => unknown, what: string, timeoutMs = 15_000): Promise<Model> {
    return waitFor(() => (this.model && pred(this.model) ? this.model : undefined), what, timeoutMs, 25);
  }
  waitStatus(pred: (s: SourceStatus) => unknown, what: string, timeoutMs = 15_000): Promise<SourceStatus> {
    return waitFor(() => (this.lastStatus && pred(this.lastStatus) ? this.lastStatus : undefined), what, timeoutMs, 25);
  }
}

/** A pino-compatible logger that keeps every line as JSON text. */
export function captureLogger(): { logger: NonNullable<ConsulSourceOptions['logger']>; lines: string[] } {
  const lines: string[] = [];
  const mk = (level: string) => (obj: object | string, msg?: string) => {
    lines.push(JSON.stringify(typeof obj === 'string' ? { level, msg: obj } : { level, ...obj, msg }));
  };
  return { logger: { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error') }, lines };
}

export async function startSource(
  t: { after(fn: () => unknown): void },
  opts: ConsulSourceOptions,
): Promise<{ source: ConsulSource; sink: RecordingSink }> {
  const source = new ConsulSource(opts);
  const sink = new RecordingSink();
  t.after(() => source.stop());
  await source.start(sink);
  return { source, sink };
}

export const endpointsOf = (m: Model | undefined, name: string) =>
  m?.services
    .find((s) => s.name === name)
    ?.endpoints.map((e) => `${e.address}:${e.port}`)
    .sort();
