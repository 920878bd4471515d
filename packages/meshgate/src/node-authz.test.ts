import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedEntryProblem, allowedNodesAdvice, nodeMayHave, parseAllowedEntry } from './node-authz.ts';

const GW = 'spiffe://example.org/ns/gw/sa/gw';
const OTHER = 'spiffe://example.org/ns/gw/sa/other';
const peer = (uri: string[] = [], dns: string[] = []) => ({ uriSans: uri, dnsSans: dns });

test('entry kinds: URI, dns: prefix, plain node id or cluster', () => {
  assert.deepEqual(parseAllowedEntry(GW), { kind: 'uri', value: GW });
  assert.deepEqual(parseAllowedEntry('dns:GW.Example.org'), { kind: 'dns', value: 'gw.example.org' });
  assert.deepEqual(parseAllowedEntry('gw-1'), { kind: 'node', value: 'gw-1' });
});

test('a SPIFFE entry matches only the verified URI SAN, whatever node id the client claims', () => {
  assert.equal(nodeMayHave([GW], { id: 'anything' }, peer([GW])), true);
  assert.equal(
    nodeMayHave([GW], { id: GW, cluster: GW }, peer([OTHER])),
    false,
    'claiming the SPIFFE ID as node id or cluster gets nothing',
  );
  assert.equal(nodeMayHave([GW], { id: 'gw' }, undefined), false, 'no client certificate, no match');
  assert.equal(nodeMayHave([GW], { id: 'gw' }, peer([], [GW])), false, 'a DNS SAN is not a URI SAN');
});

test('a dns: entry matches only a verified DNS SAN (case-insensitive)', () => {
  assert.equal(nodeMayHave(['dns:gw.example.org'], { id: 'x' }, peer([], ['GW.example.org'])), true);
  assert.equal(
    nodeMayHave(['dns:gw.example.org'], { id: 'gw.example.org' }, peer([OTHER], ['other.example.org'])),
    false,
  );
});

test('plain entries match the declared node id or cluster; an empty list allows every node', () => {
  assert.equal(nodeMayHave(['gw-1'], { id: 'gw-1' }, undefined), true);
  assert.equal(nodeMayHave(['gateways'], { id: 'x', cluster: 'gateways' }, undefined), true);
  assert.equal(nodeMayHave(['gw-1'], { id: 'gw-2', cluster: 'e2e' }, peer([GW])), false);
  assert.equal(nodeMayHave([], { id: 'x' }, undefined), true);
  assert.equal(nodeMayHave(undefined, { id: 'x' }, undefined), true);
});

test('certificate and node entries together: the node must match one of each', () => {
  const both = ['gw-1', GW];
  assert.equal(nodeMayHave(both, { id: 'gw-1' }, peer([GW])), true);
  assert.equal(nodeMayHave(both, { id: 'gw-1' }, peer([OTHER])), false, 'the right node id with another certificate');
  assert.equal(nodeMayHave(both, { id: 'gw-2' }, peer([GW])), false, 'the right certificate with another node id');
  assert.equal(nodeMayHave([GW, OTHER], { id: 'x' }, peer([OTHER])), true, 'certificate entries are alternatives');
});

test('advice: plain entries under xds.tls, certificate entries without it; never for bound or open lists', () => {
  assert.match(
    allowedNodesAdvice('mesh/gw', ['gw-1'], true)!,
    /^identity "mesh\/gw": allowedNodes \["gw-1"\] are node ids or clusters the client declares itself;.*spiffe:\/\//,
  );
  assert.equal(allowedNodesAdvice('mesh/gw', ['gw-1', GW], true), undefined);
  assert.equal(allowedNodesAdvice('mesh/gw', [GW], true), undefined);
  assert.equal(allowedNodesAdvice('mesh/gw', [], true), undefined);
  assert.match(allowedNodesAdvice('mesh/gw', [GW], false)!, /no node gets this Secret\. Configure xds\.tls$/);
  assert.equal(allowedNodesAdvice('mesh/gw', ['gw-1'], false), undefined);
});

test('entries that can never match are named with the fix', () => {
  assert.equal(allowedEntryProblem(GW), undefined);
  assert.equal(allowedEntryProblem('dns:gw.example.org'), undefined);
  assert.equal(allowedEntryProblem('gw-1'), undefined);
  assert.match(allowedEntryProblem('dns:')!, /write the DNS SAN after dns:/);
  assert.match(allowedEntryProblem('spiffe://example.org/ns/a b')!, /is not a valid URI/);
});
