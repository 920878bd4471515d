// Linkerd's real Go controllers for the tests: integration-tests/tools/build-linkerd2.sh builds `controller/cmd`
// from a carried linkerd2 source (the Go module proxy does not serve linkerd2 itself) and renders Linkerd's CRDs.
// The identity controller reads its trust anchors from a fixed path (/var/run/linkerd/identity/trust-roots/
// ca-bundle.crt), so each one runs in its own mount namespace with a private tmpfs on /run holding the test's anchor:
// nothing is written to the host's /run. That needs root (CI runs as root).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './wait.ts';

const SCRIPT = fileURLToPath(new URL('../tools/build-linkerd2.sh', import.meta.url));

/**
 * Why the Linkerd suites cannot run here, or undefined when the carried linkerd2 source is present. The only reason to
 * skip: every other missing piece (go, root) fails the suite with its own message.
 */
export function linkerdSourceMissing(): string | undefined {
  try {
    execFileSync('bash', [SCRIPT, '--source'], { stdio: ['ignore', 'pipe', 'pipe'] });
    return undefined;
  } catch (err) {
    const e = err as { status?: number; stderr?: Buffer };
    if (e.status === 3) return `skipped: ${String(e.stderr ?? '').trim()}`;
    throw err;
  }
}

export interface LinkerdBinaries {
  controller: string;
  /** Linkerd's CRDs as plain YAML files. */
  crdDir: string;
}

let built: Promise<LinkerdBinaries> | undefined;
/** Builds (first use ~2.5 min) or finds the cached controller. Call it in a before() hook with a long timeout. */
export function linkerdBinaries(): Promise<LinkerdBinaries> {
  built ??= new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT], { timeout: 1_800_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err)
        return reject(
          new Error(`build-linkerd2.sh failed: ${String(stderr).trim().split('\n').slice(-20).join('\n')}`),
        );
      const [controller, crdDir] = String(stdout).trim().split('\n').at(-1)!.split(' ');
      resolve({ controller, crdDir });
    });
  });
  built.catch(() => {
    built = undefined;
  });
  return built;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface LinkerdPki {
  /** PEM of the trust anchor (what ConfigMap linkerd-identity-trust-roots carries). */
  anchorPem: string;
  anchorFile: string;
  /** Holds crt.pem and key.pem of the issuer, as the identity controller's -issuer flag wants. */
  issuerDir: string;
  issuerPem: string;
}

/**
 * A trust anchor and an issuer as `linkerd install` wants them: ECDSA P-256, the issuer a CA with pathlen 0 and
 * CN identity.<linkerd-ns>.<trust-domain>, its key PKCS#8.
 */
export function makeLinkerdPki(
  dir: string,
  opts: { controlNamespace?: string; trustDomain?: string } = {},
): LinkerdPki {
  mkdirSync(join(dir, 'issuer'), { recursive: true });
  const cn = `identity.${opts.controlNamespace ?? 'linkerd'}.${opts.trustDomain ?? 'cluster.local'}`;
  writeFileSync(
    join(dir, 'issuer.ext'),
    'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
  );
  const p256 = ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out'];
  openssl([...p256, 'anchor.key'], dir);
  openssl(
    ['req', '-x509', '-new', '-key', 'anchor.key', '-subj', '/CN=root.linkerd.cluster.local', '-days', '30']
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
      .concat(['-out', 'anchor.crt']),
    dir,
  );
  openssl([...p256, 'issuer/key.pem'], dir);
  openssl(['req', '-new', '-key', 'issuer/key.pem', '-subj', `/CN=${cn}`, '-out', 'issuer.csr'], dir);
  openssl(
    ['x509', '-req', '-in', 'issuer.csr', '-CA', 'anchor.crt', '-CAkey', 'anchor.key', '-CAcreateserial'].concat([
      '-days',
      '30',
      '-extfile',
      'issuer.ext',
      '-out',
      'issuer/crt.pem',
    ]),
    dir,
  );
  return {
    anchorPem: readFileSync(join(dir, 'anchor.crt'), 'utf8'),
    anchorFile: join(dir, 'anchor.crt'),
    issuerDir: join(dir, 'issuer'),
    issuerPem: readFileSync(join(dir, 'issuer/crt.pem'), 'utf8'),
  };
}

/** A serving certificate for `dnsName` from the PKI's issuer, as Linkerd's identity would issue it to a proxy. */
export function issueServingCert(pki: LinkerdPki, dir: string, dnsName: string): { chainPem: string; keyPem: string } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'leaf.ext'),
    `subjectAltName=DNS:${dnsName}\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n`,
  );
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key'], dir);
  openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/', '-out', 'leaf.csr'], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      join(pki.issuerDir, 'crt.pem'),
      '-CAkey',
      join(pki.issuerDir, 'key.pem'),
    ].concat(['-CAcreateserial', '-days', '1', '-extfile', 'leaf.ext', '-out', 'leaf.crt']),
    dir,
  );
  return {
    chainPem: readFileSync(join(dir, 'leaf.crt'), 'utf8') + pki.issuerPem,
    keyPem: readFileSync(join(dir, 'leaf.key'), 'utf8'),
  };
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface LinkerdIdentity {
  /** 127.0.0.1:PORT of the plaintext gRPC listener (in a cluster a linkerd-proxy would front it with TLS). */
  address: string;
  log: string;
  logText(): string;
  stop(): Promise<void>;
}

