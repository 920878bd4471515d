// A client that stops reading must not hold up anyone else, and must not make the server queue every version it
// missed: while grpc-js reports backpressure the stream only remembers what changed and sends the latest state
// once the client drains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TYPE } from './types.ts';
import { messageType } from './protos.ts';
import { setVersion } from './wire.ts';
import { startServer, resourceSet, cla, eventually } from './test-helpers.ts';

const bigCla = (i: number) =>
  cla(
    'a',
    Array.from({ length: 3000 }, (_, k) => 1000 + ((k + i) % 60000)),
  );

test('a slow (non-reading) client neither blocks other streams nor accumulates a backlog', async (t) => {
  const h = await startServer(t);
  h.cache.publish('envoy', resourceSet(['a']));
  const Req = messageType('envoy.service.discovery.v3.DiscoveryRequest');
  const Resp = messageType('envoy.service.discovery.v3.DiscoveryResponse');
  const raw = new grpc.Client(h.address, grpc.credentials.createInsecure());
  t.after(() => raw.close());
  const slow = raw.makeBidiStreamRequest(
    '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    (o: object) => Buffer.from(Req.encode(Req.fromObject(o)).finish()),
    (b: Buffer) => b,
  );
  slow.on('error', () => {});
  const slowReceived: string[] = [];
  slow.on('data', (b: Buffer) =>
    slowReceived.push((Resp.decode(b) as unknown as { version_info: string }).version_info),
  );
  slow.write({ node: { id: 'slow', user_agent_name: 'envoy' }, type_url: TYPE.endpoint, resource_names: ['a'] });
  await eventually(() => slowReceived.length === 1, 5000, 'first response to the slow client');
  slow.pause();

  const fast = await h.client({ id: 'fast' });
  fast.subscribe(TYPE.endpoint, ['a']);
  await fast.next(TYPE.endpoint);
  const updates = 100;
  for (let i = 1; i <= updates; i++) {
    h.cache.patch('envoy', TYPE.endpoint, new Map([['a', bigCla(i)]]));
    await fast.next(TYPE.endpoint, 10_000); // the fast client gets every update while the slow one is stuck
  }
  const latest = h.cache.get('envoy', TYPE.endpoint, 'a')!.version;
  slow.resume();
  // The slow client catches up to the latest state, with fewer messages than updates (the rest were coalesced).
  const latestVersionInfo = setVersion([['a', latest]]);
  await eventually(() => slowReceived.at(-1) === latestVersionInfo, 20_000, 'slow client receiving the latest state');
  assert.ok(
    slowReceived.length - 1 < updates * 0.75,
    `slow client got ${slowReceived.length - 1} messages for ${updates} updates`,
  );
  slow.cancel();
});
