import { X509Certificate as NodeCert, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { x509, type WebCryptoKey } from './x509.ts';
import { canSignCerts, csrSanExtension, isSelfSigned, labelOf, subjectKeyIdOf } from './certinfo.ts';
import { CertError, describeError } from './errors.ts';
import {
  type KeyType,
  assertKeyType,
  describeKey,
  generateKeyPair,
  parsePrivateKey,
  privateKeyToPkcs8Pem,
  randomSerialHex,
  toSigningKey,
} from './keys.ts';
import { certsToPem, derToPem, parseCertsPem, pemBlocks } from './pem.ts';
import { assertDnsName, dnsNameProblem, parseSpiffeId } from './spiffe.ts';
import { verifyChain } from './verify.ts';

export type SanType = 'uri' | 'dns';

/** A signed leaf without its private key (the result of signing a CSR). */
export interface SignedCert {
  /** The leaf alone. */
  certPem: string;
  /** Leaf then intermediates, never the root: what a TLS peer sends (SDS `certificate_chain`). */
  chainPem: string;
  /** The trust anchors (roots) that validate `chainPem`. */
  bundlePem: string;
  /** DER forms for APIs that want raw certificates (Linkerd `Certify`). */
  certDer: Uint8Array;
  intermediatesDer: Uint8Array[];
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  san: string;
  sanType: SanType;
}

/** A signed leaf with its key: everything a workload needs. */
export interface IssuedCert extends SignedCert {
  /** PKCS#8 PEM. Never log it. */
  keyPem: string;
  /** 'other' only for certificates from outside CAs (e.g. a Consul leaf with a P-384 key). */
  keyType: KeyType | 'other';
}

export interface SanInput {
  spiffe?: string;
  dns?: string;
}

export interface IssueOptions extends SanInput {
  keyType?: KeyType;
  /** Requested lifetime; clamped to the issuer chain's earliest NotAfter. Default 24h. */
  ttlMs?: number;
  /** Issue as if the clock read `now` (tests, e.g. an already expired cert). */
  now?: Date;
  /** Clock-skew allowance for NotBefore. Default: 60 s, at most a tenth of the TTL so short-lived certs stay short. */
  backdateMs?: number;
}

export interface SignCsrOptions {
  /** The SANs this caller may get: a list of exact values, or a predicate. */
  allowedSans: readonly string[] | ((san: string) => boolean);
  ttlMs?: number;
  now?: Date;
  backdateMs?: number;
  /** Public key types accepted in the CSR. Default: any EC P-256/P-384 or RSA >= 2048 key. */
  keyTypes?: readonly KeyType[];
}

export interface CreateRootOptions {
  commonName?: string;
  /** Adds the trust-domain URI SAN spiffe://<td> to the root (as Consul does). */
  trustDomain?: string;
  keyType?: KeyType;
  /** Default 10 years. */
  ttlMs?: number;
  now?: Date;
}

export interface LoadCaInput {
  /** The CA certificate; extra certificates after it are treated as its chain. */
  certPem: string;
  keyPem: string;
  /** Intermediates between this CA and the root, and the root itself. */
  chainPem?: string;
  /** Trust anchors to publish; default: the self-signed certificates of the chain (or this CA if it is a root). */
  bundlePem?: string;
  /** Names of the inputs, for error messages (file paths when loaded from disk). */
  source?: { cert?: string; key?: string; chain?: string };
  /** Check validity at this time instead of now. */
  now?: Date;
}

const HOUR = 3_600_000;
const DEFAULT_LEAF_TTL = 24 * HOUR;
const DEFAULT_ROOT_TTL = 10 * 365 * 24 * HOUR;
const MAX_BACKDATE = 60_000;
const OID_CN = '2.5.4.3';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';

export function resolveSan(input: SanInput, what = 'identity'): { type: SanType; value: string } {
  const has = (v: string | undefined) => v !== undefined && v !== '';
  if (has(input.spiffe) && has(input.dns)) {
    throw new CertError(
      'SAN_REQUIRED',
      `give exactly one ${what}: either a SPIFFE ID (--spiffe) or a DNS name (--dns), not both`,
    );
  }
  if (has(input.spiffe)) {
    parseSpiffeId(input.spiffe as string, { requirePath: true });
    return { type: 'uri', value: input.spiffe as string };
  }
  if (has(input.dns)) {
    assertDnsName(input.dns as string);
    return { type: 'dns', value: input.dns as string };
  }
  throw new CertError(
    'SAN_REQUIRED',
    `an ${what} is required: pass a SPIFFE ID (--spiffe spiffe://<td>/...) or a DNS name (--dns name)`,
  );
}

function backdate(ttlMs: number, requested?: number): number {
  if (requested !== undefined) return Math.max(0, requested);
  return Math.min(MAX_BACKDATE, Math.floor(ttlMs / 10));
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new CertError('DURATION_INVALID', `certificate lifetime must be a positive duration, got ${ttlMs} ms`);
  }
}

