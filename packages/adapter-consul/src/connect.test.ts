import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthority, createRoot } from '@meshgate/certs';
import { applyPendingLeaf, checkLeaf, leafStep, resolveRoots, rootsStep } from './connect.ts';
import type { ConsulResponse } from './http.ts';
import { ConsulDataError } from './parse.ts';
import { resolveSettings } from './settings.ts';
import { type ConnectRoots, newState } from './state.ts';
import type { WatchContext } from './watchers.ts';

const TD = '11111111-2222-3333-4444-555555555555.consul';
const uri = (svc: string) => `spiffe://${TD}/ns/default/dc/dc1/svc/${svc}`;
const ID = { gateway: 'gw', dc: 'dc1' };

async function ca(trustDomain: string | undefined = TD) {
  const root = await createRoot({ trustDomain, commonName: 'Consul CA' });
  return { root, ca: await CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem }) };
}
const rootsOf = (...pems: string[]): ConnectRoots => ({
  trustDomain: TD,
  trustDomainResolved: TD,
  activeRootId: 'r',
  rootPems: pems,
  activeIntermediates: [],
});

test('resolveRoots: the answer’s trust domain, else the root’s spiffe:// URI, else a data error', async () => {
  const withUri = await createRoot({ trustDomain: 'other.consul' });
  const bare = await createRoot({ commonName: 'no uri' });
  const base = { activeRootId: 'r', activeIntermediates: [] };
  assert.equal(resolveRoots({ ...base, trustDomain: TD, rootPems: [bare.certPem] }).trustDomainResolved, TD);
  assert.equal(
    resolveRoots({ ...base, trustDomain: '', rootPems: [withUri.certPem] }).trustDomainResolved,
    'other.consul',
  );
  assert.throws(
    () => resolveRoots({ ...base, trustDomain: '', rootPems: [bare.certPem] }),
    (e) => e instanceof ConsulDataError && /no TrustDomain and the root carries no spiffe:\/\/ URI/.test(e.message),
  );
});

test('checkLeaf: a table of leaves from the agent', async () => {
  const a = await ca();
  const other = await ca();
  const good = await a.ca.issue({ spiffe: uri('gw'), ttlMs: 3_600_000 });
  const wrongSvc = await a.ca.issue({ spiffe: uri('web'), ttlMs: 3_600_000 });
  const foreign = await other.ca.issue({ spiffe: uri('gw'), ttlMs: 3_600_000 });
  const expired = await a.ca.issue({ spiffe: uri('gw'), ttlMs: 60_000, now: new Date(Date.now() - 3_600_000) });
  const roots = rootsOf(a.root.certPem);
  const rows: { name: string; certPem: string; keyPem: string; serviceUri: string; reason?: RegExp }[] = [
    { name: 'good, ServiceURI given', certPem: good.certPem, keyPem: good.keyPem, serviceUri: uri('gw') },
    {
      name: 'good, ServiceURI built from the gateway name',
      certPem: good.certPem,
      keyPem: good.keyPem,
      serviceUri: '',
    },
    {
      name: 'the key of another leaf',
      certPem: good.certPem,
      keyPem: wrongSvc.keyPem,
      serviceUri: '',
      reason: /does not match/,
    },
    {
      name: 'valid, but for another service than the gateway',
      certPem: wrongSvc.certPem,
      keyPem: wrongSvc.keyPem,
      serviceUri: uri('web'),
      reason: /ServiceURI .*svc\/web is not the gateway service gw/,
    },
    {
      name: 'from another CA',
      certPem: foreign.certPem,
      keyPem: foreign.keyPem,
      serviceUri: '',
      reason: /does not chain/,
    },
    { name: 'expired', certPem: expired.certPem, keyPem: expired.keyPem, serviceUri: '', reason: /expired/ },
  ];
  for (const r of rows) {
    const v = checkLeaf({ certPem: r.certPem, privateKeyPem: r.keyPem, serviceUri: r.serviceUri }, roots, ID);
    if (!r.reason) {
      assert.equal(v.ok, true, `${r.name}: ${v.ok ? '' : v.reason}`);
      if (v.ok) {
        assert.equal(v.leaf.chainPem, `${r.certPem.trim()}\n`);
        assert.equal(v.leaf.keyPem, r.keyPem);
        assert.ok(v.leaf.serial.length > 0 && v.leaf.notAfter instanceof Date);
      }
    } else {
      assert.equal(v.ok, false, r.name);
      if (!v.ok) assert.match(v.reason, r.reason, r.name);
    }
  }
});

