// Prometheus text exposition (format 0.0.4) written by hand: meshgate needs a dozen series and
// no client library's registry, so this stays small and dependency-free.
import type { SourceStatus } from '@meshgate/model';

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',');
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

interface Metric {
  readonly name: string;
  render(): string[];
}

abstract class Base implements Metric {
  readonly name: string;
  readonly help: string;
  abstract readonly kind: string;
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  header(): string[] {
    return [
      `# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${this.name} ${this.kind}`,
    ];
  }
  abstract render(): string[];
}

export class Counter extends Base {
  readonly kind = 'counter';
  private values = new Map<string, number>();
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    const out = this.header();
    for (const [k, v] of this.values) out.push(`${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
    return out;
  }
}

export class Gauge extends Base {
  readonly kind = 'gauge';
  private values = new Map<string, number>();
  set(labels: Labels, v: number): void {
    this.values.set(labelKey(labels), v);
  }
  get(labels: Labels = {}): number | undefined {
    return this.values.get(labelKey(labels));
  }
  /** Drops every series, for gauges recomputed from scratch (e.g. per-identity expiry). */
  reset(): void {
    this.values.clear();
  }
  render(): string[] {
    const out = this.header();
    for (const [k, v] of this.values) out.push(`${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
    return out;
  }
}

/** A gauge whose value is read at scrape time. */
export class CallbackGauge extends Base {
  readonly kind = 'gauge';
  private readonly read: () => number;
  constructor(name: string, help: string, read: () => number) {
    super(name, help);
    this.read = read;
  }
  render(): string[] {
    return [...this.header(), `${this.name} ${fmt(this.read())}`];
  }
}

export class Histogram extends Base {
  readonly kind = 'histogram';
  readonly buckets: number[];
  private series = new Map<string, { counts: number[]; sum: number; count: number; labels: Labels }>();
  constructor(name: string, help: string, buckets: number[]) {
    super(name, help);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels, v: number): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0, labels }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) s.counts[i]++;
    s.sum += v;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }
  render(): string[] {
    const out = this.header();
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) =>
        out.push(`${this.name}_bucket{${labelKey({ ...s.labels, le: fmt(b) })}} ${s.counts[i]}`),
      );
      out.push(`${this.name}_bucket{${labelKey({ ...s.labels, le: '+Inf' })}} ${s.count}`);
      const k = labelKey(s.labels);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private metrics: Metric[] = [];
  register<T extends Metric>(m: T): T {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return `${this.metrics.flatMap((m) => m.render()).join('\n')}\n`;
  }
}

/** The metrics meshgate exposes. Labels stay low-cardinality: type, source, stage, mesh, identity. */
export function createMetrics(connectedProxies: () => number, xdsConnections: () => number = () => 0) {
  const r = new Registry();
  return {
    registry: r,
    connectedProxies: r.register(
      new CallbackGauge(
        'meshgate_xds_connected_proxies',
        'xDS streams currently connected (one per node stream).',
        connectedProxies,
      ),
    ),
    xdsConnections: r.register(
      new CallbackGauge('meshgate_xds_connections', 'Client connections open on the xDS port.', xdsConnections),
    ),
    refusedConnections: r.register(
      new Counter(
        'meshgate_xds_connections_refused_total',
        'Client connections closed at accept because xds.maxConnections connections were open.',
      ),
    ),
    pushes: r.register(new Counter('meshgate_xds_pushes_total', 'xDS responses sent, by resource type.')),
    nacks: r.register(
      new Counter('meshgate_xds_nacks_total', 'xDS responses a client rejected (NACK), by resource type.'),
    ),
    pushBytes: r.register(
      new Counter('meshgate_xds_push_bytes_total', 'Bytes of resources sent in xDS responses, by resource type.'),
    ),
    convergence: r.register(
      new Histogram(
        'meshgate_convergence_seconds',
        'Time from a source event to the cache publish (stage="publish") and from publish to every connected node ACKing (stage="ack").',
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      ),
    ),
    reloadErrors: r.register(
      new Counter(
        'meshgate_config_reload_errors_total',
        'Source updates rejected (bad file, unreachable registry), by source.',
      ),
    ),
    sourceStale: r.register(
      new Gauge('meshgate_source_stale', '1 when a source serves its last good view because of an error.'),
    ),
    sourceSynced: r.register(
      new Gauge('meshgate_source_synced', '1 once a source has reported a complete first view.'),
    ),
    translationProblems: r.register(
      new Gauge(
        'meshgate_translation_problems',
        'Problems in the last translation; non-zero means the last good resources are still served.',
      ),
    ),
    certExpiry: r.register(
      new Gauge(
        'meshgate_cert_expiry_timestamp_seconds',
        'Expiry (Unix seconds) of each identity certificate meshgate serves.',
      ),
    ),
    intentionDenied: r.register(
      new Gauge('meshgate_consul_intention_denied', '1 when Consul intentions deny the gateway access to a service.'),
    ),
    publishes: r.register(
      new Counter(
        'meshgate_cache_publishes_total',
        'Cache updates, by kind (full = translate and publish, endpoints = EDS-only patch).',
      ),
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Turns what sources report into metrics: synced and stale for every source, and each kind's
 * typed facts (SourceStatus.consul, ...). `details` is for people and is never read here.
 */
export class SourceMetrics {
  private readonly m: Metrics;
  /** Per source: the services its intentions deny, so those allowed again drop to 0. */
  private readonly denied = new Map<string, ReadonlySet<string>>();

  constructor(m: Metrics) {
    this.m = m;
  }

  /** A source before its first status: neither synced nor stale. */
  init(source: string): void {
    this.m.sourceSynced.set({ source }, 0);
    this.m.sourceStale.set({ source }, 0);
  }

  apply(source: string, status: SourceStatus): void {
    this.m.sourceSynced.set({ source }, status.synced ? 1 : 0);
    this.m.sourceStale.set({ source }, status.stale ? 1 : 0);
    if (status.consul) {
      const now = new Set(status.consul.intentionDenied);
      for (const service of this.denied.get(source) ?? [])
        if (!now.has(service)) this.m.intentionDenied.set({ service }, 0);
      for (const service of now) this.m.intentionDenied.set({ service }, 1);
      this.denied.set(source, now);
    }
  }
}