/** Subject and SAN criticality for a leaf: empty subject + critical SAN for URIs (RFC 5280 4.2.1.6), CN for DNS. */
function leafNaming(san: { type: SanType; value: string }): { subject: x509.Name | undefined; sanCritical: boolean } {
  if (san.type === 'dns' && san.value.length <= 64) {
    return { subject: new x509.Name([{ [OID_CN]: [san.value] }]), sanCritical: false };
  }
  return { subject: undefined, sanCritical: true };
}

function nodeCertOf(c: x509.X509Certificate): NodeCert {
  return new NodeCert(Buffer.from(c.rawData));
}

export class CertificateAuthority {
  /** The CA certificate that signs leaves. */
  readonly cert: NodeCert;
  /** Certificates between `cert` and the root (not the root), in order. */
  readonly intermediates: readonly NodeCert[];
  readonly roots: readonly NodeCert[];
  /** PEM of the trust anchors. */
  readonly bundlePem: string;
  readonly certPem: string;
  /** Earliest NotAfter along the issuer chain: no leaf outlives it. */
  readonly notAfter: Date;
  /** Set by loadOrCreate: whether this call generated a new root. */
  created = false;
  readonly #key: WebCryptoKey;
  readonly #signAlg: { name: string; hash: string };
  readonly #issuerName: x509.Name;
  readonly #aki: x509.AuthorityKeyIdentifierExtension;
  /** Certificates sent after a leaf: this CA (unless it is the root) and its intermediates. */
  readonly #leafIntermediates: NodeCert[];
  readonly #leafIntermediatesPem: string;

  private constructor(init: {
    cert: NodeCert;
    intermediates: NodeCert[];
    roots: NodeCert[];
    notAfter: Date;
    key: WebCryptoKey;
    signAlg: { name: string; hash: string };
    aki: x509.AuthorityKeyIdentifierExtension;
  }) {
    this.cert = init.cert;
    this.intermediates = init.intermediates;
    this.roots = init.roots;
    this.notAfter = init.notAfter;
    this.certPem = derToPem(init.cert.raw);
    this.bundlePem = certsToPem(init.roots);
    this.#key = init.key;
    this.#signAlg = init.signAlg;
    // Copy the issuer's subject bytes as parsed so the leaf's issuer matches it exactly (string types included).
    this.#issuerName = new x509.X509Certificate(init.cert.raw).subjectName;
    this.#aki = init.aki;
    this.#leafIntermediates = isSelfSigned(init.cert) ? [...init.intermediates] : [init.cert, ...init.intermediates];
    this.#leafIntermediatesPem = certsToPem(this.#leafIntermediates);
  }

