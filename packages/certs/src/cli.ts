import { X509Certificate as NodeCert, createPublicKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { x509 } from './x509.ts';
import { CA_CERT_FILE, CA_KEY_FILE, CertificateAuthority } from './ca.ts';
import { canSignCerts, csrSanExtension, isSelfSigned, labelOf, safeVerify, sansOf } from './certinfo.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { CertError } from './errors.ts';
import { assertKeyType, describeKey } from './keys.ts';
import { pemBlocks, type PemBlock } from './pem.ts';

/**
 * The `meshgate certs ...` commands as functions: each returns the text to print and throws CertError (with a fix in
 * the message) on bad input. The CLI package only parses flags and prints.
 */

export const DEFAULT_CA_DIR = './meshgate-ca';

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  // rename() over an existing file also resets its mode; writeFile alone would keep a too-open old mode.
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, data, { mode, flag: 'wx' });
  await rename(tmp, file);
}

async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (err) {
    throw new CertError(
      'IO_FAILED',
      `cannot create directory ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); choose a writable --out`,
      { file: dir },
    );
  }
}

export async function certsInitCa(opts: {
  out: string;
  trustDomain?: string;
  keyType?: string;
  commonName?: string;
}): Promise<string> {
  if (!opts.out) throw new CertError('USAGE', 'certs init-ca needs --out <dir> (where ca.pem and ca-key.pem are kept)');
  const ca = await CertificateAuthority.loadOrCreate(opts.out, {
    trustDomain: opts.trustDomain,
    keyType: opts.keyType === undefined ? undefined : assertKeyType(opts.keyType, '--key-type'),
    commonName: opts.commonName,
  });
  const dir = resolve(opts.out);
  const head = ca.created
    ? `Created a new root CA in ${dir}: ${CA_CERT_FILE} (certificate, share it as the trust bundle) and ${CA_KEY_FILE} (private key, mode 0600, keep it secret).`
    : `A CA already exists in ${dir}; kept it (remove ${CA_CERT_FILE} and ${CA_KEY_FILE} to start over).`;
  return [
    head,
    `  Subject:  ${labelOf(ca.cert)}`,
    `  Key:      ${describeKey(ca.cert.publicKey)}`,
    `  Valid to: ${ca.notAfter.toISOString()}`,
    '',
  ].join('\n');
}

export interface CertsIssueOptions {
  spiffe?: string;
  dns?: string;
  /** CA directory (ca.pem + ca-key.pem); default ./meshgate-ca, created when missing. */
  ca?: string;
  keyType?: string;
  /** Lifetime such as 90s, 15m, 24h, 7d. Default 24h. */
  ttl?: string;
  out: string;
  /** Issue as of this time (tests). */
  now?: Date;
}

export async function certsIssue(opts: CertsIssueOptions): Promise<string> {
  if (!opts.out)
    throw new CertError('USAGE', 'certs issue needs --out <dir> (cert.pem, key.pem and ca.pem are written there)');
  if (!opts.spiffe && !opts.dns) {
    throw new CertError(
      'SAN_REQUIRED',
      'certs issue needs an identity: --spiffe spiffe://<trust-domain>/<path> or --dns <name>',
    );
  }
  const keyType = assertKeyType(opts.keyType ?? 'ec-p256', '--key-type');
  const ttlMs = parseDuration(opts.ttl ?? '24h', '--ttl');
  const caDir = opts.ca ?? DEFAULT_CA_DIR;
  const ca = await CertificateAuthority.loadOrCreate(caDir, { now: opts.now });
  const issued = await ca.issue({ spiffe: opts.spiffe, dns: opts.dns, keyType, ttlMs, now: opts.now });
  await ensureDir(opts.out);
  const out = resolve(opts.out);
  try {
    await writeAtomic(join(out, 'cert.pem'), issued.chainPem, 0o644);
    await writeAtomic(join(out, 'key.pem'), issued.keyPem, 0o600);
    await writeAtomic(join(out, 'ca.pem'), issued.bundlePem, 0o644);
  } catch (err) {
    throw new CertError(
      'IO_FAILED',
      `cannot write certificates to ${out} (${(err as NodeJS.ErrnoException).code ?? 'error'}); choose a writable --out`,
      { file: out },
    );
  }
  const lines = [
    ca.created
      ? `No CA found in ${resolve(caDir)}: created a new root CA there (ca.pem, ca-key.pem).`
      : `Using the CA in ${resolve(caDir)}.`,
    `Issued ${issued.sanType === 'uri' ? 'URI' : 'DNS'} SAN ${issued.san} (${describeKey(createPublicKey(issued.keyPem))}), valid ${issued.notBefore.toISOString()} to ${issued.notAfter.toISOString()}${
      issued.notAfter.getTime() - (opts.now ?? new Date()).getTime() < ttlMs - 1000
        ? ' (shortened to the CA chain expiry)'
        : ''
    }.`,
    `  ${join(out, 'cert.pem')}  certificate chain (leaf first)`,
    `  ${join(out, 'key.pem')}   private key (PKCS#8, mode 0600)`,
    `  ${join(out, 'ca.pem')}    trust bundle`,
    '',
  ];
  return lines.join('\n');
}

function oneLine(dn: string): string {
  return dn ? dn.replace(/\n/g, ', ') : '(empty)';
}

function describeValidity(from: Date, to: Date, now: Date): string {
  const state =
    now > to
      ? `EXPIRED ${formatDuration(now.getTime() - to.getTime())} ago`
      : now < from
        ? `NOT YET VALID (starts in ${formatDuration(from.getTime() - now.getTime())})`
        : `expires in ${formatDuration(to.getTime() - now.getTime())}`;
  return `${from.toISOString()} to ${to.toISOString()} (${state})`;
}

