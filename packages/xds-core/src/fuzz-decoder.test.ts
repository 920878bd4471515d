// Fuzz of the request decoder the xDS port runs on every message (requestDeserializer: SotW with the shared name
// lists, and delta), with a fixed seed: `npm test` tries 5,000 inputs; `npm run fuzz` 1,000,000 (figures in
// docs/reliability.md). A crash is anything that escapes the decoder, or a decoded request of the wrong shape, or
// the name-list fast path disagreeing with a plain decode about the names a request carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageType } from './protos.ts';
import { requestDeserializer } from './server.ts';
import { NameListCache } from './name-lists.ts';
import { DecodeFailure } from './stream-base.ts';
import { TYPE } from './types.ts';
import { fuzz, fuzzSettings } from './testing/fuzz.ts';

const SOTW = 'envoy.service.discovery.v3.DiscoveryRequest';
const DELTA = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';

function encode(name: string, o: object): Buffer {
  const T = messageType(name);
  return Buffer.from(T.encode(T.fromObject(o)).finish());
}

const node = {
  id: 'gateway-1',
  cluster: 'edge',
  user_agent_name: 'envoy',
  metadata: { fields: { meshgate_profile: { string_value: 'envoy' } } },
  locality: { region: 'r', zone: 'z' },
};
const many = (n: number) => Array.from({ length: n }, (_, i) => `cluster-${i}`);

const SOTW_SEEDS = [
  encode(SOTW, { node, type_url: TYPE.cluster, resource_names: [] }),
  encode(SOTW, { node, type_url: TYPE.endpoint, resource_names: many(40), version_info: 'v1', response_nonce: '1-2' }),
  encode(SOTW, {
    type_url: TYPE.route,
    resource_names: ['echo'],
    response_nonce: '1-3',
    error_detail: { code: 3, message: 'rejected', details: [{ type_url: 'x', value: Buffer.from([1, 2]) }] },
  }),
  encode(SOTW, { node, type_url: TYPE.secret, resource_names: ['*', 'mesh/roots'] }),
];
const DELTA_SEEDS = [
  encode(DELTA, {
    node,
    type_url: TYPE.endpoint,
    resource_names_subscribe: many(20),
    initial_resource_versions: { 'cluster-1': 'abc', 'cluster-2': 'def' },
  }),
  encode(DELTA, { type_url: TYPE.cluster, resource_names_unsubscribe: ['a'], response_nonce: '2-1' }),
  encode(DELTA, { type_url: TYPE.listener, response_nonce: '2-2', error_detail: { code: 13, message: 'bad' } }),
];
/** A protobuf field header for each (field, wire type) pair the messages use, plus a few out of range. */
const TOKENS = [1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 536870911].flatMap((f) =>
  [0, 1, 2, 5].map((w) => Buffer.from(varint(f * 8 + w))),
);

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function checkShape(req: Record<string, unknown>, kind: 'sotw' | 'delta'): void {
  const strings = (v: unknown, what: string) => {
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`${what} is not a string[]`);
  };
  for (const k of ['type_url', 'response_nonce', 'version_info'])
    if (req[k] !== undefined && typeof req[k] !== 'string') throw new Error(`${k} is not a string`);
  if (kind === 'sotw') strings(req.resource_names, 'resource_names');
  else {
    strings(req.resource_names_subscribe, 'resource_names_subscribe');
    strings(req.resource_names_unsubscribe, 'resource_names_unsubscribe');
  }
  if (req.node !== undefined && (typeof req.node !== 'object' || req.node === null)) throw new Error('node');
}

test('fuzz: the DiscoveryRequest / DeltaDiscoveryRequest decoder never throws and never yields a malformed request', () => {
  const { inputs, seed } = fuzzSettings();
  const fast = requestDeserializer(SOTW, new NameListCache({ minNames: 2, maxEntries: 8 }));
  const plain = requestDeserializer(SOTW);
  const delta = requestDeserializer(DELTA);
  const result = fuzz({ seed, inputs, seeds: [...SOTW_SEEDS, ...DELTA_SEEDS], tokens: TOKENS }, (buf) => {
    const a = fast(buf);
    const b = plain(buf);
    const d = delta(buf);
    if (!(a instanceof DecodeFailure)) checkShape(a as Record<string, unknown>, 'sotw');
    if (!(b instanceof DecodeFailure)) checkShape(b as Record<string, unknown>, 'sotw');
    if (!(d instanceof DecodeFailure)) checkShape(d as Record<string, unknown>, 'delta');
    if (!(a instanceof DecodeFailure) && !(b instanceof DecodeFailure))
      assert.deepEqual(
        (a as { resource_names: string[] }).resource_names,
        (b as { resource_names: string[] }).resource_names,
        'the name-list fast path and a plain decode disagree',
      );
    return `sotw ${a instanceof DecodeFailure ? 'rejected' : 'decoded'}, delta ${d instanceof DecodeFailure ? 'rejected' : 'decoded'}`;
  });
  console.log(`fuzz decoder: ${JSON.stringify({ ...result, crashes: result.crashes.length })}`);
  assert.deepEqual(result.crashes, [], `crashes (seed ${seed}); first: ${result.crashes[0]?.error}`);
});
