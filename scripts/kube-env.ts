// `npm run kube-env`: a local Kubernetes API for trying the kubernetes source. Starts the same etcd +
// kube-apiserver the test suite uses (first run builds them: ~1 + ~8 min), applies the Gateway API CRDs,
// runs the demo echo backends in a network namespace (the API server refuses loopback endpoints; needs
// root) and writes a ready-to-apply manifest with their addresses. Ctrl-C stops and removes everything.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKubeEnv } from '../integration-tests/lib/kube-env.ts';
import { createBackendNetns } from '../integration-tests/lib/netns.ts';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, '.kube-env');

process.stderr.write('starting etcd and kube-apiserver (the first run builds them, about 10 minutes)...\n');
const env = await startKubeEnv();
const netns = await createBackendNetns({ addresses: 3 });
const backends = await Promise.all(
  ['echo-v1', 'echo-v2', 'echo-v2'].map((name, i) => netns.startEcho(name, { ip: netns.nsIps[i], port: 50051 })),
);
mkdirSync(out, { recursive: true });
copyFileSync(env.adminKubeconfig, join(out, 'kubeconfig'));

const slice = (svc: string, ips: string[]) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${svc}-1, namespace: demo, labels: {kubernetes.io/service-name: ${svc}}}
addressType: IPv4
ports: [{name: grpc, port: 50051, protocol: TCP}]
endpoints:
${ips.map((ip) => `  - addresses: ["${ip}"]`).join('\n')}
`;
const manifest = `# Written by npm run kube-env: the demo backends as Services with EndpointSlices (no controller-manager
# runs here, so the slices are written by hand, as the EndpointSlice controller would), a Gateway of the
# meshgate GatewayClass and an HTTPRoute splitting 1:3.
apiVersion: v1
kind: Namespace
metadata: {name: demo}
${['echo-v1', 'echo-v2']
  .map(
    (s) => `---
apiVersion: v1
kind: Service
metadata: {name: ${s}, namespace: demo}
spec:
  ports: [{name: grpc, port: 50051, appProtocol: grpc}]
`,
  )
  .join('')}${slice('echo-v1', [backends[0].ip])}${slice('echo-v2', [backends[1].ip, backends[2].ip])}---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: meshgate}
spec: {controllerName: meshgate.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: demo, namespace: demo}
spec:
  gatewayClassName: meshgate
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo, namespace: demo}
spec:
  parentRefs: [{name: demo}]
  hostnames: [echo.demo]
  rules:
    - backendRefs:
        - {name: echo-v1, port: 50051, weight: 1}
        - {name: echo-v2, port: 50051, weight: 3}
`;
writeFileSync(join(out, 'demo.yaml'), manifest);

process.stdout.write(`
Kubernetes API ready at ${env.apiUrl} (Gateway API CRDs installed)
  kubeconfig (admin):  .kube-env/kubeconfig
  demo backends:       ${backends.map((b) => `${b.name} ${b.ip}:${b.port}`).join(', ')}
  demo manifest:       .kube-env/demo.yaml

In a second terminal:
  export KUBECONFIG=$PWD/.kube-env/kubeconfig
  kubectl apply --server-side -f .kube-env/demo.yaml
  npx meshgate serve --config examples/kubernetes.yaml --kubeconfig .kube-env/kubeconfig
and in a third:
  npm run demo-client -- xds:///echo.demo                 # the HTTPRoute: about 1:3 between echo-v1 and echo-v2
  npm run demo-client -- xds:///echo-v2.demo.svc.cluster.local:50051   # a Service port by its DNS name
  kubectl get httproute -n demo echo -o yaml              # status written by meshgate

Ctrl-C stops the API server and the backends.
`);

await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
process.stderr.write('stopping...\n');
await netns.destroy();
await env.stop();
