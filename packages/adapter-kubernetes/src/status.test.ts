import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKubernetesConfig } from './config.ts';
import type { DesiredStatus } from './gateway.ts';
import { microTime } from './leader.ts';
import { backoffDelay } from './reflector.ts';
import { toGw } from './state.ts';
import { nextStatus } from './status.ts';

const CTRL = 'meshgate.io/gateway-controller';
const ref = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', namespace: 'infra' };
const desired = (gen: number, ok = true): DesiredStatus => ({
  kind: 'HTTPRoute',
  namespace: 'shop',
  name: 'r',
  parents: [
    {
      parentRef: ref,
      controllerName: CTRL,
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'attached', observedGeneration: gen },
        {
          type: 'ResolvedRefs',
          status: ok ? 'True' : 'False',
          reason: ok ? 'ResolvedRefs' : 'BackendNotFound',
          message: 'm',
          observedGeneration: gen,
        },
      ],
    },
  ],
});

test('route status: written once, then equal (no loop); other controllers keep their entries; lastTransitionTime kept while unchanged', () => {
  const other = { parentRef: { ...ref, name: 'theirs' }, controllerName: 'example.com/x', conditions: [] };
  const obj = toGw({
    metadata: { name: 'r', namespace: 'shop', generation: 1 },
    spec: {},
    status: { parents: [other] },
  });
  const first = nextStatus(obj, desired(1), CTRL, 'T1') as {
    parents: { controllerName: string; conditions: { lastTransitionTime: string }[] }[];
  };
  assert.ok(first);
  assert.deepEqual(
    first.parents.map((p) => p.controllerName),
    ['example.com/x', CTRL],
  );
  // The watch delivers the written status back: nothing more to write, even at a later time.
  const written = toGw({ metadata: { name: 'r', namespace: 'shop', generation: 1 }, spec: {}, status: first });
  assert.equal(nextStatus(written, desired(1), CTRL, 'T2'), undefined);
  // An edit (generation 2) changes observedGeneration; ResolvedRefs flips and gets a new transition time.
  const second = nextStatus(written, desired(2, false), CTRL, 'T3') as typeof first;
  assert.equal(second.parents[1].conditions[0].lastTransitionTime, 'T1');
  assert.equal(second.parents[1].conditions[1].lastTransitionTime, 'T3');
});

test('kubernetes config section: defaults, the chart-rendered shape, and errors naming the key', () => {
  assert.deepEqual(parseKubernetesConfig(null), { options: {}, errors: [] });
  const chart = parseKubernetesConfig({
    namespaces: ['shop', 'meshgate'],
    controllerName: CTRL,
    secretNamespaces: ['meshgate'],
    leaderElection: { namespace: 'meshgate', leaseName: 'meshgate-leader' },
  });
  assert.deepEqual(chart.errors, []);
  assert.deepEqual(chart.options?.namespaces, { names: ['meshgate', 'shop'] });
  const bad = parseKubernetesConfig({
    namespace: 'x',
    namespaces: 'some',
    controllerName: 'nodomain',
    leaderElection: { leaseSeconds: 1 },
  });
  assert.deepEqual(
    bad.errors.map((e) => e.path),
    [
      'kubernetes.namespace',
      'kubernetes.namespaces',
      'kubernetes.controllerName',
      'kubernetes.leaderElection.leaseSeconds',
    ],
  );
  assert.deepEqual(parseKubernetesConfig({ namespaces: { selector: 'mesh=on' } }).options, {
    namespaces: { selector: 'mesh=on' },
  });
});

test('lease times have six fractional digits; backoff is jittered and capped', () => {
  assert.match(microTime(new Date(0)), /^1970-01-01T00:00:00\.000000Z$/);
  assert.equal(
    backoffDelay(30, 200, 10_000, () => 0.999_999),
    9999,
  );
  assert.equal(
    backoffDelay(1, 200, 10_000, () => 0),
    50,
  );
});
