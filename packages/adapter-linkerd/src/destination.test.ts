import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { type DestinationState, DestinationWatch } from './destination.ts';
import { decodeUpdate, encodeGetDestination } from './destination-proto.ts';

// Writers for the server side of the wire, independent of the decoder under test.
type W = protobuf.Writer;
const msg = (w: W, field: number, body: (w: W) => void) => {
  w.uint32((field << 3) | 2).fork();
  body(w);
  w.ldelim();
};
const ipv4 = (w: W, ip: string) => {
  const [a, b, c, d] = ip.split('.').map(Number);
  msg(w, 1, (x) => x.uint32((1 << 3) | 5).fixed32(((a << 24) | (b << 16) | (c << 8) | d) >>> 0));
};
const tcp = (w: W, field: number, ip: string, port: number) =>
  msg(w, field, (x) => {
    ipv4(x, ip);
    x.uint32(2 << 3).uint32(port);
  });
interface AddrSpec {
  ip: string;
  port: number;
  identity?: string;
  h2?: boolean;
  opaquePort?: number;
}
const add = (addrs: AddrSpec[]) => {
  const w = protobuf.Writer.create();
  msg(w, 1, (set) => {
    for (const a of addrs) {
      msg(set, 1, (x) => {
        tcp(x, 1, a.ip, a.port);
        x.uint32(3 << 3).uint32(10000);
        msg(x, 4, (e) => e.uint32(10).string('pod').uint32(18).string('p'));
        if (a.identity) {
          msg(x, 5, (t) => {
            msg(t, 1, (d) => d.uint32(10).string(a.identity!));
            msg(t, 4, (d) => d.uint32(10).string(a.identity!));
          });
        }
        if (a.h2 || a.opaquePort) {
          msg(x, 6, (h) => {
            if (a.h2) msg(h, 1, () => {});
            if (a.opaquePort) msg(h, 2, (o) => o.uint32(1 << 3).uint32(a.opaquePort!));
          });
        }
        // A field this client does not know (resource_ref = 9) must be skipped.
        msg(x, 9, (m) => m.uint32(10).string('default'));
      });
    }
  });
  return Buffer.from(w.finish());
};
const remove = (addrs: { ip: string; port: number }[]) => {
  const w = protobuf.Writer.create();
  msg(w, 2, (set) => {
    for (const a of addrs) tcp(set, 1, a.ip, a.port);
  });
  return Buffer.from(w.finish());
};
const noEndpoints = (exists: boolean) => {
  const w = protobuf.Writer.create();
  msg(w, 3, (x) => x.uint32(1 << 3).bool(exists));
  return Buffer.from(w.finish());
};

describe('Destination messages', () => {
  test('GetDestination carries scheme, path and the context token', () => {
    const r = protobuf.Reader.create(
      encodeGetDestination({ scheme: 'k8s', path: 'web.shop.svc.cluster.local:80', contextToken: '{"ns":"edge"}' }),
    );
    const got: string[] = [];
    while (r.pos < r.len) {
      r.uint32();
      got.push(r.string());
    }
    assert.deepEqual(got, ['k8s', 'web.shop.svc.cluster.local:80', '{"ns":"edge"}']);
  });

  test('add: address, weight, labels, identity as SNI, H2 and opaque-transport hints; unknown fields skipped', () => {
    const u = decodeUpdate(
      add([
        { ip: '10.0.0.1', port: 8080, identity: 'web.shop.serviceaccount.identity.linkerd.cluster.local', h2: true },
        { ip: '192.168.255.254', port: 25, opaquePort: 4143 },
      ]),
    );
    assert.equal(u.kind, 'add');
    if (u.kind !== 'add') return;
    assert.deepEqual(u.addrs[0], {
      ip: '10.0.0.1',
      port: 8080,
      weight: 10000,
      labels: { pod: 'p' },
      identity: 'web.shop.serviceaccount.identity.linkerd.cluster.local',
      serverName: 'web.shop.serviceaccount.identity.linkerd.cluster.local',
      protocol: 'h2',
    });
    assert.equal(u.addrs[1].ip, '192.168.255.254');
    assert.equal(u.addrs[1].opaqueTransportPort, 4143);
    assert.equal(u.addrs[1].identity, undefined);
  });

  test('IPv6 addresses (two fixed64 halves)', () => {
    const w = protobuf.Writer.create();
    msg(w, 2, (set) =>
      msg(set, 1, (t) => {
        msg(t, 1, (ip) =>
          msg(ip, 2, (v6) => {
            v6.uint32((1 << 3) | 1).fixed64(protobuf.util.LongBits.from('2306139568115548160').toLong(true));
            v6.uint32((2 << 3) | 1).fixed64(1);
          }),
        );
        t.uint32(2 << 3).uint32(443);
      }),
    );
    const u = decodeUpdate(w.finish());
    assert.deepEqual(u, { kind: 'remove', addrs: [{ ip: '2001:db8:0:0:0:0:0:1', port: 443 }] });
  });

  test('remove and no_endpoints', () => {
    assert.deepEqual(decodeUpdate(remove([{ ip: '10.0.0.2', port: 80 }])), {
      kind: 'remove',
      addrs: [{ ip: '10.0.0.2', port: 80 }],
    });
    assert.deepEqual(decodeUpdate(noEndpoints(true)), { kind: 'no_endpoints', exists: true });
    assert.deepEqual(decodeUpdate(noEndpoints(false)), { kind: 'no_endpoints', exists: false });
  });
});

