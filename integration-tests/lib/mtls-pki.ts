// Certificates for the mTLS end-to-end suites, made with @meshgate/certs: CAs, leaves written as
// cert.pem/key.pem/ca.pem in a directory, and a short-lived identity kept fresh on disk by a
// RotationManager, the way a node agent (or cert-manager's CSI driver) hands certs to a workload.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority, RotationManager } from '@meshgate/certs';
import type { IssuedCert } from '@meshgate/certs';

export interface LeafFiles {
  dir: string;
  cert: string;
  key: string;
  ca: string;
}

export function leafFiles(dir: string): LeafFiles {
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'ca.pem') };
}

/** Write + rename, so a reader sees the old file or the new one, never half of one. */
function replaceFile(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

/**
 * Writes a leaf into dir, each file replaced atomically, the key then the certificate right after it.
 * A reader that opens the two files separately can still straddle the two renames (microseconds);
 * the e2e suite's todo test shows what meshgate does when a pair is torn for longer.
 */
export function writeLeaf(dir: string, cert: Pick<IssuedCert, 'chainPem' | 'keyPem' | 'bundlePem'>): LeafFiles {
  mkdirSync(dir, { recursive: true });
  const f = leafFiles(dir);
  replaceFile(f.ca, cert.bundlePem, 0o644);
  replaceFile(f.key, cert.keyPem, 0o600);
  replaceFile(f.cert, cert.chainPem, 0o644);
  return f;
}

export async function newCa(commonName: string): Promise<CertificateAuthority> {
  return CertificateAuthority.createInMemory({ commonName, trustDomain: 'example.org' });
}

/** Issues a SPIFFE leaf from ca into dir (cert.pem, key.pem, ca.pem). */
export async function issueTo(
  ca: CertificateAuthority,
  dir: string,
  spiffe: string,
  ttlMs = 3_600_000,
): Promise<IssuedCert & { files: LeafFiles }> {
  const cert = await ca.issue({ spiffe, ttlMs });
  return { ...cert, files: writeLeaf(dir, cert) };
}

export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}

/**
 * One identity issued with a short TTL and renewed by a RotationManager (renewAt 0.5); each
 * accepted certificate is written to dir atomically. `serials` lists every certificate written.
 */
export class RotatingIdentity {
  readonly files: LeafFiles;
  readonly serials: string[] = [];
  readonly errors: string[] = [];
  readonly manager: RotationManager;

  constructor(ca: CertificateAuthority, dir: string, spiffe: string, ttlMs: number) {
    this.files = leafFiles(dir);
    this.manager = new RotationManager({
      mesh: 'e2e',
      identity: spiffe,
      renewAt: 0.5,
      expectedSan: spiffe,
      trustBundle: ca.bundlePem,
      obtain: () => ca.issue({ spiffe, ttlMs }),
      onRotate: (cert) => {
        writeLeaf(dir, cert);
        this.serials.push(cert.serialNumber);
      },
      onError: (err) => {
        this.errors.push(err.message);
      },
    });
  }

  async start(): Promise<void> {
    await this.manager.start();
    if (this.serials.length === 0) throw new Error(`the first certificate was not issued: ${this.errors.join('; ')}`);
  }

  /** Renewals after the first certificate. */
  get rotations(): number {
    return Math.max(0, this.serials.length - 1);
  }

  stop(): void {
    this.manager.stop();
  }
}