  /** Load a root or intermediate CA from PEM text, checking that it can sign valid leaves. */
  static async load(input: LoadCaInput): Promise<CertificateAuthority> {
    const certWhat = input.source?.cert ?? 'CA certificate (certPem)';
    const keyWhat = input.source?.key ?? 'CA key (keyPem)';
    const chainWhat = input.source?.chain ?? 'CA chain (chainPem)';
    const now = input.now ?? new Date();

    let certs: NodeCert[];
    try {
      certs = parseCertsPem(input.certPem, certWhat);
    } catch (err) {
      throw new CertError('CA_CERT_INVALID', `${describeError(err)}`, { file: input.source?.cert });
    }
    const cert = certs[0];
    let extra: NodeCert[] = certs.slice(1);
    if (input.chainPem !== undefined && input.chainPem.trim() !== '') {
      try {
        extra = [...extra, ...parseCertsPem(input.chainPem, chainWhat)];
      } catch (err) {
        throw new CertError('CA_CHAIN_INVALID', describeError(err), { file: input.source?.chain });
      }
    }

    const keyObj = parsePrivateKey(input.keyPem, keyWhat);
    if (!cert.checkPrivateKey(keyObj)) {
      throw new CertError(
        'CA_KEY_MISMATCH',
        `${keyWhat} does not belong to the certificate in ${certWhat} ("${labelOf(cert)}"); use the key generated with that certificate`,
        { file: input.source?.key },
      );
    }
    if (!canSignCerts(cert)) {
      throw new CertError(
        'CA_NOT_CA',
        `${certWhat} ("${labelOf(cert)}") is not a CA certificate: it needs basicConstraints cA=true and keyUsage keyCertSign; use a root or intermediate CA certificate, not a leaf`,
        { file: input.source?.cert },
      );
    }
    if (now > cert.validToDate) {
      throw new CertError(
        'CA_EXPIRED',
        `${certWhat} ("${labelOf(cert)}") expired at ${cert.validToDate.toISOString()}; renew the CA certificate (or delete ca.pem and ca-key.pem of a local CA to create a new one)`,
        { file: input.source?.cert },
      );
    }
    if (now < cert.validFromDate) {
      throw new CertError(
        'CA_NOT_YET_VALID',
        `${certWhat} ("${labelOf(cert)}") is not valid before ${cert.validFromDate.toISOString()}; check the system clock`,
        { file: input.source?.cert },
      );
    }

    let roots: NodeCert[];
    if (input.bundlePem !== undefined && input.bundlePem.trim() !== '') {
      roots = parseCertsPem(input.bundlePem, 'CA trust bundle (bundlePem)');
    } else {
      roots = [cert, ...extra].filter(isSelfSigned);
      if (roots.length === 0) {
        throw new CertError(
          'CA_CHAIN_INVALID',
          `${certWhat} ("${labelOf(cert)}") is an intermediate but no root was given; pass the chain up to and including the root (chainPem / --ca-chain)`,
          { file: input.source?.cert },
        );
      }
    }
    const chainCheck = verifyChain(cert, extra, roots, { at: now });
    if (!chainCheck.ok) {
      throw new CertError(
        'CA_CHAIN_INVALID',
        `${certWhat} does not chain to its root: ${chainCheck.message}; fix the chain file`,
        {
          file: input.source?.chain ?? input.source?.cert,
        },
      );
    }
    const path = chainCheck.certs;
    const intermediates = path.slice(1).filter((c) => !isSelfSigned(c));
    const notAfter = new Date(Math.min(...path.map((c) => c.validToDate.getTime())));

    const { cryptoKey, signAlg } = await toSigningKey(keyObj, keyWhat);
    const ski = subjectKeyIdOf(cert);
    const aki = ski
      ? new x509.AuthorityKeyIdentifierExtension(ski)
      : await x509.AuthorityKeyIdentifierExtension.create(await publicCryptoKey(cert.publicKey));
    return new CertificateAuthority({ cert, intermediates, roots, notAfter, key: cryptoKey, signAlg, aki });
  }

