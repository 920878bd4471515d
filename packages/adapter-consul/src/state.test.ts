import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsulSourceOptions } from './options.ts';
import { resolveSettings } from './settings.ts';
import { type ConsulState, desiredServices, isSynced, needsCatalog, newState, watchEntries } from './state.ts';

const catalog = new Map<string, string[]>([
  ['consul', []],
  ['web', ['public']],
  ['web-sidecar-proxy', []],
  ['api', []],
  ['meshgate-gateway', ['public']],
]);

function state(o: Partial<ConsulState> = {}): ConsulState {
  return Object.assign(newState(), { dc: 'dc1' }, o);
}

const desiredCases: {
  name: string;
  options: ConsulSourceOptions;
  state: Partial<ConsulState>;
  want: Record<string, boolean>;
}[] = [
  {
    name: 'configured services; Connect from the catalog sidecar in auto mode',
    options: { services: ['web', 'api'] },
    state: { catalog },
    want: { web: true, api: false },
  },
  {
    name: 'route needs and ingress services are added; "*" is not a service',
    options: { services: ['api'] },
    state: {
      catalog,
      routeNeeds: new Set(['web']),
      ingress: [
        {
          port: 8080,
          protocol: 'http',
          services: [
            {
              name: 'shop',
              hosts: [],
              requestHeadersToAdd: [],
              requestHeadersToRemove: [],
              responseHeadersToAdd: [],
              responseHeadersToRemove: [],
            },
            {
              name: '*',
              hosts: [],
              requestHeadersToAdd: [],
              requestHeadersToRemove: [],
              responseHeadersToAdd: [],
              responseHeadersToRemove: [],
            },
          ],
        },
      ],
    },
    want: { api: false, web: true, shop: false },
  },
  {
    name: 'watchAll takes the catalog minus consul, sidecars and the gateway itself',
    options: { watchAll: true, gateway: {} },
    state: { catalog },
    want: { web: true, api: false },
  },
  {
    name: 'tag takes the tagged catalog services',
    options: { tag: 'public', connect: 'never' },
    state: { catalog },
    want: { web: false, 'meshgate-gateway': false },
  },
  {
    name: 'connect: always marks every service Connect without a catalog',
    options: { services: ['api'], connect: 'always' },
    state: {},
    want: { api: true },
  },
];

for (const c of desiredCases)
  test(`desiredServices: ${c.name}`, () => {
    assert.deepEqual(Object.fromEntries(desiredServices(state(c.state), resolveSettings(c.options))), c.want);
  });

test('needsCatalog: only to list services (watchAll, tag) or to tell Connect ones (auto)', () => {
  const rows: [ConsulSourceOptions, boolean][] = [
    [{}, true],
    [{ connect: 'never' }, false],
    [{ connect: 'always', tag: 'x' }, true],
    [{ connect: 'never', watchAll: true }, true],
  ];
  for (const [o, want] of rows) assert.equal(needsCatalog(resolveSettings(o)), want, JSON.stringify(o));
});

test('isSynced: every watch answered, plus datacenter, catalog, leaf and registration; per-watch, not by name', () => {
  const leaf = { chainPem: 'c', keyPem: 'k', serial: '1' };
  const gw = resolveSettings({ gateway: {} });
  const plain = resolveSettings({ connect: 'never' });
  const watches = (...synced: boolean[]) => new Map(synced.map((s, i) => [`w${i}`, { synced: s }]));
  const rows: [string, ConsulState, typeof gw, boolean][] = [
    ['no datacenter yet', state({ dc: '' }), plain, false],
    ['no watches at all', state(), plain, true],
    ['one watch pending', state({ watches: watches(true, false) }), plain, false],
    ['every watch answered', state({ watches: watches(true, true) }), plain, true],
    [
      'a failing watch that answered once stays synced',
      state({ watches: new Map([['w', { synced: true, failure: 'down' }]]) }),
      plain,
      true,
    ],
    ['auto Connect without the catalog', state(), resolveSettings({}), false],
    ['gateway without a leaf', state({ catalog, registered: true }), gw, false],
    ['gateway not registered', state({ catalog, leaf }), gw, false],
    ['gateway with leaf and registration', state({ catalog, leaf, registered: true }), gw, true],
    [
      'gateway that does not register',
      state({ catalog, leaf }),
      resolveSettings({ gateway: { register: false } }),
      true,
    ],
  ];
  for (const [name, st, s, want] of rows) assert.equal(isSynced(st, s), want, name);
});

test('watchEntries: running watches and failing one-shot tasks, for summarizeWatches', () => {
  const st = state({
    watches: new Map([
      ['catalog', { synced: true }],
      ['svc:web', { synced: false, failure: 'unreachable' }],
    ]),
    failingTasks: new Map([['register', '403']]),
  });
  assert.deepEqual(watchEntries(st), [
    ['catalog', { synced: true }],
    ['svc:web', { synced: false, failure: 'unreachable' }],
    ['register', { synced: true, failure: '403' }],
  ]);
});
