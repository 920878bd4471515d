import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InvalidConfigError, loadSettings, readSettings } from './config.ts';
import { withConfigFile } from './test-support.ts';

test("istio: defaults are istiod's in-cluster address, cluster.local, istio/default; paths are the file's", () => {
  withConfigFile('istio:\n  serviceAccount: gw\n  tokenFile: token\n  ttl: 1h\n', (f, dir) => {
    const s = loadSettings(f, {}, {});
    assert.deepEqual(s.istio, {
      address: 'istiod.istio-system.svc:15012',
      serverName: 'istiod.istio-system.svc',
      serviceAccount: 'gw',
      tokenFile: join(dir, 'token'),
      tokenAudience: 'istio-ca',
      trustDomain: 'cluster.local',
      clusterId: 'Kubernetes',
      ttlMs: 3_600_000,
      secretName: 'istio/default',
      trustBundle: 'istio/roots',
      upstreams: true,
      rootNamespace: 'istio-system',
    });
  });
});

test('istio: problems are located like every other section and stop serve', () => {
  const text = [
    'istio:', //                          1
    '  address: istiod', //               2
    '  namespace: Not_A_Name', //         3
    '  ttl: 10', //                       4
    '',
  ].join('\n');
  withConfigFile(text, (f) => {
    const r = readSettings(f, {}, {});
    assert.deepEqual(
      r.errors.map((e) => e.message.replace(`${f}:`, '')),
      [
        '2:3: istio: missing required key "serviceAccount" (the gateway\'s ServiceAccount: its SPIFFE ID is spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>)',
        '2:12: istio.address: "istiod" is not host:port',
        '3:14: istio.namespace: invalid value "Not_A_Name": a Kubernetes name: lower-case letters, digits and -, at most 63 characters',
        '4:8: istio.ttl: expected a duration such as 250ms, 90s, 1h30m, 24h or 7d, got 10 (write 10ms or 10s)',
      ],
    );
    assert.throws(() => loadSettings(f, {}, {}), InvalidConfigError);
  });
});
