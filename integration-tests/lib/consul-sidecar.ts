// A Connect-style sidecar for tests: a TLS listener that presents the service's Consul leaf,
// requires a client certificate chaining to the Connect roots, asks the agent
// (POST /v1/agent/connect/authorize) whether the client's SPIFFE ID may reach the service, and
// then pipes the bytes to the plaintext app (L4, as Consul's sidecar does). Not Envoy: only the
// mTLS + intention contract a Connect sidecar enforces.
import tls from 'node:tls';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SidecarStats {
  authorized: string[];
  denied: string[];
  sni: string[];
}

export class ConnectSidecar {
  readonly stats: SidecarStats = { authorized: [], denied: [], sni: [] };
  port = 0;
  private server?: tls.Server;
  private readonly sockets = new Set<net.Socket>();

  static async start(o: { agent: string; token?: string; service: string; appPort: number }): Promise<ConnectSidecar> {
    const s = new ConnectSidecar();
    const headers: Record<string, string> = o.token ? { 'x-consul-token': o.token } : {};
    const leaf = (await (await fetch(`${o.agent}/v1/agent/connect/ca/leaf/${o.service}`, { headers })).json()) as {
      CertPEM: string;
      PrivateKeyPEM: string;
    };
    const roots = (await (await fetch(`${o.agent}/v1/agent/connect/ca/roots`, { headers })).json()) as {
      Roots: { RootCert: string }[];
    };
    const ca = roots.Roots.map((r: { RootCert: string }) => r.RootCert);
    s.server = tls.createServer(
      {
        cert: leaf.CertPEM,
        key: leaf.PrivateKeyPEM,
        ca,
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (sock) => {
        s.sockets.add(sock);
        sock.on('close', () => s.sockets.delete(sock));
        sock.on('error', () => {});
        sock.pause();
        const sni = (sock as tls.TLSSocket & { servername?: string }).servername;
        if (sni) s.stats.sni.push(sni);
        const peer = sock.getPeerCertificate();
        const uri =
          (peer.subjectaltname ?? '')
            .split(/,\s*/)
            .find((x) => x.startsWith('URI:'))
            ?.slice(4) ?? '';
        const serial = (peer.serialNumber ?? '').match(/.{1,2}/g)?.join(':') ?? '';
        fetch(`${o.agent}/v1/agent/connect/authorize`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ Target: o.service, ClientCertURI: uri, ClientCertSerial: serial }),
        })
          .then((r) => r.json() as Promise<{ Authorized: boolean }>)
          .then((v: { Authorized: boolean }) => {
            if (!v.Authorized) {
              s.stats.denied.push(uri);
              sock.destroy();
              return;
            }
            s.stats.authorized.push(uri);
            const up = net.connect(o.appPort, '127.0.0.1');
            up.on('error', () => sock.destroy());
            sock.on('close', () => up.destroy());
            up.on('close', () => sock.destroy());
            sock.pipe(up).pipe(sock);
            sock.resume();
          })
          .catch(() => sock.destroy());
      },
    );
    s.server.on('tlsClientError', () => {});
    await new Promise<void>((r) => s.server!.listen(0, '127.0.0.1', () => r()));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  async close(): Promise<void> {
    for (const x of this.sockets) x.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
