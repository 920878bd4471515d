// The generator's raw decoding must agree with a full protobufjs decode, or every benchmark
// figure built on it (names subscribed, change markers found) would be wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate, translateEndpoints } from '@meshgate/translator';
import { envoyRoot, TYPE } from '@meshgate/xds-core';
import { benchModel, benchService, LISTENER } from './model.ts';
import {
  assignmentPorts,
  clusterEdsName,
  decodeDeltaResponse,
  decodeSotwResponse,
  encodeDeltaRequest,
  encodeNames,
  encodeSotwRequest,
  listenerRouteNames,
} from './wire.ts';

const root = envoyRoot();
const msg = (name: string) => root.lookupType(name);

function body(typeUrl: string, obj: object): Uint8Array {
  const t = msg(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  return t.encode(t.fromObject(obj)).finish();
}

const { resources } = translate(benchModel(3), 'envoy');
const objects = (typeUrl: string) => [...resources.get(typeUrl)!.values()];

test('SotW response: version, nonce, type and every resource name', () => {
  const DR = msg('envoy.service.discovery.v3.DiscoveryResponse');
  const bytes = DR.encode(
    DR.fromObject({
      version_info: 'v7',
      type_url: TYPE.cluster,
      nonce: 'n-1',
      resources: objects(TYPE.cluster).map((c) => ({ type_url: TYPE.cluster, value: body(TYPE.cluster, c) })),
    }),
  ).finish();
  const res = decodeSotwResponse(bytes);
  assert.equal(res.version, 'v7');
  assert.equal(res.nonce, 'n-1');
  assert.equal(res.typeUrl, TYPE.cluster);
  assert.deepEqual(
    res.resources.map((r) => r.name),
    ['svc-00000', 'svc-00001', 'svc-00002'],
  );
  assert.deepEqual(
    res.resources.map((r) => clusterEdsName(bytes, r.start, r.end)),
    ['svc-00000', 'svc-00001', 'svc-00002'],
  );
});

test('listener: the RDS name inside its HttpConnectionManager', () => {
  const l = body(TYPE.listener, objects(TYPE.listener)[0]);
  assert.deepEqual(listenerRouteNames(l, 0, l.length), [LISTENER]);
});

test('delta response: names, removals and the marker port of a changed assignment', () => {
  const svc = benchService(1);
  svc.endpoints[0] = { ...svc.endpoints[0], port: 20042 };
  const cla = body(TYPE.endpoint, translateEndpoints(svc, 'envoy'));
  const DDR = msg('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const bytes = DDR.encode(
    DDR.fromObject({
      system_version_info: 's1',
      type_url: TYPE.endpoint,
      nonce: 'n-2',
      resources: [{ name: 'svc-00001', version: 'abc', resource: { type_url: TYPE.endpoint, value: cla } }],
      removed_resources: ['svc-00009'],
    }),
  ).finish();
  const res = decodeDeltaResponse(bytes);
  assert.equal(res.nonce, 'n-2');
  assert.equal(res.typeUrl, TYPE.endpoint);
  assert.deepEqual(res.removed, ['svc-00009']);
  assert.equal(res.resources[0].name, 'svc-00001');
  const ports = assignmentPorts(bytes, res.resources[0].start, res.resources[0].end);
  assert.equal(ports.length, 10);
  assert.ok(ports.includes(20042));
  assert.equal(ports.filter((p) => p === 8080).length, 9);
});

test('requests decode as the DiscoveryRequest / DeltaDiscoveryRequest a server sees', () => {
  const node = { id: 'n-1', cluster: 'bench-gateway', userAgentName: 'envoy' };
  const sotw = msg('envoy.service.discovery.v3.DiscoveryRequest').toObject(
    msg('envoy.service.discovery.v3.DiscoveryRequest').decode(
      encodeSotwRequest({
        node,
        typeUrl: TYPE.endpoint,
        version: 'v1',
        nonce: 'n9',
        names: encodeNames(3, ['a', 'b']),
      }),
    ),
  );
  assert.deepEqual(sotw.resource_names, ['a', 'b']);
  assert.equal(sotw.version_info, 'v1');
  assert.equal(sotw.response_nonce, 'n9');
  assert.equal(sotw.node.id, 'n-1');
  assert.equal(sotw.node.user_agent_name, 'envoy');
  const DDQ = msg('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const delta = DDQ.toObject(
    DDQ.decode(encodeDeltaRequest({ typeUrl: TYPE.route, subscribe: ['x'], unsubscribe: ['y'], nonce: 'n3' })),
  );
  assert.deepEqual(delta.resource_names_subscribe, ['x']);
  assert.deepEqual(delta.resource_names_unsubscribe, ['y']);
  assert.equal(delta.response_nonce, 'n3');
  assert.equal(delta.node, undefined);
});