function describeCert(c: NodeCert, n: number, total: number, now: Date): string[] {
  const s = sansOf(c);
  const sans = [...s.uris.map((u) => `URI:${u}`), ...s.dns.map((d) => `DNS:${d}`), ...s.other];
  return [
    `Certificate ${n} of ${total}`,
    `  Subject:  ${oneLine(c.subject)}`,
    `  SANs:     ${sans.length ? sans.join(', ') : '(none)'}`,
    `  Key:      ${describeKey(c.publicKey)}`,
    `  Validity: ${describeValidity(c.validFromDate, c.validToDate, now)}`,
    `  Issuer:   ${oneLine(c.issuer)}${isSelfSigned(c) ? ' (self-signed)' : ''}`,
    `  Serial:   ${c.serialNumber}`,
    `  CA:       ${c.ca ? (canSignCerts(c) ? 'yes' : 'yes, but keyUsage lacks keyCertSign') : 'no'}`,
    `  SHA-256:  ${c.fingerprint256}`,
  ];
}

function describeCsr(der: Buffer, n: number): string[] {
  const req = new x509.Pkcs10CertificateRequest(der);
  const ext = csrSanExtension(req);
  const sans = (ext?.names.items ?? []).map(
    (i) => `${i.type === 'url' ? 'URI' : i.type === 'dns' ? 'DNS' : i.type}:${i.value}`,
  );
  const key = createPublicKey({ key: Buffer.from(req.publicKey.rawData), format: 'der', type: 'spki' });
  return [
    `Certificate request ${n}`,
    `  Subject:  ${req.subject || '(empty)'}`,
    `  SANs:     ${sans.join(', ') || '(none)'}`,
    `  Key:      ${describeKey(key)}`,
  ];
}

/** Printable description of a PEM (or DER) file: certificates, chain order, CSRs. Private keys are never shown. */
export async function certsInspect(file: string, opts: { now?: Date } = {}): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CertError(
      code === 'ENOENT' ? 'CA_FILE_MISSING' : 'IO_FAILED',
      `cannot read ${file} (${code ?? 'error'}); check the path`,
      { file },
    );
  }
  const now = opts.now ?? new Date();
  let blocks: PemBlock[];
  const text = data.toString('latin1');
  try {
    blocks = pemBlocks(text);
  } catch (err) {
    throw new CertError('PEM_INVALID', `${file}: ${(err as Error).message}`, { file });
  }
  if (blocks.length === 0) {
    // DER input: a certificate or a CSR (Linkerd's Certify speaks DER).
    try {
      blocks = [{ label: 'CERTIFICATE', der: new NodeCert(data).raw }];
    } catch {
      try {
        new x509.Pkcs10CertificateRequest(data);
        blocks = [{ label: 'CERTIFICATE REQUEST', der: data }];
      } catch {
        throw new CertError(
          'PEM_INVALID',
          `${file} holds no PEM block and is not a DER certificate or CSR; pass a .pem/.crt/.csr file`,
          { file },
        );
      }
    }
  }
  const certs: NodeCert[] = [];
  const out: string[] = [`File: ${resolve(file)}`];
  let keys = 0;
  let csrs = 0;
  for (const b of blocks) {
    if (b.label === 'CERTIFICATE') {
      try {
        certs.push(new NodeCert(b.der));
      } catch {
        throw new CertError(
          'PEM_INVALID',
          `${file}: certificate #${certs.length + 1} cannot be parsed; the file is corrupt or truncated`,
          { file },
        );
      }
    } else if (b.label.endsWith('PRIVATE KEY')) {
      keys++;
    } else if (b.label.endsWith('CERTIFICATE REQUEST')) {
      csrs++;
      try {
        out.push(...describeCsr(b.der, csrs));
      } catch {
        throw new CertError('CSR_INVALID', `${file}: certificate request #${csrs} cannot be parsed`, { file });
      }
    }
  }
  certs.forEach((c, i) => out.push(...describeCert(c, i + 1, certs.length, now)));
  if (certs.length > 1) {
    out.push('Chain order:');
    for (let i = 0; i < certs.length; i++) {
      const c = certs[i];
      const next = certs[i + 1];
      if (!next) {
        out.push(
          `  ${i + 1}: ${isSelfSigned(c) ? 'self-signed root, end of chain' : `last certificate; its issuer "${oneLine(c.issuer)}" is not in this file (expected in the trust bundle)`}`,
        );
      } else if (c.issuer === next.subject && safeVerify(c, next)) {
        out.push(
          `  ${i + 1} -> ${i + 2}: issued by the next certificate (signature verifies)${canSignCerts(next) ? '' : ', but the issuer is NOT a CA'}`,
        );
      } else if (c.issuer === next.subject) {
        out.push(
          `  ${i + 1} -> ${i + 2}: NOT issued by the next certificate (names match but the signature does not verify)`,
        );
      } else {
        out.push(
          `  ${i + 1} -> ${i + 2}: NOT issued by the next certificate (issuer "${oneLine(c.issuer)}" != next subject "${oneLine(next.subject)}"); fix the order`,
        );
      }
    }
  }
  if (keys > 0) out.push(`(${keys} private key block${keys > 1 ? 's' : ''} in the file, not shown)`);
  if (certs.length === 0 && csrs === 0) out.push('No certificates or certificate requests found.');
  return `${out.join('\n')}\n`;
}
