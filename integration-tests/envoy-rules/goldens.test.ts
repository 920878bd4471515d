// Envoy's own validation rules over every translator golden input (translated for an `envoy` node and encoded by
// xds-core exactly as the cache serves it), and proof that the oracle bites: resources that break one rule each
// are reported, naming the resource and the field.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { emptyModel, type Model } from '@meshgate/model';
import { translate } from '@meshgate/translator';
import { lookupMessage, TYPE } from '@meshgate/xds-core';
import { REPO_ROOT } from '../lib/meshgate-process.ts';
import { buildValidator, encoded, validate, type WireResource } from './oracle.ts';

const GOLDEN_IN = join(REPO_ROOT, 'packages/translator/testdata/in');
const HPO = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Bytes of field 999 (varint 1): a field no Envoy message has. */
const UNKNOWN_FIELD = Uint8Array.from([0xb8, 0x3e, 0x01]);
const withUnknown = (b: Uint8Array): Uint8Array => Buffer.concat([b, UNKNOWN_FIELD]);

function hcm(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stat_prefix: 'http',
    rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: 'http' },
    http_filters: [
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
    ...extra,
  };
}

function listener(typedConfig: object): object {
  return {
    name: 'http',
    address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
    filter_chains: [
      { filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: typedConfig }] },
    ],
  };
}

const cluster = (extra: Record<string, unknown> = {}): object => ({
  name: 'c',
  type: 'STATIC',
  connect_timeout: { seconds: 1 },
  load_assignment: {
    cluster_name: 'c',
    endpoints: [
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] },
    ],
  },
  ...extra,
});

