import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { translate } from './translate.ts';
import { TYPE } from './types.ts';
import { envoyRoot } from '@meshgate/xds-core';
import { loadModelYaml } from './test-support.ts';

// Feeds the grpc profile's resources through grpc-js-xds 1.14's own decoders and validators
// (the code a proxyless client runs on every xDS response), so a field it rejects or ignores
// fails here instead of as a NACK in an integration test.
const require = createRequire(import.meta.url);
// register() installs the HTTP filter registry (router) the listener validator consults.
(require('@grpc/grpc-js-xds') as { register(): void }).register();
const rt = (file: string, cls: string) =>
  (
    require(`@grpc/grpc-js-xds/build/src/xds-resource-type/${file}`) as Record<
      string,
      {
        get(): {
          decode(
            ctx: unknown,
            any: { type_url: string; value: Uint8Array },
          ): { name: string; error?: string; value?: unknown };
        };
      }
    >
  )[cls].get();

const decoders: Record<string, ReturnType<typeof rt>> = {
  [TYPE.listener]: rt('listener-resource-type.js', 'ListenerResourceType'),
  [TYPE.route]: rt('route-config-resource-type.js', 'RouteConfigurationResourceType'),
  [TYPE.cluster]: rt('cluster-resource-type.js', 'ClusterResourceType'),
  [TYPE.endpoint]: rt('endpoint-resource-type.js', 'EndpointResourceType'),
};

const inDir = new URL('../testdata/in/', import.meta.url).pathname;

test('grpc-js-xds accepts every grpc-profile resource of every golden case', () => {
  const root = envoyRoot();
  for (const f of readdirSync(inDir)
    .filter((x) => x.endsWith('.yaml'))
    .sort()) {
    const model = loadModelYaml(join(inDir, f));
    // The client's bootstrap defines one certificate provider per identity and trust bundle name.
    const certificateProviders = Object.fromEntries(
      [...model.identities, ...model.trustBundles].map((x) => [x.name, { plugin_name: 'file_watcher', config: {} }]),
    );
    const context = { bootstrap: { certificateProviders, servers: [] }, server: {} };
    const { resources, problems } = translate(model, 'grpc');
    assert.deepEqual(problems, []);
    for (const [type, m] of resources) {
      if (type === TYPE.secret) {
        assert.equal(m.size, 0);
        continue;
      }
      const msgType = root.lookupType(type.replace('type.googleapis.com/', ''));
      for (const [name, obj] of m) {
        const value = msgType.encode(msgType.fromObject(obj)).finish();
        const out = decoders[type].decode(context, { type_url: type, value });
        assert.equal(out.error, undefined, `${f} ${type} ${name}`);
        assert.equal(out.name, name);
        const tls = type === TYPE.cluster ? model.services.find((x) => x.name === name)?.tls : undefined;
        if (tls) {
          // The client must really see the SANs it is told to check, not silently drop them.
          const sec = (
            out.value as {
              securityUpdate?: {
                subjectAltNameMatchers: { exact?: string }[];
                caCertificateProviderInstance: string;
                identityCertificateProviderInstance?: string;
              };
            }
          ).securityUpdate;
          assert.deepEqual(
            sec?.subjectAltNameMatchers.map((m) => m.exact).sort(),
            tls.expectedSans.map((x) => x.value).sort(),
            `${f} ${name}`,
          );
          assert.equal(sec?.caCertificateProviderInstance, tls.trustBundle);
          assert.equal(sec?.identityCertificateProviderInstance, tls.clientIdentity);
        }
      }
    }
  }
});
