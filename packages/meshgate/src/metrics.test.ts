import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceMetrics, createMetrics } from './metrics.ts';

test('renders Prometheus text with HELP, TYPE, escaped labels and cumulative buckets', () => {
  const m = createMetrics(() => 3);
  m.pushes.inc({ type: 'cluster' });
  m.pushes.inc({ type: 'cluster' }, 2);
  m.reloadErrors.inc({ source: 'file "a"\n' });
  m.convergence.observe({ stage: 'publish' }, 0.02);
  m.convergence.observe({ stage: 'publish' }, 3);
  const text = m.registry.render();
  assert.match(text, /^# TYPE meshgate_xds_pushes_total counter$/m);
  assert.match(text, /^meshgate_xds_pushes_total\{type="cluster"\} 3$/m);
  assert.match(text, /^meshgate_xds_connected_proxies 3$/m);
  assert.match(text, /^meshgate_config_reload_errors_total\{source="file \\"a\\"\\n"\} 1$/m);
  assert.match(text, /^meshgate_convergence_seconds_bucket\{le="0.01",stage="publish"\} 0$/m);
  assert.match(text, /^meshgate_convergence_seconds_bucket\{le="0.025",stage="publish"\} 1$/m);
  assert.match(text, /^meshgate_convergence_seconds_bucket\{le="\+Inf",stage="publish"\} 2$/m);
  assert.match(text, /^meshgate_convergence_seconds_count\{stage="publish"\} 2$/m);
  assert.match(text, /^meshgate_convergence_seconds_sum\{stage="publish"\} 3.02$/m);
  for (const line of text.trim().split('\n'))
    assert.match(line, /^(# (HELP|TYPE) meshgate_\w+ .+|meshgate_\w+(\{.*\})? \S+)$/, line);
});

test('source metrics come from the typed status fields, never from details', () => {
  const m = createMetrics(() => 0);
  const sm = new SourceMetrics(m);
  sm.init('consul');
  assert.equal(m.sourceSynced.get({ source: 'consul' }), 0);
  sm.apply('file', { name: 'file', synced: true, stale: false, details: { intentionDenied: ['web'] } });
  assert.equal(m.intentionDenied.get({ service: 'web' }), undefined, 'details are for people only');
  const rows: [string, string[], Record<string, number | undefined>][] = [
    ['two denied', ['billing', 'web'], { billing: 1, web: 1 }],
    ['billing allowed again drops to 0', ['web'], { billing: 0, web: 1 }],
    ['none denied', [], { billing: 0, web: 0 }],
  ];
  for (const [what, denied, want] of rows) {
    sm.apply('consul', { name: 'consul', synced: true, stale: true, consul: { intentionDenied: denied } });
    for (const [service, v] of Object.entries(want)) assert.equal(m.intentionDenied.get({ service }), v, what);
  }
  assert.equal(m.sourceSynced.get({ source: 'consul' }), 1);
  assert.equal(m.sourceStale.get({ source: 'consul' }), 1);
});