  /** Load `certFile` + `keyFile` (+ `chainFile`) from disk; errors name the file. */
  static async loadFiles(files: {
    certFile: string;
    keyFile: string;
    chainFile?: string;
    now?: Date;
  }): Promise<CertificateAuthority> {
    const read = async (file: string, what: string) => {
      try {
        return await readFile(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          throw new CertError('CA_FILE_MISSING', `${what} file ${file} does not exist; check the path`, { file });
        throw new CertError(
          'CA_FILE_UNREADABLE',
          `cannot read ${what} file ${file} (${code ?? 'error'}); check its permissions`,
          { file },
        );
      }
    };
    const certPem = await read(files.certFile, 'CA certificate');
    const keyPem = await read(files.keyFile, 'CA key');
    const chainPem = files.chainFile ? await read(files.chainFile, 'CA chain') : undefined;
    return CertificateAuthority.load({
      certPem,
      keyPem,
      chainPem,
      now: files.now,
      source: { cert: files.certFile, key: files.keyFile, chain: files.chainFile },
    });
  }

  /**
   * The CA kept in `dir` (ca.pem + ca-key.pem), created as a new self-signed root when neither file exists.
   * Restarts therefore keep the same root, and every issued cert stays valid.
   */
  static async loadOrCreate(dir: string, opts: CreateRootOptions = {}): Promise<CertificateAuthority> {
    const certFile = join(dir, CA_CERT_FILE);
    const keyFile = join(dir, CA_KEY_FILE);
    const exists = async (f: string) =>
      access(f).then(
        () => true,
        () => false,
      );
    const [hasCert, hasKey] = await Promise.all([exists(certFile), exists(keyFile)]);
    if (hasCert && hasKey) return CertificateAuthority.loadFiles({ certFile, keyFile, now: opts.now });
    if (hasCert !== hasKey) {
      const missing = hasCert ? keyFile : certFile;
      const present = hasCert ? certFile : keyFile;
      throw new CertError(
        'CA_FILE_MISSING',
        `${missing} is missing but ${present} exists; restore the missing file, or remove ${present} to create a new CA (certificates issued by the old CA will stop validating)`,
        { file: missing },
      );
    }
    const root = await createRoot(opts);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // Write to temporary names then rename, key first: a crash never leaves a cert whose key is lost.
      const tmp = `.tmp-${process.pid}-${Date.now()}`;
      await writeFile(keyFile + tmp, root.keyPem, { mode: 0o600, flag: 'wx' });
      await rename(keyFile + tmp, keyFile);
      await writeFile(certFile + tmp, root.certPem, { mode: 0o644, flag: 'wx' });
      await rename(certFile + tmp, certFile);
    } catch (err) {
      throw new CertError(
        'IO_FAILED',
        `cannot write the CA to ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the directory is writable`,
        {
          file: dir,
        },
      );
    }
    const ca = await CertificateAuthority.load({
      certPem: root.certPem,
      keyPem: root.keyPem,
      source: { cert: certFile, key: keyFile },
      now: opts.now,
    });
    ca.created = true;
    return ca;
  }

  /** A fresh in-memory root CA (nothing written). */
  static async createInMemory(opts: CreateRootOptions = {}): Promise<CertificateAuthority> {
    const root = await createRoot(opts);
    return CertificateAuthority.load({ certPem: root.certPem, keyPem: root.keyPem, now: opts.now });
  }

  /** Issue a leaf with a fresh key for one SPIFFE ID or DNS name. */
  async issue(opts: IssueOptions): Promise<IssuedCert> {
    const san = resolveSan(opts);
    const keyType = assertKeyType(opts.keyType ?? 'ec-p256');
    const keys = await generateKeyPair(keyType);
    const signed = await this.#signLeaf(keys.publicKey, keyType === 'rsa-2048', san, opts);
    return { ...signed, keyPem: await privateKeyToPkcs8Pem(keys.privateKey), keyType };
  }