/** A watcher context over canned answers: the parts under test write the state it holds. */
function context(answers: Record<string, unknown>, options = { gateway: { name: 'gw' }, datacenter: 'dc1' }) {
  const state = Object.assign(newState(), { dc: 'dc1' });
  const logs: string[] = [];
  const errors: string[] = [];
  const ctx: WatchContext = {
    settings: resolveSettings(options),
    state,
    get: async (path): Promise<ConsulResponse> => {
      if (!(path in answers)) throw new Error(`unexpected GET ${path}`);
      return { status: 200, index: 7, body: answers[path] };
    },
    log: {
      debug() {},
      info: (_o, m) => logs.push(`info ${m}`),
      warn: (_o, m) => logs.push(`warn ${m}`),
      error: (_o, m) => logs.push(`error ${m}`),
    },
    noteError: (m) => errors.push(m),
    reconcile() {},
    changed() {},
  };
  return { ctx, state, logs, errors, answers };
}

test('a bad leaf keeps the one in service; a leaf from a new CA waits for the roots and is then accepted', async () => {
  const oldCa = await ca();
  const newCa = await ca();
  const first = await oldCa.ca.issue({ spiffe: uri('gw'), ttlMs: 3_600_000 });
  const rotated = await newCa.ca.issue({ spiffe: uri('gw'), ttlMs: 3_600_000 });
  const rootsBody = (...pems: string[]) => ({
    TrustDomain: TD,
    ActiveRootID: 'r',
    Roots: pems.map((p, i) => ({ ID: `r${i}`, RootCert: p, Active: i === pems.length - 1 })),
  });
  const leafBody = (l: { certPem: string; keyPem: string }) => ({
    CertPEM: l.certPem,
    PrivateKeyPEM: l.keyPem,
    ServiceURI: uri('gw'),
  });
  const { ctx, state, errors, answers } = context({
    '/v1/agent/connect/ca/roots': rootsBody(oldCa.root.certPem),
    '/v1/agent/connect/ca/leaf/gw': leafBody(first),
  });
  const signal = new AbortController().signal;
  const inService = () => state.leaf?.chainPem;
  assert.equal(await leafStep(ctx, 0, signal), 7);
  assert.equal(inService(), undefined, 'no roots yet: the leaf waits');
  assert.ok(state.pendingLeaf);
  await rootsStep(ctx, 0, signal);
  assert.equal(inService(), `${first.certPem.trim()}\n`);
  assert.equal(state.pendingLeaf, undefined);

  // The agent hands out a leaf of the new CA before the roots list that CA.
  answers['/v1/agent/connect/ca/leaf/gw'] = leafBody(rotated);
  await leafStep(ctx, 7, signal);
  assert.equal(inService(), `${first.certPem.trim()}\n`, 'the previous leaf stays in service');
  assert.match(state.leafError ?? '', /leaf certificate for gw rejected: certificate does not chain/);
  assert.equal(errors.length, 1);
  applyPendingLeaf(ctx);
  assert.equal(errors.length, 2, 'tried again, still rejected');

  answers['/v1/agent/connect/ca/roots'] = rootsBody(oldCa.root.certPem, newCa.root.certPem);
  await rootsStep(ctx, 7, signal);
  assert.equal(inService(), `${rotated.certPem.trim()}\n`, 'the new roots make the waiting leaf valid');
  assert.equal(state.leafError, undefined);
  assert.equal(state.roots?.rootPems.length, 2);
});