/** Starts `controller identity` against the API server of `kubeconfig`; resolves once its gRPC port accepts. */
export async function startLinkerdIdentity(opts: {
  controller: string;
  kubeconfig: string;
  pki: LinkerdPki;
  dir: string;
  controlNamespace?: string;
  trustDomain?: string;
  /** Default 24h0m0s, Linkerd's own. */
  issuanceLifetime?: string;
  clockSkewAllowance?: string;
}): Promise<LinkerdIdentity> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the Linkerd identity controller reads its trust anchor from /var/run/linkerd/identity/trust-roots; the test gives it a private one in a mount namespace, which needs root',
    );
  }
  const [port, admin] = [await freePort(), await freePort()];
  const log = join(opts.dir, `identity-${port}.log`);
  const fd = openSync(log, 'a');
  // The shell runs inside the new mount namespace: the tmpfs over /run is seen by the controller only.
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount -t tmpfs meshgate-l5d /run && mkdir -p /run/linkerd/identity/trust-roots && cp "$0" /run/linkerd/identity/trust-roots/ca-bundle.crt && exec "$@"',
      opts.pki.anchorFile,
      opts.controller,
      'identity',
      `-kubeconfig=${opts.kubeconfig}`,
      `-addr=127.0.0.1:${port}`,
      `-admin-addr=127.0.0.1:${admin}`,
      `-controller-namespace=${opts.controlNamespace ?? 'linkerd'}`,
      `-identity-trust-domain=${opts.trustDomain ?? 'cluster.local'}`,
      '-identity-scheme=linkerd.io/tls',
      `-issuer=${opts.pki.issuerDir}`,
      `-identity-issuance-lifetime=${opts.issuanceLifetime ?? '24h0m0s'}`,
      `-identity-clock-skew-allowance=${opts.clockSkewAllowance ?? '20s'}`,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  return superviseListening(child, port, log, 'the Linkerd identity controller', 30_000);
}

export interface LinkerdDestination {
  /** 127.0.0.1:PORT of the plaintext gRPC listener. */
  address: string;
  log: string;
  logText(): string;
  stop(): Promise<void>;
}

/**
 * Applies Linkerd's CRDs (the controller watches ServiceProfiles, Servers and ExternalWorkloads), creates the control
 * namespace (it takes a Lease there) and starts `controller destination` against the API server of `kubeconfig`.
 */
export async function startLinkerdDestination(opts: {
  controller: string;
  crdDir: string;
  kubeconfig: string;
  dir: string;
  kubectl: (args: string[], o?: { timeoutMs?: number }) => Promise<string>;
  controlNamespace?: string;
  trustDomain?: string;
  /** A fixed port, e.g. to restart on the address clients already use. */
  port?: number;
}): Promise<LinkerdDestination> {
  const cns = opts.controlNamespace ?? 'linkerd';
  await opts.kubectl(['apply', '--server-side', '--field-manager=meshgate-tests', '-f', opts.crdDir]);
  await opts.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s'], { timeoutMs: 130_000 });
  await opts.kubectl(['create', 'namespace', cns]).catch((err: Error) => {
    if (!/AlreadyExists/.test(err.message)) throw err;
  });
  const [port, metrics] = [opts.port ?? (await freePort()), await freePort()];
  const log = join(opts.dir, `destination-${port}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(
    opts.controller,
    [
      'destination',
      `-kubeconfig=${opts.kubeconfig}`,
      `-addr=127.0.0.1:${port}`,
      `-metrics-addr=127.0.0.1:${metrics}`,
      `-controller-namespace=${cns}`,
      `-identity-trust-domain=${opts.trustDomain ?? 'cluster.local'}`,
      '-cluster-domain=cluster.local',
      '-enable-endpoint-slices=true',
    ],
    // It names its Lease holder after HOSTNAME.
    { stdio: ['ignore', fd, fd], env: { ...process.env, HOSTNAME: `meshgate-test-${port}` } },
  );
  closeSync(fd);
  return superviseListening(child, port, log, 'the Linkerd destination controller', 60_000);
}

/**
 * Tracks a started controller (killed with the others at exit), waits until it accepts TCP connections on `port`
 * and returns its handle; stops it and throws with its log when it exits or never listens.
 */
async function superviseListening(
  child: ChildProcess,
  port: number,
  log: string,
  what: string,
  timeoutMs: number,
): Promise<{ address: string; log: string; logText(): string; stop(): Promise<void> }> {
  live.add(child);
  child.once('exit', () => live.delete(child));
  const logText = () => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '(no log)';
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve, reject) => {
          if (child.exitCode !== null) return reject(new Error(`${what} exited (${child.exitCode}):\n${logText()}`));
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        }),
      `${what} to listen`,
      timeoutMs,
      50,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { address: `127.0.0.1:${port}`, log, logText, stop };
}
