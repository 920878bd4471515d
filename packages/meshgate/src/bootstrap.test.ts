import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envoyRoot } from '@meshgate/xds-core';
import { envoyBootstrap, grpcBootstrap } from './bootstrap.ts';
import { checkProtoJson } from './proto-json.ts';
import { runBootstrapCli } from './test-support.ts';

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

test('the proto-JSON checker catches unknown keys, wrong shapes and unknown Any types', () => {
  const root = envoyRoot();
  const good = envoyBootstrap({ xdsAddress: '127.0.0.1', xdsPort: 18000, nodeId: 'n', cluster: 'c', adminPort: 9901 });
  assert.deepEqual(checkProtoJson(root, BOOTSTRAP, good), []);
  const bad = structuredClone(good) as any;
  bad.dynamic_resources.ads_config.grpc_service = bad.dynamic_resources.ads_config.grpc_services;
  bad.dynamic_resources.cds_config.initial_fetch_timeout = 0;
  bad.static_resources.clusters[0].typed_extension_protocol_options[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ].explicit_http_config.http3 = {};
  bad.static_resources.clusters[0].type = 'DNS';
  const errors = checkProtoJson(root, BOOTSTRAP, bad);
  assert.equal(errors.length, 4, errors.join('\n'));
  assert.match(errors.join('\n'), /ads_config\.grpc_service: unknown field/);
  assert.match(errors.join('\n'), /initial_fetch_timeout: expected a google\.protobuf\.Duration/);
  assert.match(errors.join('\n'), /explicit_http_config\.http3: unknown field/);
  assert.match(errors.join('\n'), /"DNS" is not a value of enum/);
});

for (const variant of [[], ['--sotw'], ['--xds-address', 'meshgate.mesh.svc', '--xds-tls-dir', '/etc/meshgate/xds']]) {
  test(`meshgate bootstrap ${variant.join(' ')} decodes as an Envoy Bootstrap with no unknown fields`, async () => {
    const { code, stdout } = await runBootstrapCli([
      ...variant,
      '--output',
      'json',
      '--node-id',
      'gw-1',
      '--cluster',
      'edge',
    ]);
    assert.equal(code, 0);
    const doc = JSON.parse(stdout);
    assert.deepEqual(checkProtoJson(envoyRoot(), BOOTSTRAP, doc), []);
    assert.equal(doc.node.id, 'gw-1');
    assert.equal(doc.node.cluster, 'edge');
    assert.equal(doc.dynamic_resources.ads_config.api_type, variant.includes('--sotw') ? 'GRPC' : 'DELTA_GRPC');
    assert.equal(doc.dynamic_resources.cds_config.initial_fetch_timeout, '0s');
    assert.equal(
      doc.static_resources.clusters[0].type,
      variant.includes('meshgate.mesh.svc') ? 'STRICT_DNS' : 'STATIC',
    );
    assert.equal(doc.admin.address.socket_address.address, '127.0.0.1');
  });
}

test('the YAML output is the same document', async () => {
  const { parse } = await import('yaml');
  const y = await runBootstrapCli(['--node-id', 'a']);
  const j = await runBootstrapCli(['--node-id', 'a', '--output', 'json']);
  assert.deepEqual(parse(y.stdout), JSON.parse(j.stdout));
});

test('gRPC bootstrap names the xDS server, node profile and file_watcher providers', () => {
  const doc = grpcBootstrap({
    xdsAddress: '::1',
    xdsPort: 18000,
    nodeId: 'g',
    cluster: 'c',
    certProviders: [{ name: 'mesh/consul/ingress', dir: '/certs/ingress' }],
  }) as any;
  assert.equal(doc.xds_servers[0].server_uri, '[::1]:18000');
  assert.deepEqual(doc.xds_servers[0].channel_creds, [{ type: 'insecure' }]);
  assert.equal(doc.node.metadata.meshgate_profile, 'grpc');
  assert.equal(doc.certificate_providers['mesh/consul/ingress'].plugin_name, 'file_watcher');
  assert.equal(doc.certificate_providers['mesh/consul/ingress'].config.private_key_file, '/certs/ingress/key.pem');
});
