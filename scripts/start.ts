// `npm start`: a running control plane on examples/quickstart.yaml with three demo gRPC echo
// backends, for a first look. Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = process.env.MESHGATE_CONFIG ?? 'examples/quickstart.yaml';
const xdsPort = process.env.MESHGATE_XDS_PORT || '18000';
const adminPort = process.env.MESHGATE_ADMIN_PORT || '19000';
const BACKENDS = ['echo-v1:50051', 'echo-v2:50052', 'echo-v2:50053'];

if (!existsSync(`${root}/${config}`)) {
  console.error(`${config} not found; run from a checkout of meshgate or set MESHGATE_CONFIG`);
  process.exit(1);
}

const children: ChildProcess[] = [];
const run = (label: string, args: string[]) => {
  const child = spawn(process.execPath, ['--conditions=source', '--max-semi-space-size=16', ...args], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${label} exited (${code ?? signal}); stopping the demo`);
      stop(1);
    }
  });
  children.push(child);
  return child;
};

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

run('echo backends', ['examples/backends/echo-server.ts', ...BACKENDS]);
run('meshgate', [
  'packages/meshgate/src/cli.ts',
  'serve',
  '--config',
  config,
  '--xds-port',
  xdsPort,
  '--admin-port',
  adminPort,
]);

// Wait for readiness, then say what to try.
const deadline = Date.now() + 30_000;
for (;;) {
  try {
    if ((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200) break;
  } catch {
    /* not up yet */
  }
  if (Date.now() > deadline || stopping) {
    console.error(
      `meshgate did not become ready on http://127.0.0.1:${adminPort}/readyz within 30 s; see the log above`,
    );
    stop(1);
    break;
  }
  await new Promise((r) => setTimeout(r, 200));
}
if (!stopping) {
  console.log(`
meshgate is serving ${config}
  xDS (ADS) on 127.0.0.1:${xdsPort}; admin on http://127.0.0.1:${adminPort}
  echo backends: ${BACKENDS.join(', ')}

Try, in another terminal:
  npm run demo-client                   100 calls to xds:///echo through grpc-js-xds; expect about 1:3 echo-v1:echo-v2
  npm run demo-client -- xds:///echo-v1 one version only (no route needed: every service is a target)
  curl http://127.0.0.1:${adminPort}/readyz
  curl http://127.0.0.1:${adminPort}/metrics
  curl http://127.0.0.1:${adminPort}/debug/nodes          (while a client runs)
  curl 'http://127.0.0.1:${adminPort}/debug/resources?profile=grpc&type=route&name=echo'
  node --conditions=source packages/meshgate/src/cli.ts bootstrap      an Envoy bootstrap for this control plane
Edit ${config} (weights, ports) and run the client again: meshgate reloads it.
Ctrl-C stops everything.
`);
}