describe('Envoy rules: translator goldens, and the oracle itself', { timeout: 900_000 }, () => {
  let bin: string;
  before(async () => {
    bin = await buildValidator();
  });

  test('every golden input, translated for an Envoy node, passes Envoy validation', async () => {
    const cases = readdirSync(GOLDEN_IN)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    assert.ok(cases.length >= 6, `golden inputs: ${cases.join(', ')}`);
    const resources: WireResource[] = [];
    for (const f of cases) {
      const model = { ...emptyModel(), ...((parse(readFileSync(join(GOLDEN_IN, f), 'utf8')) ?? {}) as Partial<Model>) };
      const { resources: set, problems } = translate(model, 'envoy');
      assert.deepEqual(problems, [], f);
      for (const [typeUrl, m] of set)
        for (const [name, obj] of m) resources.push(encoded(`testdata/in/${f}`, typeUrl, name, obj));
    }
    // Every resource type meshgate serves is covered, so a passing run says something about each.
    assert.deepEqual(new Set(resources.map((r) => r.typeUrl)), new Set(Object.values(TYPE)));
    const v = await validate(bin, resources);
    assert.deepEqual(v.problems, [], v.stderr);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stderr, new RegExp(`${resources.length} resource\\(s\\), 0 problem`));
  });

  test('the oracle reports what Envoy would reject, naming the resource and the field', async () => {
    const hcmType = lookupMessage(HCM)!;
    const hcmBytes = (o: object): Uint8Array => hcmType.encode(hcmType.fromObject(o)).finish();
    const bad: Array<[string, WireResource, RegExp]> = [
      [
        'empty cluster name',
        encoded('t', TYPE.cluster, '', { ...cluster(), name: '' }),
        /Cluster "": name: value length/,
      ],
      [
        'unknown field in a resource',
        {
          ...encoded('t', TYPE.cluster, 'c', cluster()),
          value: withUnknown(encoded('t', TYPE.cluster, 'c', cluster()).value),
        },
        /Cluster "c": \(resource\): unknown field\(s\) #999 in envoy\.config\.cluster\.v3\.Cluster/,
      ],
      [
        'unknown field inside an Any',
        encoded('t', TYPE.listener, 'http', listener({ type_url: HCM, value: withUnknown(hcmBytes(hcm())) })),
        /Listener "http": filter_chains\[0\]\.filters\[0\]\.typed_config<HttpConnectionManager>: unknown field\(s\) #999/,
      ],
      [
        'unknown field inside an Any held in a map',
        encoded(
          't',
          TYPE.cluster,
          'c',
          cluster({
            typed_extension_protocol_options: {
              [HPO.slice(HPO.lastIndexOf('/') + 1)]: { type_url: HPO, value: withUnknown(new Uint8Array()) },
            },
          }),
        ),
        /Cluster "c": typed_extension_protocol_options\["envoy\.extensions\.upstreams\.http\.v3\.HttpProtocolOptions"\]<HttpProtocolOptions>: unknown field\(s\) #999/,
      ],
      [
        'a rule broken inside an Any (stat_prefix is required)',
        encoded('t', TYPE.listener, 'http', listener({ '@type': HCM, ...hcm({ stat_prefix: '' }) })),
        /Listener "http": filter_chains\[0\]\.filters\[0\]\.typed_config<HttpConnectionManager>\.stat_prefix: value length must be at least 1/,
      ],
      [
        'a rule broken two Anys deep (listener > HCM > router filter)',
        encoded(
          't',
          TYPE.listener,
          'http',
          listener({
            '@type': HCM,
            ...hcm({
              http_filters: [
                {
                  name: 'envoy.filters.http.router',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                    upstream_http_filters: [{ name: '' }],
                  },
                },
              ],
            }),
          }),
        ),
        /typed_config<HttpConnectionManager>\.http_filters\[0\]\.typed_config<Router>\.upstream_http_filters\[0\]\.name: value length must be at least 1/,
      ],
      [
        'an Any of a type the validator does not know is an error, not skipped',
        encoded(
          't',
          TYPE.listener,
          'http',
          listener({
            '@type': HCM,
            ...hcm({
              http_filters: [
                {
                  name: 'envoy.filters.http.fault',
                  typed_config: { type_url: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' },
                },
              ],
            }),
          }),
        ),
        /http_filters\[0\]\.typed_config: Any of type "type\.googleapis\.com\/envoy\.extensions\.filters\.http\.fault\.v3\.HTTPFault": the message is not registered/,
      ],
      [
        'an enum number Envoy does not define',
        encoded('t', TYPE.cluster, 'c', cluster({ lb_policy: 99 })),
        /Cluster "c": lb_policy: value must be one of the defined enum values/,
      ],
      [
        'a route with no weighted clusters',
        encoded('t', TYPE.route, 'r', {
          name: 'r',
          virtual_hosts: [
            {
              name: 'v',
              domains: ['*'],
              routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [] } } }],
            },
          ],
        }),
        /RouteConfiguration "r": virtual_hosts\[0\]\.routes\[0\]\.route\.weighted_clusters\.clusters: value must contain at least 1 item/,
      ],
      [
        'a deprecated field (weighted_clusters.total_weight)',
        encoded('t', TYPE.route, 'r', {
          name: 'r',
          virtual_hosts: [
            {
              name: 'v',
              domains: ['*'],
              routes: [
                {
                  match: { prefix: '/' },
                  route: {
                    weighted_clusters: { clusters: [{ name: 'c', weight: { value: 1 } }], total_weight: { value: 1 } },
                  },
                },
              ],
            },
          ],
        }),
        /weighted_clusters\.total_weight: field envoy\.config\.route\.v3\.WeightedCluster\.total_weight is deprecated/,
      ],
      [
        'a resource in a response of another type',
        { ...encoded('t', TYPE.cluster, 'c', cluster()), responseTypeUrl: TYPE.listener },
        /Cluster "c": \(resource\): carried in a response of type/,
      ],
    ];
    for (const [what, resource, want] of bad) {
      const v = await validate(bin, [resource]);
      assert.equal(v.code, 1, `${what}: exit code ${v.code}; ${v.stderr}`);
      assert.ok(
        v.problems.some((p) => want.test(p)),
        `${what}: expected a line matching ${want}, got:\n${v.problems.join('\n')}`,
      );
    }
    // The valid cluster the bad ones are made from passes, so each failure above is the one thing broken.
    const ok = await validate(bin, [encoded('t', TYPE.cluster, 'c', cluster())]);
    assert.deepEqual(ok.problems, []);
    assert.equal(ok.code, 0);
  });

  test('input it cannot read is an error of its own (exit 2), never a pass', async () => {
    const v = await validate(bin, [{ source: 't', typeUrl: '', value: new Uint8Array() }]);
    assert.equal(v.code, 2, v.stderr);
  });
});
