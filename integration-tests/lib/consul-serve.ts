// Shared setup for the Consul end-to-end suites: a Consul (real agent or contract server), echo
// backends, a real `meshgate serve` process on a config the suite writes, and a proxyless gRPC
// client in its own process. Registers before/after hooks in the calling describe().
import { after, before } from 'node:test';
import { join } from 'node:path';
import { startConsul, type ConsulDriver } from './consul-driver.ts';
import { startBackends, tempDir } from './fixture.ts';
import { MeshgateProcess } from './meshgate-process.ts';
import { XdsClientProcess } from './xds-client.ts';

export interface ConsulServe {
  consul: ConsulDriver;
  backends: Awaited<ReturnType<typeof startBackends>>;
  mg: MeshgateProcess;
  client: XdsClientProcess;
  /** Path of meshgate's config file. */
  config: string;
  /** "backendName:port", as the client counts successful calls. */
  key(name: string): string;
}

export function consulServe(o: {
  tmpPrefix: string;
  backends: string[];
  nodeId: string;
  readyTimeoutMs?: number;
  /** Registers services / config entries and writes `config` before meshgate starts. */
  setup(h: ConsulServe): Promise<void>;
}): ConsulServe {
  const tmp = tempDir(o.tmpPrefix);
  const h = {
    config: join(tmp.dir, 'meshgate.yaml'),
    key: (n: string) => `${n}:${h.backends.get(n)!.port}`,
  } as ConsulServe;

  before(async () => {
    h.consul = await startConsul({});
    h.backends = await startBackends(o.backends);
    await o.setup(h);
    h.mg = new MeshgateProcess(h.config);
    await h.mg.start();
    await h.mg.waitReady(o.readyTimeoutMs);
    h.client = new XdsClientProcess(h.mg.xdsPort, o.nodeId);
  });

  after(async () => {
    await h.client?.close();
    await h.mg?.stop();
    await h.backends?.closeAll();
    await h.consul?.close();
    tmp.cleanup();
  });

  return h;
}
