// Proxyless gRPC clients (grpc-js-xds, in a child process) reach real gRPC backends through a
// real `meshgate serve` process; the config file is edited while traffic flows.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { echoConfig, startBackends, tempDir, writeAtomic } from '../lib/fixture.ts';
import { MeshgateProcess } from '../lib/meshgate-process.ts';
import { getJson, getText, metricValue, waitFor } from '../lib/wait.ts';
import { share, XdsClientProcess } from '../lib/xds-client.ts';

describe('traffic through meshgate serve', { timeout: 180_000 }, () => {
  const tmp = tempDir();
  const config = join(tmp.dir, 'meshgate.yaml');
  let backends: Awaited<ReturnType<typeof startBackends>>;
  let mg: MeshgateProcess;
  let client: XdsClientProcess;
  const port = (name: string) => backends.get(name)!.port;
  const key = (name: string) => `${name.replace(/#.*$/, '')}:${port(name)}`;

  before(async () => {
    // echo-v1#b and echo-v2#c answer as echo-v1 / echo-v2 on their own ports (added and moved to later).
    backends = await startBackends(['echo-v1', 'echo-v1#b', 'echo-v2', 'echo-v2#b', 'echo-v2#c']);
    writeAtomic(
      config,
      echoConfig({
        v1: [{ port: port('echo-v1') }],
        v2: [{ port: port('echo-v2'), weight: 2 }, { port: port('echo-v2#b') }],
      }),
    );
    mg = new MeshgateProcess(config);
    await mg.start();
    await mg.waitReady();
    client = new XdsClientProcess(mg.xdsPort, 'e2e-traffic');
  });

  after(async () => {
    await client?.close();
    await mg?.stop();
    await backends?.closeAll();
    tmp.cleanup();
  });

  test('the quickstart split: echo-v1 weight 1, echo-v2 weight 3 gives about 1:3', async () => {
    const s = await client.burst('xds:///echo', 400);
    assert.equal(s.failures, 0, `failed calls: ${s.errors.join('; ')}`);
    const v2 = share(s, 'echo-v2:');
    assert.ok(v2 >= 0.6 && v2 <= 0.9, `echo-v2 share ${v2} not in 0.6..0.9: ${JSON.stringify(s.counts)}`);
    // Within echo-v2, both endpoints take traffic.
    assert.ok(s.counts[key('echo-v2')] > 0 && s.counts[key('echo-v2#b')] > 0, JSON.stringify(s.counts));
  });

  test('xds:///echo-v1 reaches echo-v1 although no route names that host', async () => {
    const s = await client.burst('xds:///echo-v1', 50);
    assert.deepEqual(s.counts, { [key('echo-v1')]: 50 }, s.errors.join('; '));
  });

  test('admin: /metrics shows connected proxies and pushes, /debug/nodes shows the node', async () => {
    const m = (await getText(`${mg.adminUrl}/metrics`)).body;
    assert.ok((metricValue(m, 'meshgate_xds_connected_proxies') ?? 0) >= 1, m);
    for (const type of ['listener', 'route', 'cluster', 'endpoint'])
      assert.ok((metricValue(m, 'meshgate_xds_pushes_total', { type }) ?? 0) > 0, `no ${type} pushes:\n${m}`);
    assert.ok((metricValue(m, 'meshgate_xds_push_bytes_total', { type: 'cluster' }) ?? 0) > 0);
    assert.ok((metricValue(m, 'meshgate_convergence_seconds_count', { stage: 'publish' }) ?? 0) >= 1);
    const nodes = (await getJson(`${mg.adminUrl}/debug/nodes`)).body.nodes as any[];
    const me = nodes.find((n) => n.id === 'e2e-traffic');
    assert.ok(me, JSON.stringify(nodes));
    assert.equal(me.profile, 'grpc');
    assert.equal(me.status.CDS, 'SYNCED');
    assert.equal(me.status.LDS, 'SYNCED');
    // A resource page shows names with versions, and one resource decoded.
    const list = (await getJson(`${mg.adminUrl}/debug/resources?profile=grpc&type=listener`)).body;
    assert.deepEqual(
      list.resources.map((r: any) => r.name),
      ['echo', 'echo-v1', 'echo-v2'],
    );
    const one = (await getJson(`${mg.adminUrl}/debug/resources?profile=grpc&type=cluster&name=echo-v2`)).body;
    assert.equal(one.resource.name, 'echo-v2');
    assert.equal((await getText(`${mg.adminUrl}/debug/resources?profile=grpc&type=bogus`)).status, 400);
  });

  test('admin binds to 127.0.0.1 by default', async () => {
    assert.match(mg.logs(200_000), /"address":"127\.0\.0\.1","port":\d+,"msg":"admin server listening"/);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(mg.adminPort, external.address);
        s.once('connect', () => (s.destroy(), resolve(false)));
        s.once('error', () => resolve(true));
      });
      assert.ok(refused, `admin port answered on ${external.address}`);
    }
  });

  test('an endpoint added in the file gets traffic; a removed one stops getting it', async () => {
    const before =
      metricValue((await getText(`${mg.adminUrl}/metrics`)).body, 'meshgate_cache_publishes_total', {
        kind: 'endpoints',
      }) ?? 0;
    writeAtomic(
      config,
      echoConfig({
        v1: [{ port: port('echo-v1') }, { port: port('echo-v1#b') }],
        v2: [{ port: port('echo-v2'), weight: 2 }, { port: port('echo-v2#b') }],
      }),
    );
    await waitFor(async () => {
      const s = await client.burst('xds:///echo-v1', 40);
      return s.counts[key('echo-v1#b')] > 0 && s.counts[key('echo-v1')] > 0 && s.failures === 0;
    }, 'traffic on the added endpoint');
    writeAtomic(
      config,
      echoConfig({
        v1: [{ port: port('echo-v1#b') }],
        v2: [{ port: port('echo-v2'), weight: 2 }, { port: port('echo-v2#b') }],
      }),
    );
    await waitFor(async () => {
      const s = await client.burst('xds:///echo-v1', 40);
      return s.counts[key('echo-v1#b')] === 40;
    }, 'no traffic on the removed endpoint');
    const s = await client.burst('xds:///echo-v1', 100);
    assert.deepEqual(s.counts, { [key('echo-v1#b')]: 100 });
    // Both edits touched only endpoints: they took the EDS-only path.
    const afterCount =
      metricValue((await getText(`${mg.adminUrl}/metrics`)).body, 'meshgate_cache_publishes_total', {
        kind: 'endpoints',
      }) ?? 0;
    assert.ok(afterCount >= before + 2, `endpoint-only publishes ${before} -> ${afterCount}`);
    // The connected client ACKed those pushes: the publish -> ACK stage of convergence was measured.
    const m = (await getText(`${mg.adminUrl}/metrics`)).body;
    assert.ok((metricValue(m, 'meshgate_convergence_seconds_count', { stage: 'ack' }) ?? 0) >= 1, m);
  });

  test("changing an endpoint's port moves its traffic within 2 s", async () => {
    await client.start('xds:///echo-v2', 5);
    const edited = Date.now();
    writeAtomic(
      config,
      echoConfig({
        v1: [{ port: port('echo-v1#b') }],
        v2: [{ port: port('echo-v2'), weight: 2 }, { port: port('echo-v2#c') }],
      }),
    );
    let movedAt = 0;
    try {
      await waitFor(
        async () => {
          const recent = (await client.peek('xds:///echo-v2', 200)).filter((o) => o.t > edited);
          const hitNew = recent.find((o) => o.server === key('echo-v2#c'));
          if (!hitNew) return false;
          // After the first call on the new port, none may go to the old one.
          const later = recent.filter((o) => o.t > hitNew.t + 50);
          if (later.length < 10) return false;
          movedAt = hitNew.t;
          return later.every((o) => o.ok && o.server !== key('echo-v2#b'));
        },
        'traffic moved to the new port',
        5000,
        25,
      );
    } finally {
      const s = await client.stop('xds:///echo-v2');
      assert.equal(s.failures, 0, s.errors.join('; '));
    }
    assert.ok(movedAt - edited <= 2000, `traffic moved ${movedAt - edited} ms after the edit`);
  });

  test('flipping route weights takes effect', async () => {
    const eps = {
      v1: [{ port: port('echo-v1#b') }],
      v2: [{ port: port('echo-v2'), weight: 2 }, { port: port('echo-v2#c') }],
    };
    writeAtomic(config, echoConfig({ ...eps, weights: [3, 1] }));
    await waitFor(
      async () => share(await client.burst('xds:///echo', 60), 'echo-v1:') > 0.5,
      'echo-v1 taking the larger share',
    );
    const s = await client.burst('xds:///echo', 400);
    assert.equal(s.failures, 0);
    const v1 = share(s, 'echo-v1:');
    assert.ok(v1 >= 0.6 && v1 <= 0.9, `echo-v1 share ${v1} not in 0.6..0.9: ${JSON.stringify(s.counts)}`);
  });

  test('a syntax error keeps traffic flowing, shows on /readyz and in metrics; fixing it clears it', async () => {
    const good = echoConfig({
      v1: [{ port: port('echo-v1#b') }],
      v2: [{ port: port('echo-v2'), weight: 2 }, { port: port('echo-v2#c') }],
      weights: [3, 1],
    });
    const lines = good.split('\n');
    const badLine = lines.findIndex((l) => l.startsWith('routes:')) + 1; // 1-based line of the broken key
    lines[badLine - 1] = 'routes: [';
    const errorsBefore =
      metricValue((await getText(`${mg.adminUrl}/metrics`)).body, 'meshgate_config_reload_errors_total', {
        source: 'file',
      }) ?? 0;
    writeAtomic(config, lines.join('\n'));
    const r = await waitFor(async () => {
      const res = await getJson(`${mg.adminUrl}/readyz`);
      return res.status === 503 && res.body.sources?.file?.lastError ? res : undefined;
    }, '/readyz 503 naming the error');
    const detail = JSON.stringify(r.body.sources.file);
    assert.ok(r.body.sources.file.stale, detail);
    assert.ok(r.body.sources.file.lastError.includes(config), detail);
    assert.match(
      r.body.sources.file.lastError,
      new RegExp(`:(${badLine}|${badLine + 1}|${badLine + 2}):\\d+`),
      `error should point near line ${badLine}: ${detail}`,
    );
    const m = (await getText(`${mg.adminUrl}/metrics`)).body;
    assert.ok((metricValue(m, 'meshgate_config_reload_errors_total', { source: 'file' }) ?? 0) > errorsBefore, m);
    assert.equal(metricValue(m, 'meshgate_source_stale', { source: 'file' }), 1);
    const s = await client.burst('xds:///echo', 50);
    assert.equal(s.failures, 0, `traffic failed during the bad config: ${s.errors.join('; ')}`);

    writeAtomic(config, good);
    await mg.waitReady();
    const ok = (await getJson(`${mg.adminUrl}/readyz`)).body;
    assert.equal(ok.sources.file.stale, false);
    assert.equal(ok.sources.file.lastError, undefined, JSON.stringify(ok.sources.file));
  });
});
