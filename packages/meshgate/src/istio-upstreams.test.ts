import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readMeshConfig } from './istio-upstreams.ts';

test('the mesh config: trustDomain and trustDomainAliases; bad input named', () => {
  assert.deepEqual(readMeshConfig(undefined), { trustDomainAliases: [] });
  assert.deepEqual(readMeshConfig('trustDomain: td.example\ntrustDomainAliases: [old.example, old.example]\n'), {
    trustDomain: 'td.example',
    trustDomainAliases: ['old.example'],
  });
  assert.deepEqual(readMeshConfig('defaultConfig: {discoveryAddress: x}\n'), { trustDomainAliases: [] });
  assert.match(
    String((readMeshConfig('trustDomainAliases: old.example') as { error: string }).error),
    /list of trust domain/,
  );
  assert.match(String((readMeshConfig('a: [') as { error: string }).error), /is not YAML/);
  assert.match(String((readMeshConfig('- a') as { error: string }).error), /mapping/);
});
