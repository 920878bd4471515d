// The destination channel's mutual TLS with real handshakes: a grpc-js server that, like the linkerd-proxy in front of
// the destination controller, presents the controller's Linkerd name and requires a client certificate from the
// same anchors. The server's answers are scripted (a fake named as such); the TLS is real.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CertificateAuthority } from '@meshgate/certs';
import protobuf from 'protobufjs';
import { DestinationWatch } from './destination.ts';
import { destinationServerName, destinationTls, LinkerdCertificateProvider } from './destination-tls.ts';

const DST = destinationServerName('linkerd', 'cluster.local');
const GATEWAY = 'gateway.edge.serviceaccount.identity.linkerd.cluster.local';

/** One `add` of 10.0.0.1:8080, written by hand (field numbers of destination.proto). */
function addOne(): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork(); // add
  w.uint32((1 << 3) | 2).fork(); // addrs
  w.uint32((1 << 3) | 2).fork(); // addr
  w.uint32((1 << 3) | 2).fork(); // ip
  w.uint32((1 << 3) | 5).fixed32(((10 << 24) | 1) >>> 0);
  w.ldelim();
  w.uint32(2 << 3).uint32(8080);
  w.ldelim();
  w.ldelim();
  w.ldelim();
  return Buffer.from(w.finish());
}

describe('destination channel over mutual TLS (real handshakes, scripted answers)', () => {
  let ca: CertificateAuthority;
  const servers: grpc.Server[] = [];
  const peers: string[] = [];
  after(() => {
    for (const s of servers) s.forceShutdown();
  });
  before(async () => {
    ca = await CertificateAuthority.createInMemory({ commonName: 'root.linkerd.cluster.local' });
  });

  async function server(name: string): Promise<string> {
    const leaf = await ca.issue({ dns: name });
    const s = new grpc.Server();
    s.addService(
      {
        Get: {
          path: '/io.linkerd.proxy.destination.Destination/Get',
          requestStream: false,
          responseStream: true,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        Get: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          const raw = call.getAuthContext().sslPeerCertificate?.raw;
          peers.push(raw ? (new X509Certificate(raw).subjectAltName ?? '') : '(none)');
          call.write(addOne());
        },
      },
    );
    const creds = grpc.ServerCredentials.createSsl(
      Buffer.from(ca.bundlePem),
      [{ cert_chain: Buffer.from(leaf.chainPem), private_key: Buffer.from(leaf.keyPem) }],
      true,
    );
    const port = await new Promise<number>((res, rej) =>
      s.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))),
    );
    servers.push(s);
    return `127.0.0.1:${port}`;
  }

  test('waits for the first certificate, then speaks with it; the controller sees the gateway identity', async () => {
    const address = await server(DST);
    const provider = new LinkerdCertificateProvider();
    const tls = destinationTls(provider, DST);
    let synced: () => void;
    const done = new Promise<void>((r) => (synced = r));
    const w = new DestinationWatch({
      address,
      authority: 'web.shop.svc.cluster.local:8080',
      ...tls,
      onChange: (s) => s.synced && synced(),
    });
    try {
      const gw = await ca.issue({ dns: GATEWAY });
      provider.update({ chainPem: gw.chainPem, keyPem: gw.keyPem, bundlePem: ca.bundlePem });
      await done;
      assert.deepEqual([...w.state().endpoints.keys()], ['10.0.0.1:8080']);
      assert.equal(peers.at(-1), `DNS:${GATEWAY}`);
    } finally {
      w.stop();
    }
  });

  test('a server with another Linkerd name is refused before any request', async () => {
    const address = await server('linkerd-identity.linkerd.serviceaccount.identity.linkerd.cluster.local');
    const provider = new LinkerdCertificateProvider();
    const gw = await ca.issue({ dns: GATEWAY });
    provider.update({ chainPem: gw.chainPem, keyPem: gw.keyPem, bundlePem: ca.bundlePem });
    const before = peers.length;
    let failed: (e: string) => void;
    const error = new Promise<string>((r) => (failed = r));
    const w = new DestinationWatch({
      address,
      authority: 'web.shop.svc.cluster.local:8080',
      ...destinationTls(provider, DST),
      minRetryMs: 50,
      onChange: (s) => s.lastError && failed(s.lastError),
    });
    try {
      const why = await error;
      assert.match(
        why,
        /presented \[DNS:linkerd-identity\.linkerd\.[^\]]*\], expected exactly DNS:linkerd-destination\.linkerd\.serviceaccount/,
      );
      assert.equal(w.state().synced, false);
      assert.equal(peers.length, before, 'no request reached the server');
    } finally {
      w.stop();
    }
  });
});
