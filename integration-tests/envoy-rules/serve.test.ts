// Envoy's own validation rules over what a real `meshgate serve` sends an Envoy node: every examples/*.yaml, and the
// configs of the Consul end-to-end suites (plain, and Connect mTLS with the gateway's leaf over SDS). The resources
// are fetched over ADS the way Envoy asks for them (LDS and CDS wildcard, then the RDS, EDS and SDS names they
// reference), and their Any bytes go to the validator untouched.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { CertificateAuthority } from '@meshgate/certs';
import { TYPE } from '@meshgate/xds-core';
import { startConsul, type ConsulDriver } from '../lib/consul-driver.ts';
import { freePort } from '../lib/wait.ts';
import { startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess, REPO_ROOT } from '../lib/meshgate-process.ts';
import { buildValidator, fetchAsEnvoy, validate, type WireResource } from './oracle.ts';

const EXAMPLES = join(REPO_ROOT, 'examples');
// The config sections a file-only example may have (xds only for its tls); anything else needs a registry this
// suite must start.
const FILE_ONLY = new Set(['services', 'routes', 'listeners', 'identities', 'trustBundles', 'xds']);
// Examples whose resources come from a registry rather than the file: what they translate to is checked through the
// translator goldens of the same features (goldens.test.ts), not here.
const FROM_A_REGISTRY: Record<string, string> = {
  'kubernetes.yaml': 'its services and routes come from the API server; goldens gateway-api-features.* cover them',
};

const count = (rs: WireResource[], typeUrl: string): number => rs.filter((r) => r.typeUrl === typeUrl).length;

/** Serves `config` with a real meshgate, fetches as an Envoy node, validates; returns what was fetched. */
async function serveAndValidate(
  bin: string,
  config: string,
  source: string,
  nodeId: string,
  credentials?: grpc.ChannelCredentials,
): Promise<WireResource[]> {
  const mg = new MeshgateProcess(config);
  try {
    await mg.start();
    await mg.waitReady();
    const resources = await fetchAsEnvoy(mg.xdsPort, nodeId, source, credentials);
    const v = await validate(bin, resources);
    assert.deepEqual(v.problems, [], `${source}: ${v.stderr}`);
    assert.equal(v.code, 0, v.stderr);
    return resources;
  } finally {
    await mg.stop();
  }
}

/**
 * A copy of an example in a temp dir, with every certificate and key file it names made by a test CA (the examples
 * ship none).
 */
async function prepareExample(
  file: string,
  dir: string,
): Promise<{ config: string; doc: Record<string, unknown>; credentials?: grpc.ChannelCredentials }> {
  const doc = (parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const xds = (doc.xds ?? {}) as Record<string, unknown>;
  const extra = Object.keys(doc)
    .filter((k) => !FILE_ONLY.has(k))
    .concat(Object.keys(xds).filter((k) => k !== 'tls'));
  if (extra.length)
    throw new Error(
      `${basename(file)} has ${extra.join(', ')}: it needs a registry this suite does not start; ` +
        'add that setup to integration-tests/envoy-rules/serve.test.ts',
    );
  const config = join(dir, basename(file));
  copyFileSync(file, config);
  const at = (p: string) => {
    const abs = join(dir, p);
    mkdirSync(dirname(abs), { recursive: true });
    return abs;
  };
  const ca = await CertificateAuthority.createInMemory({ commonName: 'envoy-rules-ca', trustDomain: 'example.org' });
  for (const id of (doc.identities ?? []) as Array<{ name: string; certFile: string; keyFile: string }>) {
    const leaf = await ca.issue({ spiffe: `spiffe://example.org/ns/default/sa/${id.name.replace(/\W+/g, '-')}` });
    writeFileSync(at(id.certFile), leaf.chainPem);
    writeFileSync(at(id.keyFile), leaf.keyPem, { mode: 0o600 });
  }
  for (const tb of (doc.trustBundles ?? []) as Array<{ caFiles: string[] }>)
    for (const f of tb.caFiles) writeFileSync(at(f), ca.bundlePem);
  const tls = xds.tls as { certFile: string; keyFile: string; caFile: string } | undefined;
  if (!tls) return { config, doc };
  // The example's xDS port is mutual TLS: the validator's client is the gateway the identities admit.
  const allowed = ((doc.identities ?? []) as Array<{ allowedNodes?: string[] }>).flatMap((i) => i.allowedNodes ?? []);
  const spiffe = allowed.find((n) => n.startsWith('spiffe://')) ?? 'spiffe://example.org/ns/default/sa/gateway';
  return { config, doc, credentials: await xdsMtls(ca, tls, dir, spiffe) };
}

/**
 * Writes the xDS port's server certificate (DNS localhost) and CA where `tls` names them, and returns channel
 * credentials holding a client certificate for `spiffe` that checks the server's certificate names localhost.
 */
async function xdsMtls(
  ca: CertificateAuthority,
  tls: { certFile: string; keyFile: string; caFile: string },
  dir: string,
  spiffe: string,
): Promise<grpc.ChannelCredentials> {
  const server = await ca.issue({ dns: 'localhost' });
  for (const [f, pem] of [
    [tls.certFile, server.chainPem],
    [tls.keyFile, server.keyPem],
    [tls.caFile, ca.bundlePem],
  ]) {
    const abs = join(dir, f);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, pem, { mode: 0o600 });
  }
  const client = await ca.issue({ spiffe });
  return grpc.credentials.createSsl(
    Buffer.from(ca.bundlePem),
    Buffer.from(client.keyPem),
    Buffer.from(client.chainPem),
    {
      // The client dials 127.0.0.1; the certificate names localhost (as meshgate certs issue --dns localhost makes it).
      checkServerIdentity: (_host, cert) =>
        new X509Certificate(cert.raw).checkHost('localhost') ? undefined : new Error('xDS server is not localhost'),
    },
  );
}