// A scripted server, a fake named as such: the real controller (tested in integration-tests/linkerd) cannot be made
// to send duplicates, removals of unknown addresses, or a chosen first message after a reconnect.
describe('DestinationWatch semantics (scripted server)', () => {
  const servers: grpc.Server[] = [];
  after(() => {
    for (const s of servers) s.forceShutdown();
  });

  async function scripted(
    streams: ((call: grpc.ServerWritableStream<Buffer, Buffer>) => void)[],
  ): Promise<{ address: string; server: grpc.Server }> {
    const server = new grpc.Server();
    let n = 0;
    server.addService(
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
      { Get: (call: grpc.ServerWritableStream<Buffer, Buffer>) => streams[Math.min(n++, streams.length - 1)](call) },
    );
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    servers.push(server);
    return { address: `127.0.0.1:${port}`, server };
  }

  const follow = (address: string) => {
    const seen: DestinationState[] = [];
    let wake: (() => void) | undefined;
    const w = new DestinationWatch({
      address,
      authority: 'web.shop.svc.cluster.local:8080',
      onChange: (s) => {
        seen.push(s);
        wake?.();
      },
      minRetryMs: 20,
      maxRetryMs: 50,
    });
    const until = async (cond: (s: DestinationState) => boolean) => {
      while (!cond(w.state())) await new Promise<void>((r) => (wake = r));
    };
    return { w, seen, until, keys: () => [...w.state().endpoints.keys()].sort() };
  };

  test('duplicates, removal of unknown addresses and any order are tolerated', async () => {
    const { address } = await scripted([
      (call) => {
        call.write(add([{ ip: '10.0.0.1', port: 80 }]));
        call.write(add([{ ip: '10.0.0.1', port: 80 }])); // duplicate
        call.write(remove([{ ip: '10.9.9.9', port: 80 }])); // never added
        call.write(add([{ ip: '10.0.0.2', port: 80 }]));
        call.write(remove([{ ip: '10.0.0.1', port: 80 }]));
        call.write(remove([{ ip: '10.0.0.1', port: 80 }])); // duplicate
      },
    ]);
    const f = follow(address);
    try {
      await f.until(() => f.seen.length >= 6);
      assert.deepEqual(f.keys(), ['10.0.0.2:80']);
      assert.equal(f.w.state().exists, true);
    } finally {
      f.w.stop();
    }
  });

  test('removing the last endpoint equals no_endpoints{exists:true}', async () => {
    const { address } = await scripted([
      (call) => {
        call.write(add([{ ip: '10.0.0.1', port: 80 }]));
        call.write(remove([{ ip: '10.0.0.1', port: 80 }]));
      },
    ]);
    const f = follow(address);
    try {
      await f.until(() => f.seen.length >= 2);
      assert.equal(f.w.state().endpoints.size, 0);
      assert.equal(f.w.state().exists, true);
    } finally {
      f.w.stop();
    }
  });

  test('after a reconnect the old set stays until the first message, which replaces it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { address } = await scripted([
      (call) => {
        call.write(add([{ ip: '10.0.0.1', port: 80 }]));
        call.end();
      },
      (call) => {
        void gate.then(() => call.write(add([{ ip: '10.0.0.2', port: 80 }])));
      },
    ]);
    const f = follow(address);
    try {
      await f.until((s) => s.lastError !== undefined);
      assert.deepEqual(f.keys(), ['10.0.0.1:80'], 'stale, not empty, while the new stream is silent');
      assert.match(f.w.state().lastError!, /keeping the last known endpoints/);
      release();
      await f.until((s) => s.endpoints.has('10.0.0.2:80'));
      assert.deepEqual(f.keys(), ['10.0.0.2:80'], 'replaced, not merged');
      assert.equal(f.w.state().lastError, undefined);
      assert.ok(f.seen.every((s) => s.endpoints.size > 0));
    } finally {
      f.w.stop();
    }
  });

  test('an authority that is not <svc>.<ns>.svc.<domain>:<port> is refused before any call', () => {
    assert.throws(
      () => new DestinationWatch({ address: '127.0.0.1:1', authority: 'web', onChange: () => {} }),
      /Linkerd destination "web" is not <service>\.<namespace>\.svc\.<cluster-domain>:<port>/,
    );
  });
});
