import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type InvalidConfigError, loadSettings } from './config.ts';
import { withConfigFile } from './test-support.ts';
import { linkerdWarnings } from './linkerd-source.ts';

test('linkerd: defaults fill in; files resolve against the config file; durations use the one grammar', () => {
  withConfigFile(
    'linkerd:\n  serviceAccount: gateway\n  namespace: edge\n  tokenFile: tok\n  trustAnchorsFile: /etc/l5d/ca.crt\n  timeout: 2s\n',
    (f, dir) => {
      const s = loadSettings(f, {}, {}).linkerd;
      assert.deepEqual(s, {
        identityAddress: 'linkerd-identity.linkerd.svc.cluster.local:8080',
        linkerdNamespace: 'linkerd',
        trustDomain: 'cluster.local',
        serviceAccount: 'gateway',
        namespace: 'edge',
        tokenFile: join(dir, 'tok'),
        trustAnchorsFile: '/etc/l5d/ca.crt',
        transport: 'tls',
        secretName: 'linkerd/identity',
        trustBundle: 'linkerd/roots',
        timeoutMs: 2000,
        destinationAddress: 'linkerd-dst-headless.linkerd.svc.cluster.local:8086',
        destinationTransport: 'tls',
        services: [],
        kubernetesServices: false,
      });
      assert.deepEqual(linkerdWarnings(s), []);
    },
  );
});

test('linkerd.services: direct-mode backends with their defaults; plaintext choices are warned about', () => {
  withConfigFile(
    [
      'linkerd:',
      '  serviceAccount: gateway',
      '  namespace: edge',
      '  destinationTransport: plaintext',
      '  services:',
      '    - { name: api, authority: api.shop.svc.cluster.local:8080, protocol: grpc }',
      '    - { name: legacy, authority: legacy.shop.svc.cluster.local:80, allowPlaintextUnmeshed: true }',
      '',
    ].join('\n'),
    (f) => {
      const s = loadSettings(f, {}, {}).linkerd;
      assert.deepEqual(s?.services, [
        { name: 'api', authority: 'api.shop.svc.cluster.local:8080', protocol: 'grpc', allowPlaintextUnmeshed: false },
        {
          name: 'legacy',
          authority: 'legacy.shop.svc.cluster.local:80',
          protocol: 'http',
          allowPlaintextUnmeshed: true,
        },
      ]);
      const w = linkerdWarnings(s).join('\n');
      assert.match(
        w,
        /destinationTransport is plaintext: .* from linkerd-dst-headless\.linkerd\.svc\.cluster\.local:8086 unauthenticated/,
      );
      assert.match(
        w,
        /linkerd service legacy: allowPlaintextUnmeshed reaches pods without a Linkerd identity in plaintext/,
      );
    },
  );
});

test('linkerd.services: an authority that is not <svc>.<ns>.svc.<domain>:<port> is located and explained', () => {
  withConfigFile(
    'linkerd:\n  serviceAccount: gateway\n  namespace: edge\n  services:\n    - { name: api, authority: api.shop:8080 }\n',
    (f) => {
      assert.throws(
        () => loadSettings(f, {}, {}),
        (e: InvalidConfigError) => {
          const text = e.problems.map((x) => `${x.line}: ${x.path}: ${x.reason}`).join('\n');
          assert.match(
            text,
            /^5: linkerd\.services\[0\]\.authority: .*<service>\.<namespace>\.svc\.<cluster-domain>:<port>/m,
          );
          return true;
        },
      );
    },
  );
});

