import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeModels } from './merge.ts';
import { type Model, emptyModel } from './types.ts';

const part = (source: string, m: Partial<Model>) => ({ source, model: { ...emptyModel(), ...m } });
const svc = (name: string, port: number) => ({ name, endpoints: [{ address: '10.0.0.1', port }] });

test('merge precedence: the earlier part wins each name of each kind; every loser is reported', () => {
  const { model, conflicts } = mergeModels([
    part('file', {
      services: [svc('web', 1)],
      routes: [{ name: 'r', hosts: ['a'], match: { prefix: '/' }, backends: [{ service: 'web', weight: 1 }] }],
      identities: [{ name: 'mesh/x/gw', certChainPem: 'FILE', privateKeyPem: 'k' }],
    }),
    part('consul', {
      services: [svc('web', 2), svc('api', 3)],
      routes: [{ name: 'r', hosts: ['b'], match: { prefix: '/' }, backends: [{ service: 'api', weight: 1 }] }],
      trustBundles: [{ name: 'mesh/x/gw', caPems: ['CA'] }],
    }),
    part('certs', { identities: [{ name: 'mesh/x/gw', certChainPem: 'CERTS', privateKeyPem: 'k' }] }),
  ]);
  const rows: [string, unknown, unknown][] = [
    ['web from the first part', model.services.find((s) => s.name === 'web')?.endpoints[0].port, 1],
    ['web stamped with its source', model.services.find((s) => s.name === 'web')?.source, 'file'],
    ['api only in the second part', model.services.find((s) => s.name === 'api')?.source, 'consul'],
    ['route r from the first part', model.routes[0].hosts, ['a']],
    ['identity from the first part', model.identities[0].certChainPem, 'FILE'],
    // Identities and trust bundles are merged per kind; the translator reports a shared Secret name.
    ['a trust bundle of the same name is another kind', model.trustBundles.length, 1],
  ];
  for (const [what, got, want] of rows) assert.deepEqual(got, want, what);
  assert.deepEqual(conflicts, [
    { kind: 'services', name: 'web', kept: 'file', dropped: 'consul' },
    { kind: 'routes', name: 'r', kept: 'file', dropped: 'consul' },
    { kind: 'identities', name: 'mesh/x/gw', kept: 'file', dropped: 'certs' },
  ]);
});

test('merge: the same parts in the other order give the other winner (precedence is the list order)', () => {
  const a = part('a', { services: [svc('web', 1)] });
  const b = part('b', { services: [svc('web', 2)] });
  assert.equal(mergeModels([a, b]).model.services[0].source, 'a');
  assert.equal(mergeModels([b, a]).model.services[0].source, 'b');
  assert.deepEqual(mergeModels([b, a]).conflicts, [{ kind: 'services', name: 'web', kept: 'b', dropped: 'a' }]);
});

test('merge: sorted by name, deterministic, keeps a source the item already names, leaves inputs alone', () => {
  const input = part('a', { services: [svc('zeta', 1), { ...svc('alpha', 2), source: 'a/sub' }] });
  const frozen = JSON.stringify(input);
  const one = mergeModels([input]);
  assert.deepEqual(
    one.model.services.map((s) => [s.name, s.source]),
    [
      ['alpha', 'a/sub'],
      ['zeta', 'a'],
    ],
  );
  assert.deepEqual(mergeModels([input]), one);
  assert.equal(JSON.stringify(input), frozen);
  assert.deepEqual(mergeModels([]), { model: emptyModel(), conflicts: [] });
});
