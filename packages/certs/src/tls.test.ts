import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority, type IssuedCert } from './index.ts';

const SERVER_ID = 'spiffe://example.org/ns/mesh/sa/server';
const CLIENT_ID = 'spiffe://example.org/ns/mesh/sa/gateway';
const HOUR = 3_600_000;

interface RunningServer {
  port: number;
  /** URI SANs of clients that completed an authenticated request. */
  peers: string[];
}

async function startServer(
  t: { after: (fn: () => Promise<void>) => void },
  cert: IssuedCert,
  trust: string,
): Promise<RunningServer> {
  const peers: string[] = [];
  const server = tls.createServer(
    { cert: cert.chainPem, key: cert.keyPem, ca: trust, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      peers.push(socket.getPeerCertificate().subjectaltname ?? '');
      socket.end('hello from server');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, peers };
}

type Outcome = { ok: true; data: string } | { ok: false; error: string };

/** Connect as an mTLS client that accepts only the exact server URI SAN `expected`. */
function connect(port: number, client: IssuedCert, trust: string, expected: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let data = '';
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(o);
    };
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: trust,
      cert: client.chainPem,
      key: client.keyPem,
      checkServerIdentity: (_host, peer) =>
        peer.subjectaltname === `URI:${expected}`
          ? undefined
          : new Error(`server SAN "${peer.subjectaltname}" is not exactly URI:${expected}`),
    });
    socket.setEncoding('utf8');
    socket.on('data', (d) => (data += d));
    socket.on('end', () => finish(data ? { ok: true, data } : { ok: false, error: 'closed without data' }));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, error: `${err.code ?? ''} ${err.message}` }),
    );
    socket.setTimeout(10_000, () => finish({ ok: false, error: 'timeout' }));
  });
}

test('mTLS handshake with issued SPIFFE certs: accepted and refused cases', async (t) => {
  const ca = await CertificateAuthority.createInMemory({ trustDomain: 'example.org' });
  const otherCa = await CertificateAuthority.createInMemory({ trustDomain: 'example.org' });
  const serverCert = await ca.issue({ spiffe: SERVER_ID, ttlMs: HOUR });
  const clientCert = await ca.issue({ spiffe: CLIENT_ID, ttlMs: HOUR });
  const server = await startServer(t, serverCert, ca.bundlePem);

  await t.test('accepted: both sides trust the CA and the server SAN is exact', async () => {
    const r = await connect(server.port, clientCert, ca.bundlePem, SERVER_ID);
    assert.deepEqual(r, { ok: true, data: 'hello from server' });
    assert.deepEqual(server.peers, [`URI:${CLIENT_ID}`]);
  });

  await t.test('refused: the client expects a different server identity', async () => {
    const r = await connect(server.port, clientCert, ca.bundlePem, 'spiffe://example.org/ns/mesh/sa/someone-else');
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /is not exactly URI:spiffe:\/\/example\.org\/ns\/mesh\/sa\/someone-else/);
  });

  await t.test('refused: the client presents a cert from another CA', async () => {
    const foreign = await otherCa.issue({ spiffe: CLIENT_ID, ttlMs: HOUR });
    const before = server.peers.length;
    const r = await connect(server.port, foreign, ca.bundlePem, SERVER_ID);
    assert.equal(r.ok, false);
    assert.equal(server.peers.length, before, 'the server never served the foreign client');
    assert.match(
      r.ok ? '' : r.error,
      /closed without data|ECONNRESET|alert/i,
      'the server ended the handshake without serving',
    );
  });

  await t.test('refused: the server presents a cert from another CA', async (tt) => {
    const foreignServer = await startServer(tt, await otherCa.issue({ spiffe: SERVER_ID, ttlMs: HOUR }), ca.bundlePem);
    const r = await connect(foreignServer.port, clientCert, ca.bundlePem, SERVER_ID);
    assert.equal(r.ok, false);
    assert.match(
      r.ok ? '' : r.error,
      /certificate signature failure|unable to verify|CERT_SIGNATURE_FAILURE|UNABLE_TO_VERIFY/i,
    );
  });

  await t.test('refused: the server cert has expired', async (tt) => {
    const expired = await ca.issue({ spiffe: SERVER_ID, ttlMs: HOUR, now: new Date(Date.now() - 3 * HOUR) });
    assert.ok(expired.notAfter.getTime() < Date.now());
    const expiredServer = await startServer(tt, expired, ca.bundlePem);
    const r = await connect(expiredServer.port, clientCert, ca.bundlePem, SERVER_ID);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /CERT_HAS_EXPIRED/);
  });

  await t.test('refused: the client cert has expired', async () => {
    const expiredClient = await ca.issue({ spiffe: CLIENT_ID, ttlMs: HOUR, now: new Date(Date.now() - 3 * HOUR) });
    const before = server.peers.length;
    const r = await connect(server.port, expiredClient, ca.bundlePem, SERVER_ID);
    assert.equal(r.ok, false);
    assert.equal(server.peers.length, before);
    assert.match(
      r.ok ? '' : r.error,
      /closed without data|ECONNRESET|alert/i,
      'the server ended the handshake without serving',
    );
  });
});
