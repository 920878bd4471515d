import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConsulHttp, ConsulHttpError, type ConsulResponse } from './http.ts';
import { ConsulDataError } from './parse.ts';
import { resolveSettings } from './settings.ts';
import { type ServiceWatch, newState } from './state.ts';
import { Semaphore } from './util.ts';
import { type WatchContext, blockingGet, catalogStep, ingressStep, isBadData, serviceStep } from './watchers.ts';

const instance = (addr: string, port: unknown = 80) => ({
  Node: { Node: 'n1', Address: '10.0.0.1' },
  Service: { ID: `web-${addr}`, Service: 'web', Address: addr, Port: port, Tags: [] },
  Checks: [{ CheckID: 'serfHealth', Status: 'passing' }],
});

/** A watcher context answering every GET with the next canned answer. */
function context(answers: (unknown | Error | { status: 404 })[], options = {}) {
  const state = Object.assign(newState(), { dc: 'dc1' });
  const errors: string[] = [];
  const warnings: string[] = [];
  const paths: string[] = [];
  let reconciles = 0;
  const ctx: WatchContext = {
    settings: resolveSettings({ gateway: { name: 'gw' }, ...options }),
    state,
    get: async (path, index, _signal, query): Promise<ConsulResponse> => {
      paths.push(`${path} ${JSON.stringify(query ?? {})}`);
      const a = answers.shift();
      if (a instanceof Error) throw a;
      if (a && typeof a === 'object' && 'status' in a && a.status === 404)
        return { status: 404, index: index + 1, body: undefined };
      return { status: 200, index: index + 1, body: a };
    },
    log: { debug() {}, info() {}, warn: (_o, m) => warnings.push(String(m)), error() {} },
    noteError: (m) => errors.push(m),
    reconcile: () => reconciles++,
    changed() {},
  };
  return { ctx, state, errors, warnings, paths, reconciles: () => reconciles };
}

test('service watch: a table of answers, each keeping the last good endpoints when it is bad', async () => {
  const c = context([
    [instance('10.0.0.2'), instance('10.0.0.3')],
    [instance('10.0.0.4', 'eighty')],
    new ConsulHttpError('bad-json', 'GET /v1/health/service/web: answer is not valid JSON'),
    new ConsulHttpError('unreachable', 'GET /v1/health/service/web: cannot reach the Consul agent'),
    [instance('10.0.0.5')],
  ]);
  const st: ServiceWatch = { name: 'web', connect: false };
  const signal = new AbortController().signal;
  const addrs = () => st.endpoints?.map((e) => e.address);
  const rows: { returns?: number; throws?: RegExp; endpoints: string[]; bad?: RegExp }[] = [
    { returns: 1, endpoints: ['10.0.0.2', '10.0.0.3'] },
    { returns: 2, endpoints: ['10.0.0.2', '10.0.0.3'], bad: /Service\.Port: expected an integer/ },
    { throws: /not valid JSON/, endpoints: ['10.0.0.2', '10.0.0.3'], bad: /not valid JSON/ },
    // Unreachable is the loop's business (stale), not a verdict on this service's data.
    { throws: /cannot reach/, endpoints: ['10.0.0.2', '10.0.0.3'], bad: /not valid JSON/ },
    { returns: 5, endpoints: ['10.0.0.5'] },
  ];
  const index = [0, 1, 2, 3, 4];
  for (const [i, r] of rows.entries()) {
    if (r.throws) await assert.rejects(serviceStep(c.ctx, st, index[i], signal), r.throws, `row ${i}`);
    else assert.equal(await serviceStep(c.ctx, st, index[i], signal), r.returns, `row ${i}`);
    assert.deepEqual(addrs(), r.endpoints, `row ${i}`);
    if (r.bad) assert.match(st.bad ?? '', r.bad, `row ${i}`);
    else assert.equal(st.bad, undefined, `row ${i}`);
  }
  assert.deepEqual(c.errors, [
    'consul: service web skipped: health/service/web[0].Service.Port: expected an integer, got string',
  ]);
  assert.match(c.paths[0], /^\/v1\/health\/service\/web \{"passing":true\}$/);
});

