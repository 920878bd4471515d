import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageType } from './protos.ts';
import { NameListCache } from './name-lists.ts';
import { requestDeserializer } from './server.ts';
import { DecodeFailure } from './stream-base.ts';
import { TYPE } from './types.ts';

const DR = 'envoy.service.discovery.v3.DiscoveryRequest';
const encode = (o: object): Buffer => {
  const t = messageType(DR);
  return Buffer.from(t.encode(t.fromObject(o)).finish());
};
const names = (n: number, p = 'svc'): string[] => Array.from({ length: n }, (_, i) => `${p}-${i}.ns.svc.cluster.local`);

test('SotW requests decode the same with and without the name-list cache', () => {
  const plain = requestDeserializer(DR);
  const cached = requestDeserializer(DR, new NameListCache());
  const cases = [
    {
      node: { id: 'gw', user_agent_name: 'envoy' },
      type_url: TYPE.endpoint,
      resource_names: names(40),
      version_info: 'v1',
      response_nonce: 'n-1',
    },
    {
      type_url: TYPE.endpoint,
      resource_names: names(40, 'ünïcödé'),
      response_nonce: 'n-2',
      error_detail: { code: 3, message: 'bad' },
    },
    { type_url: TYPE.cluster, resource_names: names(3) },
    { type_url: TYPE.cluster },
  ];
  for (const c of cases) {
    const buf = encode(c);
    const a = plain(buf) as Record<string, unknown>;
    const b = cached(buf) as Record<string, unknown>;
    assert.deepEqual({ ...b, resource_names: [...(b.resource_names as string[])] }, a);
  }
});

test('a repeated name list is decoded once and shared; few names are decoded normally', () => {
  const cache = new NameListCache();
  const de = requestDeserializer(DR, cache);
  const list = names(1000);
  const a = de(encode({ type_url: TYPE.endpoint, resource_names: list, response_nonce: 'a' })) as {
    resource_names: string[];
  };
  const b = de(encode({ type_url: TYPE.endpoint, resource_names: list, response_nonce: 'b', version_info: 'x' })) as {
    resource_names: string[];
  };
  assert.equal(a.resource_names, b.resource_names, 'same array for the same list');
  assert.ok(Object.isFrozen(a.resource_names));
  assert.deepEqual([...a.resource_names], list);
  de(encode({ type_url: TYPE.endpoint, resource_names: names(5) }));
  assert.equal(cache.size, 1);
});

test('names split around other fields are decoded in order, without the cache', () => {
  const cache = new NameListCache();
  const de = requestDeserializer(DR, cache);
  const list = names(40);
  // Concatenated protobuf messages merge; repeated fields append, so the names straddle type_url.
  const buf = Buffer.concat([
    encode({ resource_names: list.slice(0, 20) }),
    encode({ type_url: TYPE.endpoint }),
    encode({ resource_names: list.slice(20) }),
  ]);
  const r = de(buf) as { resource_names: string[]; type_url: string };
  assert.deepEqual(r.resource_names, list);
  assert.equal(r.type_url, TYPE.endpoint);
  assert.equal(cache.size, 0);
});

test('malformed bytes are a decode failure; the cache stays within its byte budget', () => {
  const cache = new NameListCache({ maxBytes: 4000 });
  const de = requestDeserializer(DR, cache);
  const buf = encode({ type_url: TYPE.endpoint, resource_names: names(40) });
  assert.ok(de(buf.subarray(0, buf.length - 7)) instanceof DecodeFailure);
  for (let i = 0; i < 20; i++) de(encode({ type_url: TYPE.endpoint, resource_names: names(40, `p${i}`) }));
  assert.ok(cache.size >= 1 && cache.size <= 3, `kept ${cache.size} lists of ~1,200 bytes in 4,000`);
});

test('a known field under the wrong wire type is left to the plain decoder, so both agree on the names', () => {
  // Field 5 (response_nonce) tagged as fixed32 and followed by 0: protobufjs reads an empty string and then every
  // name, where skipping four bytes as fixed32 would swallow the start of the first name.
  const bad = Buffer.concat([
    encode({ type_url: TYPE.endpoint }),
    Buffer.from([(5 << 3) | 5, 0]),
    encode({ resource_names: names(20) }),
  ]);
  assert.equal(new NameListCache({ minNames: 2 }).split(bad), undefined);
  const a = requestDeserializer(DR)(bad);
  const b = requestDeserializer(DR, new NameListCache({ minNames: 2 }))(bad);
  assert.deepEqual(a, b);
  assert.equal((a as { resource_names: string[] }).resource_names.length, 20);
});

test('a list of the same length and size with one name changed is not taken for the cached one', () => {
  const cache = new NameListCache();
  const de = requestDeserializer(DR, cache);
  const decode = (list: string[], nonce: string) =>
    (
      de(encode({ type_url: TYPE.endpoint, resource_names: list, response_nonce: nonce })) as {
        resource_names: string[];
      }
    ).resource_names;
  const list = names(1000);
  const first = decode(list, 'a');
  // Same count, same byte length, one name differs in its last character (the first name, a middle one, the last).
  for (const i of [0, 500, 999]) {
    const other = [...list];
    other[i] = `${list[i].slice(0, -1)}X`;
    const got = decode(other, `b${i}`);
    assert.notEqual(got, first);
    assert.deepEqual([...got], other);
    // The cached list still answers for its own bytes.
    assert.equal(decode(list, `c${i}`), first);
  }
  // Same names, another order: a different list.
  const swapped = [list[1], list[0], ...list.slice(2)];
  assert.deepEqual([...decode(swapped, 'd')], swapped);
  // One name more or less around the same bytes: different lists.
  assert.deepEqual([...decode([...list, 'extra'], 'e')], [...list, 'extra']);
  assert.deepEqual([...decode(list.slice(0, -1), 'f')], list.slice(0, -1));
  assert.equal(decode(list, 'g'), first);
});

test('names after a cached list in the same request are still seen', () => {
  const de = requestDeserializer(DR, new NameListCache());
  const list = names(40);
  const cached = (de(encode({ type_url: TYPE.endpoint, resource_names: list })) as { resource_names: string[] })
    .resource_names;
  const longer = de(encode({ type_url: TYPE.endpoint, resource_names: [...list, 'tail-name'] })) as {
    resource_names: string[];
  };
  assert.notEqual(longer.resource_names, cached);
  assert.deepEqual([...longer.resource_names], [...list, 'tail-name']);
});