  /** Sign a CSR (PEM or DER) after checking its signature, its single SAN against `allowedSans`, and its key. */
  async signCsr(csr: string | Uint8Array, opts: SignCsrOptions): Promise<SignedCert> {
    let req: x509.Pkcs10CertificateRequest;
    try {
      if (typeof csr === 'string') {
        const block = pemBlocks(csr).find(
          (b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST',
        );
        if (!block) throw new Error('no "-----BEGIN CERTIFICATE REQUEST-----" block');
        req = new x509.Pkcs10CertificateRequest(block.der);
      } else {
        req = new x509.Pkcs10CertificateRequest(csr);
      }
    } catch (err) {
      throw new CertError(
        'CSR_INVALID',
        `the CSR cannot be parsed (${describeError(err)}); send a PKCS#10 request in PEM or DER`,
      );
    }
    let sigOk = false;
    try {
      sigOk = await req.verify();
    } catch {
      sigOk = false;
    }
    if (!sigOk)
      throw new CertError(
        'CSR_SIGNATURE_INVALID',
        'the CSR signature does not verify with its own public key; the request was altered or built wrongly, create it again',
      );

    const ext = csrSanExtension(req);
    const names = ext?.names.items ?? [];
    if (names.length === 0) {
      throw new CertError(
        'CSR_SAN_COUNT',
        'the CSR has no subject alternative name; put exactly one identity in it (a URI SAN with the SPIFFE ID, or a DNS SAN)',
      );
    }
    if (names.length > 1) {
      const list = names.map((n) => `${n.type}:${n.value}`).join(', ');
      throw new CertError(
        'CSR_SAN_COUNT',
        `the CSR has ${names.length} SANs (${list}); exactly one is allowed, request one identity per certificate`,
      );
    }
    const n = names[0];
    let san: { type: SanType; value: string };
    if (n.type === 'url') {
      try {
        parseSpiffeId(n.value, { requirePath: true });
      } catch (err) {
        throw new CertError('CSR_SAN_INVALID', `CSR SAN "${n.value}" is refused: ${describeError(err)}`);
      }
      san = { type: 'uri', value: n.value };
    } else if (n.type === 'dns') {
      const why = dnsNameProblem(n.value);
      if (why) throw new CertError('CSR_SAN_INVALID', `CSR SAN "${n.value}" is refused: not a valid DNS name (${why})`);
      san = { type: 'dns', value: n.value };
    } else {
      throw new CertError(
        'CSR_SAN_INVALID',
        `CSR SAN "${n.type}:${n.value}" is refused: only URI (SPIFFE) and DNS SANs can be signed`,
      );
    }
    const allowed =
      typeof opts.allowedSans === 'function' ? opts.allowedSans(san.value) : opts.allowedSans.includes(san.value);
    if (!allowed) {
      const hint =
        typeof opts.allowedSans === 'function'
          ? 'the policy predicate rejected it'
          : `allowed: ${opts.allowedSans.join(', ') || 'none'}`;
      throw new CertError(
        'CSR_SAN_NOT_ALLOWED',
        `CSR SAN "${san.value}" is not allowed for this caller (${hint}); request the identity you are authorized for`,
      );
    }

    let pub: KeyObject;
    try {
      pub = createPublicKey({ key: Buffer.from(req.publicKey.rawData), format: 'der', type: 'spki' });
    } catch {
      throw new CertError(
        'CSR_KEY_UNSUPPORTED',
        'the CSR public key cannot be parsed; use an EC P-256 or RSA 2048 key',
      );
    }
    const d = pub.asymmetricKeyDetails ?? {};
    const isEc = pub.asymmetricKeyType === 'ec' && (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1');
    const isRsa = pub.asymmetricKeyType === 'rsa' && (d.modulusLength ?? 0) >= 2048;
    const kt: KeyType | undefined =
      isEc && d.namedCurve === 'prime256v1' ? 'ec-p256' : isRsa && d.modulusLength === 2048 ? 'rsa-2048' : undefined;
    if (!(isEc || isRsa) || (opts.keyTypes && (!kt || !opts.keyTypes.includes(kt)))) {
      const want = opts.keyTypes ? opts.keyTypes.join(' or ') : 'EC P-256/P-384 or RSA >= 2048';
      throw new CertError(
        'CSR_KEY_UNSUPPORTED',
        `the CSR for "${san.value}" has a ${describeKey(pub)} key; this CA signs only ${want} keys`,
      );
    }
    return this.#signLeaf(req.publicKey, isRsa, san, opts);
  }

  /** Issue an intermediate CA signed by this CA (for deployments that keep the root offline, and for tests). */
  async issueIntermediate(opts: { commonName?: string; keyType?: KeyType; ttlMs?: number; now?: Date } = {}): Promise<{
    certPem: string;
    keyPem: string;
    /** The new intermediate, then this CA's chain up to (not including) the root. */
    chainPem: string;
    bundlePem: string;
  }> {
    const keyType = assertKeyType(opts.keyType ?? 'ec-p256');
    const ttlMs = opts.ttlMs ?? 365 * 24 * HOUR;
    checkTtl(ttlMs);
    const now = (opts.now ?? new Date()).getTime();
    const keys = await generateKeyPair(keyType);
    const notAfter = new Date(Math.min(now + ttlMs, this.notAfter.getTime()));
    const c = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: new x509.Name([{ [OID_CN]: [opts.commonName ?? 'meshgate intermediate CA'] }]),
      issuer: this.#issuerName,
      notBefore: new Date(now - MAX_BACKDATE),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.#key,
      signingAlgorithm: this.#signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        this.#aki,
      ],
    });
    const up = this.#leafIntermediates;
    const certPem = derToPem(new Uint8Array(c.rawData));
    return {
      certPem,
      keyPem: await privateKeyToPkcs8Pem(keys.privateKey),
      chainPem: certPem + certsToPem(up),
      bundlePem: this.bundlePem,
    };
  }

  async #signLeaf(
    publicKey: WebCryptoKey | x509.PublicKey,
    rsa: boolean,
    san: { type: SanType; value: string },
    opts: { ttlMs?: number; now?: Date; backdateMs?: number },
  ): Promise<SignedCert> {
    const ttlMs = opts.ttlMs ?? DEFAULT_LEAF_TTL;
    checkTtl(ttlMs);
    const now = (opts.now ?? new Date()).getTime();
    const notBefore = new Date(now - backdate(ttlMs, opts.backdateMs));
    const notAfter = new Date(Math.min(now + ttlMs, this.notAfter.getTime()));
    const naming = leafNaming(san);
    const usages = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
    const serialNumber = randomSerialHex();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: naming.subject,
      issuer: this.#issuerName,
      notBefore,
      notAfter,
      publicKey,
      signingKey: this.#key,
      signingAlgorithm: this.#signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usages, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension(
          [{ type: san.type === 'uri' ? 'url' : 'dns', value: san.value }],
          naming.sanCritical,
        ),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        this.#aki,
      ],
    });
    const leafNode = nodeCertOf(leaf);
    const certPem = derToPem(leafNode.raw);
    return {
      certPem,
      chainPem: certPem + this.#leafIntermediatesPem,
      bundlePem: this.bundlePem,
      certDer: new Uint8Array(leafNode.raw),
      intermediatesDer: this.#leafIntermediates.map((c) => new Uint8Array(c.raw)),
      serialNumber: leafNode.serialNumber,
      notBefore: leafNode.validFromDate,
      notAfter: leafNode.validToDate,
      san: san.value,
      sanType: san.type,
    };
  }
}