test('service watch: a Connect service reads its sidecars from /health/connect; includeWarning drops ?passing', async () => {
  const c = context([[]], { includeWarning: true });
  await serviceStep(c.ctx, { name: 'pay', connect: true }, 0, new AbortController().signal);
  assert.deepEqual(c.paths, ['/v1/health/connect/pay {}']);
});

test('catalog watch writes the catalog and asks for a reconcile', async () => {
  const c = context([{ web: ['a'], consul: null }]);
  assert.equal(await catalogStep(c.ctx, 3, new AbortController().signal), 4);
  assert.deepEqual(
    [...(c.state.catalog ?? [])],
    [
      ['web', ['a']],
      ['consul', []],
    ],
  );
  assert.equal(c.reconciles(), 1);
});

test('ingress watch: entry, a rejected entry keeps the previous listeners, a deleted entry clears them', async () => {
  const entry = { Kind: 'ingress-gateway', Listeners: [{ Port: 8080, Protocol: 'http', Services: [{ Name: 'web' }] }] };
  const c = context([entry, { Kind: 'ingress-gateway', Listeners: [{ Port: 70000 }] }, { status: 404 }]);
  const signal = new AbortController().signal;
  await ingressStep(c.ctx, 0, signal);
  assert.deepEqual(
    c.state.ingress.map((l) => l.port),
    [8080],
  );
  await ingressStep(c.ctx, 1, signal);
  assert.deepEqual(
    c.state.ingress.map((l) => l.port),
    [8080],
  );
  assert.match(c.state.ingressError ?? '', /Port: 70000 is not a port/);
  assert.match(c.errors[0], /^consul: ingress-gateway entry gw rejected: /);
  await ingressStep(c.ctx, 2, signal);
  assert.deepEqual(c.state.ingress, []);
  assert.equal(c.state.ingressError, undefined);
  assert.equal(c.reconciles(), 3);
  assert.match(c.paths[0], /^\/v1\/config\/ingress-gateway\/gw /);
});

test('isBadData: received but unusable answers, not an unreachable agent', () => {
  const rows: [unknown, boolean][] = [
    [new ConsulDataError('x'), true],
    [new ConsulHttpError('bad-json', 'x'), true],
    [new ConsulHttpError('too-large', 'x'), true],
    [new ConsulHttpError('unreachable', 'x'), false],
    [new ConsulHttpError('acl', 'x', 403), false],
    [new ConsulHttpError('status', 'x', 500), false],
    [new Error('x'), false],
  ];
  for (const [e, want] of rows) assert.equal(isBadData(e), want, String(e));
});

test('blockingGet: index >= 1 blocks with index and a jittered wait; 0 is a plain read', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '12' });
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s = resolveSettings({ address, waitMs: 16_000, datacenter: 'dc1' });
  const http = new ConsulHttp({
    address,
    token: () => '',
    maxBodyBytes: 1024,
    common: { dc: 'dc1' },
    redact: (x) => x,
  });
  try {
    const get = blockingGet(http, new Semaphore(2), s);
    const signal = new AbortController().signal;
    assert.equal((await get('/v1/catalog/services', 5, signal)).index, 12);
    assert.equal((await get('/v1/catalog/services', 0, signal, { passing: true })).index, 12);
    const blocking = new URL(seen[0], address).searchParams;
    assert.equal(blocking.get('index'), '5');
    assert.equal(blocking.get('dc'), 'dc1');
    const wait = Number(blocking.get('wait')?.replace(/ms$/, '')) / (blocking.get('wait')?.endsWith('ms') ? 1000 : 1);
    assert.ok(wait >= 15 && wait <= 16, `wait ${blocking.get('wait')} is within 1/16 below 16s`);
    assert.equal(seen[1], '/v1/catalog/services?dc=dc1&passing=');
  } finally {
    http.close();
    server.close();
  }
});
