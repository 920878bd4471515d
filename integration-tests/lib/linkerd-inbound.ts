// The inbound side of a meshed pod, as linkerd-proxy plays it (linkerd-proxy itself, in Rust, cannot be built here):
// TLS is terminated only when the ClientHello's SNI is the pod's own Linkerd identity, the client must present a
// certificate chained to the trust anchors, its DNS SAN is read as the caller's identity, and the plaintext stream
// goes on to the application on the pod's loopback. Run as a child process inside the test's network namespace:
//   node linkerd-inbound.ts '{"listen":"198.18.0.2:8080","app":12345,"identity":"api...","dir":"/tmp/x","checkSni":true}'
// It prints one JSON line per connection: {"sni","clientSan","accepted","reason"?}, and {"listening":true} first.
// `checkSni: false` makes an impostor that answers any name: the test's control that the client verifies the server.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createServer, type TLSSocket } from 'node:tls';

interface Options {
  listen: string;
  app: number;
  identity: string;
  /** cert.pem (leaf + issuer), key.pem, anchors.pem */
  dir: string;
  checkSni: boolean;
}

const o = JSON.parse(process.argv[2]) as Options;
const read = (f: string) => readFileSync(join(o.dir, f));
const report = (x: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(x)}\n`);

const server = createServer(
  {
    cert: read('cert.pem'),
    key: read('key.pem'),
    ca: read('anchors.pem'),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    // A ClientHello that names another server is not for this proxy: no certificate is offered for it.
    SNICallback: (name, cb) =>
      !o.checkSni || name === o.identity
        ? cb(null, undefined)
        : cb(new Error(`SNI ${name} is not this pod's identity ${o.identity}`)),
  },
  (s: TLSSocket) => {
    const sni = typeof s.servername === 'string' ? s.servername : undefined;
    const peer = s.getPeerX509Certificate?.();
    const clientSan = peer ? new X509Certificate(peer.raw).subjectAltName : undefined;
    if (o.checkSni && sni !== o.identity) {
      // No SNI at all: linkerd-proxy would not terminate this TLS either (it is not addressed to the pod's identity).
      report({ sni: sni ?? null, clientSan, accepted: false, reason: 'no SNI' });
      s.destroy();
      return;
    }
    report({ sni: sni ?? null, clientSan, accepted: true });
    const app = connect(o.app, '127.0.0.1');
    s.pipe(app).pipe(s);
    const close = () => {
      s.destroy();
      app.destroy();
    };
    s.on('error', close);
    app.on('error', close);
    s.on('close', close);
    app.on('close', close);
  },
);
server.on('tlsClientError', (err, s) => {
  const sni = (s as TLSSocket).servername;
  report({ sni: typeof sni === 'string' ? sni : null, accepted: false, reason: err.message });
});
const [host, port] = [
  o.listen.slice(0, o.listen.lastIndexOf(':')),
  Number(o.listen.slice(o.listen.lastIndexOf(':') + 1)),
];
server.listen(port, host, () => report({ listening: true }));
process.on('SIGTERM', () => process.exit(0));