describe('Envoy rules: what meshgate serve sends an Envoy node', { timeout: 900_000 }, () => {
  let bin: string;
  before(async () => {
    bin = await buildValidator();
  });

  const examples = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  test('there are examples to check', () => {
    assert.ok(examples.includes('quickstart.yaml') && examples.length >= 2, examples.join(', '));
  });

  for (const f of examples) {
    test(`examples/${f}`, { skip: FROM_A_REGISTRY[f] }, async () => {
      const tmp = tempDir('meshgate-envoy-rules-');
      try {
        const { config, doc, credentials } = await prepareExample(join(EXAMPLES, f), tmp.dir);
        const rs = await serveAndValidate(bin, config, `examples/${f}`, `envoy-rules-${f}`, credentials);
        // What the example defines arrived, so the pass above covers it.
        assert.equal(count(rs, TYPE.listener), ((doc.listeners ?? []) as unknown[]).length, `${f}: listeners`);
        assert.equal(count(rs, TYPE.cluster), ((doc.services ?? []) as unknown[]).length, `${f}: clusters`);
        assert.ok(count(rs, TYPE.route) > 0 && count(rs, TYPE.endpoint) > 0, `${f}: routes and endpoints`);
        const secrets = ((doc.identities ?? []) as unknown[]).length + ((doc.trustBundles ?? []) as unknown[]).length;
        assert.equal(count(rs, TYPE.secret), secrets, `${f}: secrets`);
      } finally {
        tmp.cleanup();
      }
    });
  }

  /** The Consul e2e setup (serve-e2e.test.ts): two echo instances behind the `edge` ingress-gateway entry. */
  async function plainConsul(consul: ConsulDriver): Promise<void> {
    const backends = await startBackends(['echo-a', 'echo-b']);
    try {
      for (const id of ['echo-a', 'echo-b'])
        await consul.registerService({ id, name: 'echo', address: '127.0.0.1', port: backends.get(id)!.port });
    } finally {
      await backends.closeAll();
    }
    await consul.putConfigEntry({ Kind: 'service-defaults', Name: 'echo', Protocol: 'grpc' });
    await consul.putConfigEntry({
      Kind: 'ingress-gateway',
      Name: 'edge',
      Listeners: [{ Port: 8080, Protocol: 'grpc', Services: [{ Name: 'echo', Hosts: ['echo'] }] }],
    });
  }

  /** The Consul Connect e2e setup (serve-mtls-e2e.test.ts): `pay` behind a Connect sidecar, reached over mTLS. */
  async function connectConsul(consul: ConsulDriver): Promise<void> {
    // Only what meshgate sends is checked here, so nothing needs to listen on these ports.
    await consul.registerService({
      id: 'pay-1',
      name: 'pay',
      address: '127.0.0.1',
      port: await freePort(),
      sidecarPort: await freePort(),
    });
    await consul.putConfigEntry({ Kind: 'service-defaults', Name: 'pay', Protocol: 'grpc' });
    await consul.putConfigEntry({
      Kind: 'ingress-gateway',
      Name: 'edge',
      Listeners: [{ Port: 8080, Protocol: 'grpc', Services: [{ Name: 'pay', Hosts: ['pay'] }] }],
    });
  }

  for (const [name, setup, wantSecrets] of [
    ['Consul e2e config (ingress-gateway entry, plain)', plainConsul, false],
    ['Consul e2e config (Connect mTLS, gateway leaf and roots over SDS)', connectConsul, true],
  ] as const) {
    test(name, async () => {
      const tmp = tempDir('meshgate-envoy-rules-consul-');
      const consul = await startConsul({});
      try {
        await setup(consul);
        const config = join(tmp.dir, 'meshgate.yaml');
        // The gateway's Connect leaf holds a private key: an Envoy gets it only over a verified xDS connection.
        const ca = await CertificateAuthority.createInMemory({ commonName: 'envoy-rules-xds-ca' });
        const tls = { certFile: 'xds/cert.pem', keyFile: 'xds/key.pem', caFile: 'xds/ca.pem' };
        const credentials = await xdsMtls(ca, tls, tmp.dir, 'spiffe://example.org/ns/default/sa/edge');
        writeAtomic(
          config,
          `consul:\n  address: ${consul.address}\n  gateway: { name: edge, port: 8080 }\n` +
            `xds:\n  tls: { certFile: xds/cert.pem, keyFile: xds/key.pem, caFile: xds/ca.pem }\n`,
        );
        const rs = await serveAndValidate(bin, config, `consul (${consul.kind})`, 'envoy-rules-consul', credentials);
        for (const type of [TYPE.listener, TYPE.route, TYPE.cluster, TYPE.endpoint])
          assert.ok(count(rs, type) > 0, `${name}: no ${type}`);
        if (wantSecrets) assert.ok(count(rs, TYPE.secret) >= 2, `${name}: gateway leaf and roots expected over SDS`);
      } finally {
        await consul.close();
        tmp.cleanup();
      }
    });
  }
});