async function publicCryptoKey(key: KeyObject): Promise<WebCryptoKey> {
  const d = key.asymmetricKeyDetails ?? {};
  const alg =
    key.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: d.namedCurve === 'secp384r1' ? 'P-384' : 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return key.toCryptoKey(alg, true, ['verify']) as unknown as WebCryptoKey;
}

/** Generate a self-signed root; returns PEMs only (the caller decides where they live). */
export async function createRoot(opts: CreateRootOptions = {}): Promise<{ certPem: string; keyPem: string }> {
  const keyType = assertKeyType(opts.keyType ?? 'ec-p256');
  const ttlMs = opts.ttlMs ?? DEFAULT_ROOT_TTL;
  checkTtl(ttlMs);
  const now = (opts.now ?? new Date()).getTime();
  const keys = await generateKeyPair(keyType);
  const name = new x509.Name([{ [OID_CN]: [opts.commonName ?? 'meshgate local CA'] }, { '2.5.4.10': ['meshgate'] }]);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (opts.trustDomain) {
    parseSpiffeId(`spiffe://${opts.trustDomain}`);
    extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${opts.trustDomain}` }]));
  }
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name,
    notBefore: new Date(now - MAX_BACKDATE),
    notAfter: new Date(now + ttlMs),
    keys,
    extensions,
  });
  return { certPem: derToPem(new Uint8Array(cert.rawData)), keyPem: await privateKeyToPkcs8Pem(keys.privateKey) };
}
