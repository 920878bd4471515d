import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from './metrics.ts';

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
