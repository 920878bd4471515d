import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model, Service } from '@meshgate/model';
import { translate, translateEndpointUpdate } from './translate.ts';
import { TYPE } from './types.ts';

const tls = {
  trustBundle: 'mesh/x/roots',
  clientIdentity: 'mesh/x/gw',
  expectedSans: [{ kind: 'uri' as const, value: 'spiffe://x/web' }],
};
const model: Model = {
  services: [],
  routes: [],
  listeners: [],
  identities: [{ name: 'mesh/x/gw', certChainPem: 'C', privateKeyPem: 'K' }],
  trustBundles: [{ name: 'mesh/x/roots', caPems: ['CA'] }],
};

test('the endpoint fast path holds the same endpoint rules as translate()', () => {
  const rows: { name: string; service: Service; problem?: RegExp }[] = [
    {
      name: 'IPv4 and IPv6 endpoints',
      service: {
        name: 'web',
        endpoints: [
          { address: '10.0.0.1', port: 80 },
          { address: '::1', port: 80 },
        ],
      },
    },
    {
      name: 'mesh TLS whose bundle and identity the model has',
      service: { name: 'web', endpoints: [{ address: '10.0.0.1', port: 80 }], tls },
    },
    {
      name: 'a host name',
      service: { name: 'web', endpoints: [{ address: 'web.internal', port: 80 }] },
      problem: /services\[web\]\.endpoints\[web\.internal:80\]: address "web\.internal" is not an IP address/,
    },
    {
      name: 'port out of range',
      service: { name: 'web', endpoints: [{ address: '10.0.0.1', port: 0 }] },
      problem: /port must be an integer in 1\.\.65535/,
    },
    {
      name: 'weight 0',
      service: { name: 'web', endpoints: [{ address: '10.0.0.1', port: 80, weight: 0 }] },
      problem: /weight must be a positive integer/,
    },
    {
      name: 'a trust bundle the model lacks',
      service: { name: 'web', endpoints: [], tls: { ...tls, trustBundle: 'mesh/y/roots' } },
      problem: /trust bundle "mesh\/y\/roots" does not exist/,
    },
  ];
  for (const r of rows) {
    const fast = translateEndpointUpdate(model, [r.service], 'grpc');
    const full = translate({ ...model, services: [r.service] }, 'grpc');
    const text = (ps: { path: string; message: string }[]) => ps.map((p) => `${p.path}: ${p.message}`).join('\n');
    if (r.problem) {
      assert.match(text(fast.problems), r.problem, r.name);
      assert.match(text(full.problems), r.problem, `${r.name} (translate)`);
      assert.equal(fast.assignments.size, 0, `${r.name}: nothing to publish`);
    } else {
      assert.deepEqual(fast.problems, [], r.name);
      assert.deepEqual([...fast.assignments.keys()], ['web'], r.name);
      assert.deepEqual(fast.assignments.get('web'), full.resources.get(TYPE.endpoint)?.get('web'), r.name);
    }
  }
});
