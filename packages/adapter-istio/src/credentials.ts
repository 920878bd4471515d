// DestinationRule `credentialName`: the Kubernetes Secret in the gateway's namespace that holds the client
// certificate (MUTUAL) and the CA that verifies the upstream (SIMPLE and MUTUAL), read with istiod's key rules
// (pilot/pkg/credentials/kube: `cert`/`key` before `tls.crt`/`tls.key`; the CA from the companion Secret
// `<name>-cacert` when it exists, else from the Secret itself, `cacert` before `ca.crt`). Pure: the caller hands in
// the Secrets it watches. The PEM text never reaches a message.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Identity, TrustBundle } from '@meshgate/model';

/** A Secret as the watcher keeps it: only the keys below, decoded, nothing else. */
export interface IstioSecret {
  namespace: string;
  name: string;
  data: Readonly<Record<string, string>>;
}

/** The Secret keys a credential is read from; every other key of a Secret is dropped on arrival. */
export const CREDENTIAL_KEYS = ['cert', 'key', 'cacert', 'tls.crt', 'tls.key', 'ca.crt'] as const;
/** Istio's suffix of the Secret that holds only the CA of a credential. */
export const CA_SECRET_SUFFIX = '-cacert';

/** Model names: `/` cannot occur in a Secret's name, so the CA's name never meets another credential's. */
export const credentialIdentityName = (namespace: string, name: string) => `istio/dr/${namespace}/${name}`;
export const credentialBundleName = (namespace: string, name: string) => `istio/dr/${namespace}/${name}/ca`;

export interface ResolvedCredential {
  identity?: Identity;
  trustBundle?: TrustBundle;
  /** Why there is no identity (MUTUAL needs one). */
  certProblem?: string;
  /** Why there is no CA (SIMPLE and MUTUAL need one). */
  caProblem?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(pem: string): X509Certificate[] | undefined {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) return undefined;
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch {
    return undefined;
  }
}

const has = (d: Readonly<Record<string, string>>, ...keys: string[]) => keys.every((k) => k in d);
const filled = (d: Readonly<Record<string, string>>, ...keys: string[]) => keys.every((k) => !!d[k]?.trim());

function clientCert(s: IstioSecret, source: string): { identity?: Identity; problem?: string } {
  const where = `Secret ${s.namespace}/${s.name}`;
  const pair = filled(s.data, 'cert', 'key')
    ? (['cert', 'key'] as const)
    : filled(s.data, 'tls.crt', 'tls.key')
      ? (['tls.crt', 'tls.key'] as const)
      : undefined;
  if (!pair) {
    const empty = has(s.data, 'cert', 'key') || has(s.data, 'tls.crt', 'tls.key');
    return {
      problem: empty
        ? `${where} has its certificate keys but they are empty`
        : `${where} has no client certificate: put it under tls.crt and tls.key (or cert and key)`,
    };
  }
  const [certKey, keyKey] = pair;
  const chain = certificates(s.data[certKey]);
  if (!chain) return { problem: `${where}: ${certKey} is not a PEM certificate` };
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(s.data[keyKey]);
  } catch {
    return { problem: `${where}: ${keyKey} is not a PEM private key` };
  }
  if (!chain[0].checkPrivateKey(key))
    return { problem: `${where}: ${keyKey} is not the key of the certificate in ${certKey}` };
  return {
    identity: {
      name: credentialIdentityName(s.namespace, s.name),
      certChainPem: s.data[certKey],
      privateKeyPem: s.data[keyKey],
      source,
    },
  };
}

function caOf(s: IstioSecret): { pem?: string; key?: string; problem?: string } {
  const key = filled(s.data, 'cacert') ? 'cacert' : filled(s.data, 'ca.crt') ? 'ca.crt' : undefined;
  if (!key) return {};
  return certificates(s.data[key])
    ? { pem: s.data[key], key }
    : { problem: `Secret ${s.namespace}/${s.name}: ${key} is not a PEM certificate` };
}

/**
 * The model parts behind `credentialName` in `namespace`. `secrets` is keyed `namespace/name`.
 */
export function resolveCredential(
  credentialName: string,
  namespace: string,
  secrets: ReadonlyMap<string, IstioSecret>,
  source = 'kubernetes',
): ResolvedCredential {
  const own = secrets.get(`${namespace}/${credentialName}`);
  const companion = secrets.get(`${namespace}/${credentialName}${CA_SECRET_SUFFIX}`);
  const out: ResolvedCredential = {};
  if (own) {
    const c = clientCert(own, source);
    if (c.identity) out.identity = c.identity;
    else out.certProblem = c.problem;
  } else out.certProblem = `Secret ${namespace}/${credentialName} does not exist (or meshgate may not read it)`;

  const ca = companion ? caOf(companion) : own ? caOf(own) : {};
  if (ca.pem) out.trustBundle = { name: credentialBundleName(namespace, credentialName), caPems: [ca.pem], source };
  else
    out.caProblem =
      ca.problem ??
      (own || companion
        ? `no CA certificate in Secret ${namespace}/${companion ? `${credentialName}${CA_SECRET_SUFFIX}` : credentialName}: put it under ca.crt (or cacert), or in a Secret ${credentialName}${CA_SECRET_SUFFIX}`
        : `neither Secret ${namespace}/${credentialName} nor ${namespace}/${credentialName}${CA_SECRET_SUFFIX} exists (or meshgate may not read them)`);
  return out;
}
