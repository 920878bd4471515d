// The Helm chart (charts/meshgate) checked with a real Helm v3 binary: `helm lint --strict`, golden
// `helm template` output for the default values and each example, schema refusals, the hardening and
// probes of the rendered Deployment, and the rendered meshgate config run through `meshgate validate`
// so the chart and the binary never drift apart.
//   MESHGATE_UPDATE_GOLDEN=1 npm run test:integration helm    rewrites integration-tests/helm/golden/*.yaml
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(ROOT, 'charts/meshgate');
const GOLDEN = join(ROOT, 'integration-tests/helm/golden');
const CLI = join(ROOT, 'packages/meshgate/src/cli.ts');
const UPDATE = process.env.MESHGATE_UPDATE_GOLDEN === '1';
const RELEASE = 'meshgate';
const NAMESPACE = 'meshgate';

/** Each install mode: golden file name -> values file (none: the chart's defaults). */
const CASES: Record<string, string | undefined> = {
  default: undefined,
  istio: join(CHART, 'examples/values-istio.yaml'),
  consul: join(CHART, 'examples/values-consul.yaml'),
  linkerd: join(CHART, 'examples/values-linkerd.yaml'),
  'linkerd-kubernetes': join(CHART, 'examples/values-linkerd-kubernetes.yaml'),
  'linkerd-direct': join(CHART, 'examples/values-linkerd-direct.yaml'),
  kubernetes: join(CHART, 'examples/values-kubernetes.yaml'),
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({
        code,
        stdout: String(stdout),
        stderr: String(stderr) || (err && code !== 0 ? String(err.message) : ''),
      });
    });
  });
}