test('linkerd: every problem is located and named; serve refuses to start', () => {
  withConfigFile(
    [
      'linkerd:', //                                      1
      '  identityAddress: http://identity', //           2
      '  serviceAccount: Gateway_1', //                  3
      '  tokenFile: tok', //                             4
      '  transport: h2c', //                             5
      '  timeout: soon', //                              6
      '',
    ].join('\n'),
    (f) => {
      assert.throws(
        () => loadSettings(f, {}, {}),
        (e: InvalidConfigError) => {
          const text = e.problems.map((x) => `${x.line}: ${x.path}: ${x.reason}`).join('\n');
          assert.match(text, /^2: linkerd: missing required key "namespace"/m);
          assert.match(text, /^2: linkerd\.identityAddress: .*not host:port/m);
          assert.match(text, /^3: linkerd\.serviceAccount: invalid value "Gateway_1": a Kubernetes name/m);
          assert.match(text, /^5: linkerd\.transport: .*tls, plaintext/m);
          assert.match(text, /^6: linkerd\.timeout: /m);
          return true;
        },
      );
    },
  );
});

test('linkerd: plaintext to the identity controller is allowed only with a warning naming the risk', () => {
  withConfigFile(
    'linkerd:\n  identityAddress: 10.0.0.1:8080\n  transport: plaintext\n  serviceAccount: gw\n  namespace: edge\n  tokenFile: t\n  trustAnchorsFile: a\n',
    (f) => {
      const w = linkerdWarnings(loadSettings(f, {}, {}).linkerd);
      assert.equal(w.length, 1);
      assert.match(w[0], /plaintext.*token.*10\.0\.0\.1:8080 unencrypted/);
    },
  );
});

test('linkerd: without tokenFile and trustAnchorsFile the Kubernetes API is used, with the section kubeconfig resolved', () => {
  withConfigFile('linkerd:\n  serviceAccount: gw\n  namespace: edge\n  kubeconfig: kc.yaml\n', (f, dir) => {
    const s = loadSettings(f, {}, {}).linkerd!;
    assert.equal(s.tokenFile, undefined);
    assert.equal(s.trustAnchorsFile, undefined);
    assert.equal(s.kubeconfig, join(dir, 'kc.yaml'));
  });
});

test('linkerd.kubernetesServices: needs a kubernetes section; refused next to istio.upstreams or kubernetes.linkerdIngress, naming the fix', () => {
  const base = ['linkerd:', '  serviceAccount: gateway', '  namespace: edge', '  kubernetesServices: true'];
  const kube = ['kubernetes:', '  kubeconfig: /dev/null'];
  const refused = (lines: string[]): string => {
    let msg = '';
    withConfigFile([...lines, ''].join('\n'), (f) => {
      try {
        loadSettings(f, {}, {});
      } catch (err) {
        msg = (err as InvalidConfigError).message;
      }
    });
    return msg;
  };
  withConfigFile([...base, ...kube, ''].join('\n'), (f) => {
    const s = loadSettings(f, {}, {});
    assert.equal(s.linkerd?.kubernetesServices, true);
    assert.equal(s.istio, undefined);
  });
  assert.match(refused(base), /linkerd\.kubernetesServices needs a kubernetes: section/);
  const both = refused([...base, ...kube, 'istio:', '  serviceAccount: gateway', '  namespace: edge']);
  assert.match(
    both,
    /linkerd\.kubernetesServices and istio\.upstreams both decide how the Kubernetes Services are reached/,
  );
  assert.match(both, /set istio\.upstreams: false or linkerd\.kubernetesServices: false/);
  withConfigFile(
    [...base, ...kube, 'istio:', '  serviceAccount: gateway', '  namespace: edge', '  upstreams: false', ''].join('\n'),
    (f) => assert.equal(loadSettings(f, {}, {}).linkerd?.kubernetesServices, true),
  );
  assert.match(refused([...base, ...kube, '  linkerdIngress: true']), /contradicts kubernetes\.linkerdIngress/);
});

test('linkerd.kubernetesServices with a plaintext destination channel is warned about', () => {
  withConfigFile(
    [
      'linkerd:',
      '  serviceAccount: gateway',
      '  namespace: edge',
      '  destinationTransport: plaintext',
      '  kubernetesServices: true',
      'kubernetes: {}',
      '',
    ].join('\n'),
    (f) => {
      const w = linkerdWarnings(loadSettings(f, {}, {}).linkerd).join('\n');
      assert.match(
        w,
        /the endpoints and server identities of the meshed Kubernetes Services come from .* unauthenticated/,
      );
    },
  );
});
