import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allowedEntryProblem,
  allowedNodesAdvice,
  nodeMayHave,
  parseAllowedEntry,
  secretAccess,
  secretsWarnings,
} from './node-authz.ts';

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

const SECURE = { xdsTls: true, insecureAllowUnauthenticated: false };
const PLAIN = { xdsTls: false, insecureAllowUnauthenticated: false };
const OPTED_IN = { xdsTls: false, insecureAllowUnauthenticated: true };

test('a private key needs a verified client certificate, whatever allowedNodes says, unless opted in', () => {
  for (const allowed of [undefined, [], ['gw-1']]) {
    const d = secretAccess(allowed, { id: 'gw-1' }, undefined, PLAIN);
    assert.equal(d.ok, false, JSON.stringify(allowed));
    assert.match(
      (d as { reason: string }).reason,
      /no verified client certificate \(xds\.tls is not set\); configure xds\.tls .*allowedNodes: \[spiffe:\/\/\.\.\.\].*local development only: xds\.insecureAllowUnauthenticatedSecrets: true/,
    );
    assert.equal(secretAccess(allowed, { id: 'gw-1' }, undefined, OPTED_IN).ok, true, 'the opt-in serves it');
  }
  assert.equal(secretAccess([GW], { id: 'gw-1' }, undefined, OPTED_IN).ok, false, 'a SPIFFE entry still needs mTLS');
});

test('under xds.tls: no allowedNodes admits any verified client; a list admits whom it names and says why not', () => {
  assert.equal(secretAccess(undefined, { id: 'x' }, peer([OTHER]), SECURE).ok, true);
  assert.equal(secretAccess([GW], { id: 'x' }, peer([GW]), SECURE).ok, true);
  const d = secretAccess([GW], { id: 'x', cluster: 'c' }, peer([OTHER], ['o.example']), SECURE);
  assert.equal(d.ok, false);
  assert.equal(
    (d as { reason: string }).reason,
    `allowedNodes ["${GW}"] does not admit this node (client certificate URI SANs ["${OTHER}"], DNS SANs ["o.example"], node id "x", cluster "c"); add the gateway's SPIFFE ID to the identity's allowedNodes`,
  );
});

test('warnings: the opt-in names the risk and the safe setup; no xds.tls means unserved keys; open lists under xds.tls', () => {
  const ids = [{ name: 'mesh/gw' }, { name: 'mesh/bound', allowedNodes: [GW] }];
  const optedIn = secretsWarnings({ ...OPTED_IN, identities: ids });
  assert.match(
    optedIn[0],
    /^xds\.insecureAllowUnauthenticatedSecrets is on: any process that can reach the xDS port can fetch the private key/,
  );
  assert.match(optedIn[0], /local development only; instead configure xds\.tls .*allowedNodes: \[spiffe:\/\/\.\.\.\]/);
  assert.match(
    optedIn[1],
    /identity "mesh\/bound": allowedNodes names certificate identities .* no node gets this Secret/,
  );
  assert.equal(optedIn.length, 2);
  assert.deepEqual(secretsWarnings({ ...OPTED_IN, identities: [] }).length, 1, 'warned at start, before any identity');

  const plain = secretsWarnings({ ...PLAIN, identities: ids });
  assert.equal(plain.length, 1);
  assert.match(
    plain[0],
    /^identities \["mesh\/gw","mesh\/bound"\] hold private keys, and the xDS port does not authenticate clients/,
  );
  assert.deepEqual(secretsWarnings({ ...PLAIN, identities: [] }), []);

  const secure = secretsWarnings({ ...SECURE, identities: ids });
  assert.equal(secure.length, 1);
  assert.match(
    secure[0],
    /^identity "mesh\/gw" has no allowedNodes: every client with a certificate from xds\.tls\.caFile can fetch its private key/,
  );
  assert.match(
    secretsWarnings({ xdsTls: true, insecureAllowUnauthenticated: true, identities: [] })[0],
    /has no effect/,
  );
});