let helm = '';
const tmp = mkdtempSync(join(tmpdir(), 'meshgate-helm-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

before(
  async () => {
    // The first build of Helm from the Go module proxy takes minutes; later runs reuse the cache.
    const r = await run('bash', [join(ROOT, 'integration-tests/tools/build-helm.sh')], process.env, 1_200_000);
    assert.equal(
      r.code,
      0,
      `integration-tests/tools/build-helm.sh failed (a Helm v3 on PATH is used if present):\n${r.stderr.slice(-3000)}`,
    );
    helm = r.stdout.trim().split('\n').at(-1)!;
    // Keep Helm's own state out of $HOME so the suite leaves nothing behind.
    for (const d of ['cache', 'config', 'data']) process.env[`HELM_${d.toUpperCase()}_HOME`] = join(tmp, `helm-${d}`);
  },
  { timeout: 1_260_000 },
);

const valuesArgs = (file: string | undefined) => (file ? ['-f', file] : []);
const template = (extra: string[]) => run(helm, ['template', RELEASE, CHART, '--namespace', NAMESPACE, ...extra]);

type K8sObject = {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: any;
};
function objects(out: string): K8sObject[] {
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((o): o is K8sObject => !!o);
}
const find = (objs: K8sObject[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(
    o,
    `no ${kind} ${name} in the rendered chart; kinds: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`,
  );
  return o;
};

describe('helm lint --strict', () => {
  for (const [name, file] of Object.entries(CASES)) {
    test(`${name} values`, async () => {
      const r = await run(helm, ['lint', '--strict', CHART, ...valuesArgs(file)]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe('helm template', () => {
  for (const [name, file] of Object.entries(CASES)) {
    test(`${name} matches golden/${name}.yaml`, async () => {
      const r = await template(valuesArgs(file));
      assert.equal(r.code, 0, r.stderr);
      const golden = join(GOLDEN, `${name}.yaml`);
      if (UPDATE || !existsSync(golden)) {
        assert.ok(
          UPDATE,
          `golden file ${golden} is missing; run MESHGATE_UPDATE_GOLDEN=1 npm run test:integration helm`,
        );
        writeFileSync(golden, r.stdout);
      }
      assert.equal(
        r.stdout,
        readFileSync(golden, 'utf8'),
        `helm template for ${name} differs from ${golden}; if the change is intended, regenerate with MESHGATE_UPDATE_GOLDEN=1 npm run test:integration helm`,
      );
    });

    test(`${name}: the Deployment is hardened and probes /healthz and /readyz on the admin port`, async () => {
      const r = await template(valuesArgs(file));
      assert.equal(r.code, 0, r.stderr);
      const objs = objects(r.stdout);
      const dep = find(objs, 'Deployment', RELEASE);
      const config = parse(find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml']);
      const pod = dep.spec.template.spec;
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
      // Linkerd direct mode reads the trust-roots ConfigMap through the API.
      const kube = name === 'kubernetes' || name === 'linkerd-kubernetes' || name === 'linkerd-direct';
      assert.equal(
        pod.automountServiceAccountToken,
        kube,
        kube
          ? 'meshgate reads the Kubernetes API, so the pod gets its ServiceAccount token'
          : 'meshgate reads no Kubernetes API, so the pod gets no token',
      );
      const deployments = objs.filter((o) => o.kind === 'Deployment');
      for (const d of deployments) {
        for (const c of [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers]) {
          const sc = c.securityContext;
          const who = `${d.metadata.name}/${c.name}`;
          assert.ok(sc, `${who} has no securityContext`);
          assert.equal(sc.runAsNonRoot, true, `${who} runAsNonRoot`);
          assert.equal(sc.readOnlyRootFilesystem, true, `${who} readOnlyRootFilesystem`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${who} allowPrivilegeEscalation`);
          assert.deepEqual(sc.capabilities.drop, ['ALL'], `${who} drops all capabilities`);
          assert.equal(sc.capabilities.add, undefined, `${who} adds no capability`);
          assert.equal(sc.seccompProfile.type, 'RuntimeDefault', `${who} seccomp`);
          assert.ok(
            c.resources?.requests?.cpu && c.resources?.limits?.memory,
            `${who} has resource requests and a memory limit`,
          );
        }
      }
      const main = pod.containers.find((c: any) => c.name === 'meshgate');
      assert.deepEqual(
        [...main.command, ...main.args],
        ['meshgate', 'serve', '--config', '/etc/meshgate/meshgate.yaml'],
      );
      const adminPort = main.ports.find((p: any) => p.name === 'admin').containerPort;
      assert.equal(adminPort, config.admin?.port ?? 19000, 'the admin containerPort is the port meshgate binds');
      assert.equal(main.ports.find((p: any) => p.name === 'grpc-xds').containerPort, config.xds?.port ?? 18000);
      assert.deepEqual(main.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
      assert.deepEqual(main.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
      assert.ok(
        !['127.0.0.1', 'localhost', '::1', undefined].includes(config.admin?.address),
        `kubelet probes need a non-loopback admin bind, got ${config.admin?.address}`,
      );
      assert.ok(
        main.volumeMounts.some((m: any) => m.mountPath === '/etc/meshgate'),
        'the config directory is mounted',
      );
      assert.match(dep.spec.template.metadata.annotations['checksum/config'], /^[0-9a-f]{64}$/);
      const svc = find(objs, 'Service', RELEASE);
      const xds = svc.spec.ports.find((p: any) => p.name === 'grpc-xds');
      assert.equal(xds.appProtocol, 'grpc');
      assert.equal(xds.targetPort, 'grpc-xds');
    });

    test(`${name}: the rendered meshgate config passes meshgate validate`, async () => {
      const r = await template(valuesArgs(file));
      assert.equal(r.code, 0, r.stderr);
      const objs = objects(r.stdout);
      const text: string = find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml'];
      const dir = mkdtempSync(join(tmp, `${name}-`));
      let configFile = join(dir, 'meshgate.yaml');
      writeFileSync(configFile, text);
      // With a node-local Consul agent the pod runs the config through the render-config init
      // container first; run that very script here so what is validated is what meshgate would read.
      const init = find(objs, 'Deployment', RELEASE).spec.template.spec.initContainers?.find(
        (c: any) => c.name === 'render-config',
      );
      if (init) {
        const out = join(dir, 'rendered.yaml');
        const env = {
          ...process.env,
          HOST_IP: '10.1.2.3',
          MESHGATE_CONFIG_TEMPLATE: configFile,
          MESHGATE_CONFIG_OUT: out,
        };
        const rr = await run(process.execPath, init.command.slice(1), env);
        assert.equal(rr.code, 0, rr.stderr);
        assert.equal(parse(readFileSync(out, 'utf8')).consul.address, 'http://10.1.2.3:8500');
        configFile = out;
      }
      const v = await run(process.execPath, ['--conditions=source', CLI, 'validate', '--config', configFile]);
      assert.equal(
        v.code,
        0,
        `meshgate validate refused the config the chart renders for ${name}:\n${v.stderr}\n--- config ---\n${readFileSync(configFile, 'utf8')}`,
      );
      assert.match(v.stdout, /^ok: /m);
    });
  }

  test('consul: the token comes from a mounted Secret, never from values or the ConfigMap', async () => {
    const r = await template(valuesArgs(CASES.consul));
    assert.equal(r.code, 0, r.stderr);
    const objs = objects(r.stdout);
    const config = parse(find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml']);
    assert.equal(config.consul.tokenFile, '/var/run/secrets/meshgate/consul/token');
    assert.equal(config.consul.token, undefined);
    const pod = find(objs, 'Deployment', RELEASE).spec.template.spec;
    const vol = pod.volumes.find((v: any) => v.secret);
    assert.equal(vol.secret.secretName, 'meshgate-consul-token');
    const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === vol.name);
    // A directory mount (not subPath), so a rotated Secret reaches the file meshgate re-reads on 403.
    assert.equal(mount.mountPath, '/var/run/secrets/meshgate/consul');
    assert.equal(mount.subPath, undefined);
    assert.equal(objs.filter((o) => o.kind === 'Secret').length, 0, 'the chart creates no Secret');
    const hostIp = pod.initContainers[0].env.find((e: any) => e.name === 'HOST_IP');
    assert.equal(hostIp.valueFrom.fieldRef.fieldPath, 'status.hostIP');
  });

  test('consul: an IPv6 node address is bracketed in the agent URL', async () => {
    const r = await template(valuesArgs(CASES.consul));
    const objs = objects(r.stdout);
    const init = find(objs, 'Deployment', RELEASE).spec.template.spec.initContainers[0];
    const src = join(tmp, 'v6-in.yaml');
    const out = join(tmp, 'v6-out.yaml');
    writeFileSync(src, find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml']);
    const rr = await run(process.execPath, init.command.slice(1), {
      ...process.env,
      HOST_IP: 'fd00::7',
      MESHGATE_CONFIG_TEMPLATE: src,
      MESHGATE_CONFIG_OUT: out,
    });
    assert.equal(rr.code, 0, rr.stderr);
    assert.equal(parse(readFileSync(out, 'utf8')).consul.address, 'http://[fd00::7]:8500');
    const v = await run(process.execPath, ['--conditions=source', CLI, 'validate', '--config', out]);
    assert.equal(v.code, 0, v.stderr);
  });

  test('the gateway init container passes flags meshgate bootstrap accepts, pointing at the release Service', async () => {
    const r = await template(valuesArgs(CASES.linkerd));
    assert.equal(r.code, 0, r.stderr);
    const objs = objects(r.stdout);
    const gw = find(objs, 'Deployment', `${RELEASE}-gateway`);
    assert.equal(gw.spec.template.metadata.annotations['linkerd.io/inject'], 'ingress');
    const init = gw.spec.template.spec.initContainers.find((c: any) => c.name === 'bootstrap');
    // Kubernetes expands $(POD_NAME) in args; do the same here.
    const args = init.args.map((a: string) => a.replace('$(POD_NAME)', 'meshgate-gateway-abc12'));
    const b = await run(process.execPath, ['--conditions=source', CLI, ...args]);
    assert.equal(b.code, 0, b.stderr);
    const boot = parse(b.stdout);
    assert.equal(boot.node.id, 'meshgate-gateway-abc12');
    assert.equal(boot.node.cluster, 'meshgate-gateway');
    const sock = JSON.stringify(boot.static_resources.clusters);
    assert.match(sock, /"meshgate\.meshgate\.svc"/);
    assert.match(sock, /18000/);
    const svc = find(objs, 'Service', `${RELEASE}-gateway`);
    assert.deepEqual(
      svc.spec.ports.map((p: any) => p.port),
      [8080],
      'the gateway Service exposes config.listeners ports',
    );
  });
});

describe('values.schema.json refuses bad values', () => {
  test('an unknown top-level key, naming it', async () => {
    const r = await template(['--set', 'replicas=2']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /additional properties 'replicas' not allowed/);
  });
  test('an unknown key inside the meshgate config, naming it', async () => {
    const r = await template(['--set', 'config.xds.prot=18001']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /at '\/config\/xds': additional properties 'prot' not allowed/);
  });
  test('an inline Consul token in values', async () => {
    const r = await template(['--set', 'config.consul.token=s3cr3t-value']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /at '\/config\/consul': additional properties 'token' not allowed/);
    assert.doesNotMatch(r.stderr, /s3cr3t-value/, 'the refused token is not echoed back');
  });
  test('a wrong type, naming the key', async () => {
    const r = await template(['--set-string', 'replicaCount=two']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /at '\/replicaCount': got string, want integer/);
  });
  test('a wrong type deep in the config, naming the key', async () => {
    const r = await template(['--set-string', 'config.admin.port=admin']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /at '\/config\/admin\/port': got string, want integer/);
  });
  test('a value outside its enum', async () => {
    const r = await template(['--set', 'config.logging.level=verbose']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /at '\/config\/logging\/level'/);
  });
  test("durations follow meshgate's one grammar: 1h30m and 7d pass, a bare number is refused", async () => {
    for (const d of ['1h30m', '7d']) {
      const ok = await template(['--set', `config.xds.maxDelay=${d}`]);
      assert.equal(ok.code, 0, ok.stderr);
    }
    const r = await template(['--set-string', 'config.xds.debounce=100']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /at '\/config\/xds\/debounce': '100' does not match pattern/);
  });
  test('an annotation that is not a string (sidecar.istio.io/inject: false)', async () => {
    const r = await template(['--set', 'podAnnotations.sidecar\\.istio\\.io/inject=false']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /at '\/podAnnotations\/sidecar\.istio\.io~1inject': got boolean, want string/);
  });
});

describe('chart-level checks', () => {
  test('a loopback admin address is refused, with the reason', async () => {
    const r = await template(['--set', 'config.admin.address=127.0.0.1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config\.admin\.address is 127\.0\.0\.1: kubelet probes/);
  });
  test('a token Secret without a consul section is refused', async () => {
    const r = await template(['--set', 'consul.tokenSecret.name=tok']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config\.consul is not set/);
  });
  test('tokenSecret and tokenFile together are refused', async () => {
    const r = await template(['-f', CASES.consul!, '--set', 'config.consul.tokenFile=/x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /tokenFile\/tokenEnv and consul\.tokenSecret are both set/);
  });
  test('istio identity: an istio-ca token and the root are mounted, config.istio points at them, no API token', async () => {
    const objs = objects((await template(['-f', CASES.istio!])).stdout);
    const pod = find(objs, 'Deployment', RELEASE).spec.template.spec;
    const vols = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    assert.deepEqual(vols['istio-token'].projected.sources[0].serviceAccountToken, {
      audience: 'istio-ca',
      expirationSeconds: 3600,
      path: 'istio-token',
    });
    assert.equal(vols['istio-root'].configMap.name, 'istio-ca-root-cert');
    assert.equal(pod.automountServiceAccountToken, false);
    const istio = parse(find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml']).istio;
    assert.equal(istio.serviceAccount, pod.serviceAccountName);
    assert.equal(istio.tokenFile, '/var/run/secrets/tokens/istio-token');
    assert.equal(istio.rootCertFile, '/var/run/secrets/istio/root-cert.pem');
  });
  test('istio with kubernetes: pods and Istio policy are readable cluster-wide for istio.upstreams, unless it is off', async () => {
    const on = objects((await template(['-f', CASES.istio!, '--set', 'kubernetes.enabled=true'])).stdout);
    const role = find(on, 'ClusterRole', `${RELEASE}-istio`);
    assert.deepEqual(
      role.rules.map((r: any) => [r.apiGroups[0], r.resources[0], r.verbs]),
      [
        ['security.istio.io', 'peerauthentications', ['list', 'watch']],
        ['networking.istio.io', 'destinationrules', ['list', 'watch']],
      ],
    );
    assert.equal(find(on, 'ClusterRoleBinding', `${RELEASE}-istio`).roleRef.name, `${RELEASE}-istio`);
    assert.ok(find(on, 'ClusterRole', RELEASE).rules[0].resources.includes('pods'));
    // DestinationRule credentialName Secrets: read in the release namespace only.
    const creds = find(on, 'Role', `${RELEASE}-istio-credentials`);
    assert.equal(creds.metadata.namespace, find(on, 'Deployment', RELEASE).metadata.namespace);
    assert.deepEqual(creds.rules, [{ apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] }]);
    assert.equal(find(on, 'RoleBinding', `${RELEASE}-istio-credentials`).roleRef.kind, 'Role');
    // The mesh config: the ConfigMap `istio` in Istio's root namespace, by name.
    const mesh = find(on, 'Role', `${RELEASE}-istio-mesh-config`);
    assert.equal(mesh.metadata.namespace, 'istio-system');
    assert.deepEqual(mesh.rules, [
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['istio'], verbs: ['list', 'watch'] },
    ]);
    assert.equal(find(on, 'RoleBinding', `${RELEASE}-istio-mesh-config`).metadata.namespace, 'istio-system');
    const off = objects(
      (
        await template([
          '-f',
          CASES.istio!,
          '--set',
          'kubernetes.enabled=true',
          '--set',
          'config.istio.upstreams=false',
        ])
      ).stdout,
    );
    assert.ok(
      !off.some((o: any) =>
        [`${RELEASE}-istio`, `${RELEASE}-istio-credentials`, `${RELEASE}-istio-mesh-config`].includes(o.metadata?.name),
      ),
    );
    assert.ok(!find(off, 'ClusterRole', RELEASE).rules[0].resources.includes('pods'));
  });
  test('istio identity: a config.istio value the chart derives is refused, naming it', async () => {
    const r = await template(['-f', CASES.istio!, '--set', 'config.istio.tokenFile=/x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config\.istio\.tokenFile is set, but istio\.identity\.enabled derives it/);
    const bare = await template(['--set', 'config.istio.trustDomain=cluster.local']);
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /config\.istio needs serviceAccount/);
  });
  test('linkerd identity: an identity.l5d.io token is mounted, config.linkerd points at it; the anchors through a Role on one ConfigMap', async () => {
    const objs = objects((await template(['-f', CASES['linkerd-direct']!])).stdout);
    const pod = find(objs, 'Deployment', RELEASE).spec.template.spec;
    const vols = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    assert.deepEqual(vols['linkerd-token'].projected.sources[0].serviceAccountToken, {
      audience: 'identity.l5d.io',
      expirationSeconds: 3600,
      path: 'linkerd-identity-token',
    });
    // The trust-roots ConfigMap is read through the API, so the pod carries its API token.
    assert.equal(pod.automountServiceAccountToken, true);
    const role = find(objs, 'Role', `${RELEASE}-linkerd-roots`);
    assert.equal(role.metadata.namespace, 'linkerd');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['linkerd-identity-trust-roots'], verbs: ['get'] },
    ]);
    const l5d = parse(find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml']).linkerd;
    assert.equal(l5d.serviceAccount, pod.serviceAccountName);
    assert.equal(l5d.namespace, NAMESPACE);
    assert.equal(l5d.tokenFile, '/var/run/secrets/linkerd/tokens/linkerd-identity-token');
    assert.equal(l5d.trustAnchorsFile, undefined);
    assert.equal(l5d.services[0].authority, 'web-svc.emojivoto.svc.cluster.local:80');
  });
  test('linkerd identity: trustAnchorsPEM becomes a mounted file, no API access and no Role', async () => {
    const objs = objects(
      (await template(['-f', CASES['linkerd-direct']!, '--set-string', 'linkerd.identity.trustAnchorsPEM=PEM'])).stdout,
    );
    const pod = find(objs, 'Deployment', RELEASE).spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(objs.filter((o) => o.kind === 'Role').length, 0);
    assert.equal(find(objs, 'ConfigMap', `${RELEASE}-linkerd-roots`).data['ca-bundle.crt'].trim(), 'PEM');
    const l5d = parse(find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml']).linkerd;
    assert.equal(l5d.trustAnchorsFile, '/var/run/secrets/linkerd/roots/ca-bundle.crt');
  });
  test('linkerd identity: a config.linkerd value the chart derives is refused, naming it', async () => {
    const r = await template(['-f', CASES['linkerd-direct']!, '--set', 'config.linkerd.tokenFile=/x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config\.linkerd\.tokenFile is set, but linkerd\.identity\.enabled derives it/);
    const bare = await template(['--set', 'config.linkerd.trustDomain=cluster.local']);
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /config\.linkerd needs serviceAccount and namespace/);
  });
  test('metrics are exposed on the Service only when asked', async () => {
    const off = objects((await template([])).stdout);
    assert.deepEqual(
      find(off, 'Service', RELEASE).spec.ports.map((p: any) => p.name),
      ['grpc-xds'],
    );
    const on = objects((await template(['--set', 'service.metrics.enabled=true'])).stdout);
    assert.deepEqual(
      find(on, 'Service', RELEASE).spec.ports.map((p: any) => [p.name, p.port]),
      [
        ['grpc-xds', 18000],
        ['metrics', 19000],
      ],
    );
  });
});

describe('kubernetes mode', () => {
  const K8S = CASES.kubernetes!;
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  /** Every permission the release grants, as "group/resource verb [names] @scope". */
  function grants(objs: K8sObject[]): string[] {
    const rolesByRef = (kind: string, name: string, ns?: string) =>
      objs.find(
        (o) => o.kind === kind && o.metadata.name === name && (kind === 'ClusterRole' || o.metadata.namespace === ns),
      );
    const out: string[] = [];
    for (const b of objs.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
      assert.deepEqual(
        b.subjects,
        [{ kind: 'ServiceAccount', name: RELEASE, namespace: NAMESPACE }],
        `${b.kind} ${b.metadata.name} binds only meshgate's ServiceAccount`,
      );
      const role = rolesByRef(b.roleRef.kind, b.roleRef.name, b.metadata.namespace);
      assert.ok(
        role,
        `${b.kind} ${b.metadata.name} refers to ${b.roleRef.kind} ${b.roleRef.name}, which the chart renders`,
      );
      const scope = b.kind === 'ClusterRoleBinding' ? 'cluster' : b.metadata.namespace;
      for (const r of role.rules as Rule[]) {
        for (const g of r.apiGroups)
          for (const res of r.resources)
            for (const v of r.verbs)
              out.push(
                `${g || 'core'}/${res} ${v}${r.resourceNames ? ` [${r.resourceNames.join(',')}]` : ''} @${scope}`,
              );
      }
    }
    return out.sort();
  }
  const reads = (scope: string, resources: string[]) =>
    resources.flatMap((r) => [`${r} list @${scope}`, `${r} watch @${scope}`]);
  const statusWrites = (scope: string, resources: string[]) =>
    resources.flatMap((r) => [
      `gateway.networking.k8s.io/${r}/status patch @${scope}`,
      `gateway.networking.k8s.io/${r}/status update @${scope}`,
    ]);
  const namespaced = (scope: string) => [
    ...reads(scope, [
      'core/services',
      'discovery.k8s.io/endpointslices',
      'gateway.networking.k8s.io/gateways',
      'gateway.networking.k8s.io/grpcroutes',
      'gateway.networking.k8s.io/httproutes',
      'gateway.networking.k8s.io/referencegrants',
    ]),
    ...statusWrites(scope, ['gateways', 'grpcroutes', 'httproutes']),
  ];
  const gatewayClasses = [
    ...reads('cluster', ['gateway.networking.k8s.io/gatewayclasses']),
    ...statusWrites('cluster', ['gatewayclasses']),
  ];
  // Namespaces are read (for their labels) only when every namespace is watched, as the source does.
  const namespaceReads = reads('cluster', ['core/namespaces']);
  const configOf = (out: string) => parse(find(objects(out), 'ConfigMap', RELEASE).data['meshgate.yaml']).kubernetes;
  const lease = [
    `coordination.k8s.io/leases create @${NAMESPACE}`,
    `coordination.k8s.io/leases get [${RELEASE}-leader] @${NAMESPACE}`,
    `coordination.k8s.io/leases update [${RELEASE}-leader] @${NAMESPACE}`,
  ];
  const secrets = (scope: string) => ['get', 'list', 'watch'].map((v) => `core/secrets ${v} @${scope}`);

  test('the example grants exactly the reads, status writes and Lease it needs, per watched namespace', async () => {
    const r = await template(['-f', K8S]);
    assert.equal(r.code, 0, r.stderr);
    const objs = objects(r.stdout);
    const expected = [
      ...gatewayClasses,
      ...['meshgate', 'payments', 'shop'].flatMap(namespaced),
      ...lease,
      ...secrets(NAMESPACE),
    ].sort();
    assert.deepEqual(grants(objs), expected);
    const gc = find(objs, 'GatewayClass', 'meshgate');
    assert.equal(gc.spec.controllerName, 'meshgate.io/gateway-controller');
  });

  test('all namespaces: one ClusterRoleBinding; Secrets still only in the release namespace by default', async () => {
    const r = await template(['--set', 'kubernetes.enabled=true']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      grants(objects(r.stdout)),
      [...gatewayClasses, ...namespaceReads, ...namespaced('cluster'), ...lease, ...secrets(NAMESPACE)].sort(),
    );
  });

  test('Secrets: none when disabled, cluster-wide only with "*"; Pods only with kubernetes.pods', async () => {
    const none = await template(['--set', 'kubernetes.enabled=true', '--set', 'kubernetes.secrets.enabled=false']);
    assert.equal(none.code, 0, none.stderr);
    const g = grants(objects(none.stdout));
    assert.ok(!g.some((x) => x.startsWith('core/secrets')), g.join('\n'));
    assert.ok(!g.some((x) => x.startsWith('core/pods')), g.join('\n'));
    assert.equal(configOf(none.stdout).pods, false);
    const pods = await template(['--set', 'kubernetes.enabled=true', '--set', 'kubernetes.pods=true']);
    assert.ok(grants(objects(pods.stdout)).includes('core/pods watch @cluster'));
    assert.equal(configOf(pods.stdout).pods, true);
    assert.deepEqual(
      parse(find(objects(none.stdout), 'ConfigMap', RELEASE).data['meshgate.yaml']).kubernetes.secretNamespaces,
      [],
    );
    const all = await template(['--set', 'kubernetes.enabled=true', '--set', 'kubernetes.secrets.namespaces={*}']);
    assert.equal(all.code, 0, all.stderr);
    assert.ok(grants(objects(all.stdout)).includes('core/secrets watch @cluster'));
    assert.equal(
      parse(find(objects(all.stdout), 'ConfigMap', RELEASE).data['meshgate.yaml']).kubernetes.secretNamespaces,
      undefined,
    );
  });

  test('the config names what the RBAC grants: namespaces, controllerName, Secret namespaces, the Lease', async () => {
    const r = await template(['-f', K8S]);
    const objs = objects(r.stdout);
    const k = parse(find(objs, 'ConfigMap', RELEASE).data['meshgate.yaml']).kubernetes;
    assert.deepEqual(k, {
      namespaces: ['shop', 'payments', 'meshgate'],
      pods: false,
      controllerName: 'meshgate.io/gateway-controller',
      secretNamespaces: [NAMESPACE],
      leaderElection: { namespace: NAMESPACE, leaseName: `${RELEASE}-leader` },
    });
    const sa = find(objs, 'ServiceAccount', RELEASE);
    assert.equal(sa.automountServiceAccountToken, false, 'other pods sharing the ServiceAccount get no token');
  });

  test('settings the chart derives are refused in config.kubernetes, naming the value to use', async () => {
    const r = await template(['-f', K8S, '--set', 'config.kubernetes.controllerName=x.io/y']);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /config\.kubernetes\.controllerName is set, but the chart derives it from kubernetes\.gatewayClass\.controllerName/,
    );
  });

  test('the grants follow config.kubernetes: no Gateway API, no status writes, no leader election', async () => {
    const base = ['--set', 'kubernetes.enabled=true'];
    const noGw = await template([...base, '--set', 'config.kubernetes.gatewayApi=false']);
    assert.equal(noGw.code, 0, noGw.stderr);
    assert.deepEqual(
      grants(objects(noGw.stdout)),
      [...namespaceReads, ...reads('cluster', ['core/services', 'discovery.k8s.io/endpointslices'])].sort(),
      'services and slices only: no Gateway API objects, their Secrets, status or Lease',
    );
    assert.ok(!objects(noGw.stdout).some((o) => o.kind === 'GatewayClass'), 'no GatewayClass');
    const noStatus = await template([...base, '--set', 'config.kubernetes.writeStatus=false']);
    const g = grants(objects(noStatus.stdout));
    assert.ok(!g.some((x) => /\/status |leases/.test(x)), g.join('\n'));
    assert.ok(g.includes('gateway.networking.k8s.io/httproutes watch @cluster'));
    const noLe = await template([...base, '--set', 'config.kubernetes.leaderElection.enabled=false']);
    const g2 = grants(objects(noLe.stdout));
    assert.ok(!g2.some((x) => x.includes('leases')), g2.join('\n'));
    assert.ok(g2.includes('gateway.networking.k8s.io/httproutes/status update @cluster'));
    // Other leader election settings pass through; the chart only fills in where the Lease is.
    const ls = await template([...base, '--set', 'config.kubernetes.leaderElection.leaseSeconds=30']);
    assert.deepEqual(configOf(ls.stdout).leaderElection, {
      leaseSeconds: 30,
      namespace: NAMESPACE,
      leaseName: `${RELEASE}-leader`,
    });
    const bad = await template([...base, '--set', 'config.kubernetes.leaderElection.leaseName=other']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /config\.kubernetes\.leaderElection\.leaseName is set, but the chart derives it/);
  });

  test('config.kubernetes without kubernetes.enabled is refused (no token, no RBAC)', async () => {
    const r = await template(['--set', 'config.kubernetes.resync=1m']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config\.kubernetes is set but kubernetes\.enabled is false/);
  });

  test('a bad namespace name or controllerName is refused by the schema, naming the key', async () => {
    const ns = await template(['--set', 'kubernetes.namespaces={Bad_NS}']);
    assert.notEqual(ns.code, 0);
    assert.match(ns.stderr, /at '\/kubernetes\/namespaces\/0'/);
    const cn = await template(['--set', 'kubernetes.gatewayClass.controllerName=no-slash']);
    assert.notEqual(cn.code, 0);
    assert.match(cn.stderr, /at '\/kubernetes\/gatewayClass\/controllerName'/);
  });

  test('outside kubernetes mode the chart renders no RBAC and no GatewayClass', async () => {
    const objs = objects((await template([])).stdout);
    const kinds = objs.map((o) => o.kind);
    for (const k of ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'GatewayClass']) {
      assert.ok(!kinds.includes(k), `no ${k}`);
    }
  });
});
