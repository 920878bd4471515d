import { type X509Certificate as NodeCert, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { IssuedCert } from './ca.ts';
import { isSelfSigned, sansOf } from './certinfo.ts';
import { formatDuration } from './duration.ts';
import { CertError, describeError } from './errors.ts';
import { type KeyType, describeKey, keyTypeOf } from './keys.ts';
import { certsToPem, derToPem, parseCertsPem } from './pem.ts';
import { verifyChain } from './verify.ts';

/** What a certificate source hands back: the minimum a mesh CA client can build from its response. */
export interface CertMaterial {
  /** Leaf first, then intermediates (a trailing root is tolerated and dropped). */
  chainPem: string;
  keyPem: string;
  /** The trust anchors this source says the chain leads to. */
  bundlePem?: string;
}

export type TrustBundleInput = string | readonly string[];

export interface RotationOptions {
  mesh: string;
  identity: string;
  obtain: () => Promise<CertMaterial | IssuedCert>;
  /** Renew when this fraction of the certificate's own lifetime has passed. Default 0.5. */
  renewAt?: number;
  /** Renewal happens up to this fraction earlier than `renewAt` (spreads fleets out); also spreads retries. Default 0.1. */
  jitter?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Give up on one obtain() call after this long (the next retry follows the backoff). Default 30 s. */
  obtainTimeoutMs?: number;
  onRotate?: (cert: IssuedCert) => void;
  onError?: (err: CertError) => void;
  /** Clock in ms since the epoch (tests). Timers still run in real time. */
  now?: () => number;
  /** Reject certificates whose key is not of this type. */
  keyType?: KeyType;
  /** Reject certificates that do not carry this SAN (URI or DNS). */
  expectedSan?: string;
  /**
   * Anchors a new chain must verify against. A function is read at each renewal, so it can follow a TrustBundleSet.
   * Without it, the bundle returned by obtain() is used (and must be present).
   */
  trustBundle?: TrustBundleInput | (() => TrustBundleInput);
  /**
   * Measure the lifetime from when a certificate arrived rather than from its NotBefore, when that is earlier. For
   * CAs that backdate NotBefore by more than a short certificate lives at half-life (istiod: 2 min), where renewing
   * from NotBefore would fall in the past and renew in a loop.
   */
  measureFromReceipt?: boolean;
}

export interface RotationStatus {
  mesh: string;
  identity: string;
  notBefore?: Date;
  notAfter?: Date;
  nextRenewalAt?: Date;
  lastError?: string;
  lastErrorCode?: string;
  consecutiveFailures: number;
  /** False when there is no usable certificate, or when it is close enough to expiry that an operator must know. */
  ready: boolean;
  rotations: number;
  serialNumber?: string;
  san?: string;
}

export interface ExpiryGaugeSample {
  labels: { mesh: string; identity: string };
  /** NotAfter in seconds since the epoch. */
  value: number;
}

const MAX_TIMER = 2_147_483_647; // setTimeout fires at once beyond this (Node clamps to 1 ms)
const NOT_BEFORE_SKEW_MS = 60_000;

/**
 * Check certificate material before it replaces a working certificate. Throws CertError CERT_REJECTED naming what is
 * wrong; returns the normalised cert (PKCS#8 key, chain without the root).
 */
export function validateCertMaterial(
  material: unknown,
  opts: { keyType?: KeyType; expectedSan?: string; trustBundle?: TrustBundleInput; now?: number; what?: string } = {},
): IssuedCert {
  const what = opts.what ?? 'certificate';
  const reject = (why: string) => new CertError('CERT_REJECTED', `${what} rejected: ${why}`);
  const m = material as Partial<CertMaterial> | null | undefined;
  if (!m || typeof m.chainPem !== 'string' || typeof m.keyPem !== 'string') {
    throw reject('the source returned no chainPem/keyPem strings');
  }
  let certs: NodeCert[];
  try {
    certs = parseCertsPem(m.chainPem, 'certificate chain');
  } catch (err) {
    throw reject(`malformed certificate PEM (${describeError(err)})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: m.keyPem, format: 'pem' });
  } catch {
    throw reject('malformed private key PEM (cannot be parsed)');
  }
  const leaf = certs[0];
  const now = opts.now ?? Date.now();
  if (opts.keyType && keyTypeOf(key) !== opts.keyType) {
    throw reject(
      `wrong key type: got ${describeKey(key)}, requested ${opts.keyType === 'ec-p256' ? 'EC P-256' : 'RSA 2048'}`,
    );
  }
  if (!leaf.checkPrivateKey(key)) throw reject('the private key does not match the leaf certificate');
  if (now > leaf.validToDate.getTime()) throw reject(`the leaf expired at ${leaf.validToDate.toISOString()}`);
  if (now + NOT_BEFORE_SKEW_MS < leaf.validFromDate.getTime()) {
    throw reject(`the leaf is not valid before ${leaf.validFromDate.toISOString()}; check the CA's clock`);
  }
  const sans = sansOf(leaf);
  const san = sans.uris[0] ?? sans.dns[0];
  if (opts.expectedSan !== undefined && !sans.uris.includes(opts.expectedSan) && !sans.dns.includes(opts.expectedSan)) {
    throw reject(
      `SAN mismatch: expected "${opts.expectedSan}", got [${[...sans.uris, ...sans.dns].join(', ') || 'none'}]`,
    );
  }
  const bundle = opts.trustBundle ?? m.bundlePem;
  if (
    bundle === undefined ||
    (typeof bundle === 'string' && bundle.trim() === '') ||
    (Array.isArray(bundle) && bundle.length === 0)
  ) {
    throw reject('no trust bundle to verify it against; configure the mesh roots');
  }
  const rest = certs.slice(1);
  const result = verifyChain(leaf, rest, bundle as TrustBundleInput, {
    at: new Date(Math.max(now, leaf.validFromDate.getTime())),
  });
  if (!result.ok) throw reject(`${result.message} (${result.reason})`);
  const certPem = derToPem(leaf.raw);
  const intermediates = rest.filter((c) => !isSelfSigned(c));
  const bundlePem = typeof bundle === 'string' ? bundle : bundle.join('');
  return {
    certPem,
    chainPem: certPem + certsToPem(intermediates),
    bundlePem,
    certDer: new Uint8Array(leaf.raw),
    intermediatesDer: intermediates.map((c) => new Uint8Array(c.raw)),
    serialNumber: leaf.serialNumber,
    notBefore: leaf.validFromDate,
    notAfter: leaf.validToDate,
    san: san ?? '',
    sanType: sans.uris.length > 0 ? 'uri' : 'dns',
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyType: keyTypeOf(key) ?? 'other',
  };
}

/**
 * Keeps one identity's certificate fresh. Renewal is driven by the certificate's own lifetime (not a fixed
 * period), so short-lived certs rotate as often as they need to; failures back off exponentially with jitter, and
 * the previous certificate stays in service until a valid replacement arrives.
 */
export class RotationManager {
  readonly mesh: string;
  readonly identity: string;
  readonly #o: Required<Pick<RotationOptions, 'renewAt' | 'jitter' | 'minRetryMs' | 'maxRetryMs' | 'obtainTimeoutMs'>> &
    RotationOptions;
  readonly #now: () => number;
  #current: IssuedCert | undefined;
  #timer: NodeJS.Timeout | undefined;
  #nextAt: number | undefined;
  #failures = 0;
  #unchanged = 0;
  #lastError: CertError | undefined;
  #rotations = 0;
  /** When the certificate in service arrived. */
  #receivedAt = 0;
  #inFlight: Promise<boolean> | undefined;
  #stopped = false;
  #started = false;

  constructor(opts: RotationOptions) {
    const renewAt = opts.renewAt ?? 0.5;
    const jitter = opts.jitter ?? 0.1;
    const minRetryMs = opts.minRetryMs ?? 1000;
    const maxRetryMs = opts.maxRetryMs ?? 60_000;
    if (!(renewAt > 0 && renewAt < 1))
      throw new CertError('USAGE', `renewAt must be a fraction between 0 and 1 (exclusive), got ${renewAt}`);
    if (!(jitter >= 0 && jitter < 1)) throw new CertError('USAGE', `jitter must be between 0 and 1, got ${jitter}`);
    if (!(minRetryMs > 0 && maxRetryMs >= minRetryMs)) {
      throw new CertError(
        'USAGE',
        `retry delays must satisfy 0 < minRetryMs <= maxRetryMs, got ${minRetryMs} and ${maxRetryMs}`,
      );
    }
    this.mesh = opts.mesh;
    this.identity = opts.identity;
    this.#o = { ...opts, renewAt, jitter, minRetryMs, maxRetryMs, obtainTimeoutMs: opts.obtainTimeoutMs ?? 30_000 };
    this.#now = opts.now ?? Date.now;
  }

  /** Obtain the first certificate now; resolves after that attempt (a failure schedules retries, it does not throw). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    await this.renewNow();
  }

  /** Renew at once (e.g. the roots changed). Resolves true when a new certificate was accepted. */
  renewNow(): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    if (!this.#inFlight) {
      this.#clearTimer();
      this.#inFlight = this.#attempt().finally(() => {
        this.#inFlight = undefined;
      });
    }
    return this.#inFlight;
  }

  stop(): void {
    this.#stopped = true;
    this.#started = false;
    this.#clearTimer();
    this.#nextAt = undefined;
  }

  /** The certificate in service, if any. */
  current(): IssuedCert | undefined {
    return this.#current;
  }

  status(): RotationStatus {
    const c = this.#current;
    const now = this.#now();
    let ready = false;
    if (c) {
      const life = c.notAfter.getTime() - c.notBefore.getTime();
      const left = c.notAfter.getTime() - now;
      // Two retries' worth of time, so an operator hears about it while a retry can still save the day.
      const margin = Math.max(0.1 * life, 2 * this.#retryBase(this.#failures));
      ready = left > margin && now + NOT_BEFORE_SKEW_MS >= c.notBefore.getTime();
    }
    return {
      mesh: this.mesh,
      identity: this.identity,
      notBefore: c?.notBefore,
      notAfter: c?.notAfter,
      nextRenewalAt: this.#nextAt === undefined ? undefined : new Date(this.#nextAt),
      lastError: this.#lastError?.message,
      lastErrorCode: this.#lastError?.code,
      consecutiveFailures: this.#failures,
      ready,
      rotations: this.#rotations,
      serialNumber: c?.serialNumber,
      san: c?.san,
    };
  }

  /** Data for `meshgate_cert_expiry_timestamp_seconds{mesh,identity}`. */
  expiryGauge(): ExpiryGaugeSample[] {
    const c = this.#current;
    if (!c) return [];
    return [{ labels: { mesh: this.mesh, identity: this.identity }, value: c.notAfter.getTime() / 1000 }];
  }

  static expiryGauges(managers: Iterable<RotationManager>): ExpiryGaugeSample[] {
    return [...managers].flatMap((m) => m.expiryGauge());
  }

  async #attempt(): Promise<boolean> {
    let material: CertMaterial | IssuedCert;
    try {
      material = await this.#obtainWithTimeout();
    } catch (err) {
      if (this.#stopped) return false;
      const e =
        err instanceof CertError
          ? err
          : new CertError(
              'OBTAIN_FAILED',
              `obtaining a certificate for mesh "${this.mesh}" identity "${this.identity}" failed: ${describeError(err)}`,
              {
                cause: err,
              },
            );
      this.#fail(e);
      return false;
    }
    if (this.#stopped) return false;
    let cert: IssuedCert;
    try {
      cert = validateCertMaterial(material, {
        keyType: this.#o.keyType,
        expectedSan: this.#o.expectedSan,
        trustBundle: this.#bundle(),
        now: this.#now(),
        what: `new certificate for mesh "${this.mesh}" identity "${this.identity}"`,
      });
    } catch (err) {
      this.#fail(err instanceof CertError ? err : new CertError('CERT_REJECTED', describeError(err)));
      return false;
    }
    const prev = this.#current;
    if (
      prev &&
      prev.certDer.length === cert.certDer.length &&
      Buffer.from(prev.certDer).equals(Buffer.from(cert.certDer))
    ) {
      // The source handed back the certificate we already have (a caching agent): not a failure, but try again later.
      this.#unchanged++;
      this.#failures = 0;
      this.#schedule(Math.max(this.#renewalTime(cert), this.#now() + this.#retryDelay(this.#unchanged)));
      return false;
    }
    this.#current = cert;
    this.#receivedAt = this.#now();
    this.#failures = 0;
    this.#unchanged = 0;
    this.#lastError = undefined;
    this.#rotations++;
    this.#schedule(this.#renewalTime(cert));
    try {
      this.#o.onRotate?.(cert);
    } catch {
      // A throwing listener must not stop rotation; it will see the next cert anyway.
    }
    return true;
  }

  #fail(err: CertError): void {
    this.#failures++;
    const delay = this.#retryDelay(this.#failures);
    const kept = this.#current
      ? `; keeping the previous certificate (valid until ${this.#current.notAfter.toISOString()})`
      : '';
    const e = new CertError(err.code, `${err.message}${kept}; retrying in ${formatDuration(delay)}`, {
      cause: err.cause,
    });
    this.#lastError = e;
    this.#schedule(this.#now() + delay);
    try {
      this.#o.onError?.(e);
    } catch {
      // Listener errors are not ours to surface.
    }
  }

  #bundle(): TrustBundleInput | undefined {
    const b = this.#o.trustBundle;
    return typeof b === 'function' ? b() : b;
  }

  #renewalTime(cert: IssuedCert): number {
    const nb = cert.notBefore.getTime();
    const start = this.#o.measureFromReceipt ? Math.max(nb, this.#receivedAt) : nb;
    const life = cert.notAfter.getTime() - start;
    // Jitter only pulls renewal earlier: renewing later than configured is never what an operator wants.
    const fraction = this.#o.renewAt * (1 - this.#o.jitter * Math.random());
    return start + life * fraction;
  }

  #retryBase(failures: number): number {
    return Math.min(this.#o.maxRetryMs, this.#o.minRetryMs * 2 ** Math.max(0, failures - 1));
  }

  #retryDelay(failures: number): number {
    const base = this.#retryBase(failures);
    return Math.max(1, Math.round(base * (1 + this.#o.jitter * (2 * Math.random() - 1))));
  }

  #obtainWithTimeout(): Promise<CertMaterial | IssuedCert> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(
          new CertError(
            'OBTAIN_TIMEOUT',
            `obtaining a certificate for mesh "${this.mesh}" identity "${this.identity}" took longer than ${formatDuration(this.#o.obtainTimeoutMs)}`,
          ),
        );
      }, this.#o.obtainTimeoutMs);
      t.unref();
      let p: Promise<CertMaterial | IssuedCert>;
      try {
        p = Promise.resolve(this.#o.obtain());
      } catch (err) {
        clearTimeout(t);
        reject(err);
        return;
      }
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (err) => {
          clearTimeout(t);
          reject(err);
        },
      );
    });
  }

  #schedule(at: number): void {
    if (this.#stopped) return;
    this.#clearTimer();
    this.#nextAt = at;
    this.#arm();
  }

  #arm(): void {
    if (this.#nextAt === undefined || this.#stopped) return;
    const delay = Math.max(0, this.#nextAt - this.#now());
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        // Long delays are split into chunks (timers overflow past ~24.8 days): re-check before acting.
        if (this.#nextAt !== undefined && this.#nextAt - this.#now() > 5) {
          this.#arm();
          return;
        }
        void this.renewNow();
      },
      Math.min(delay, MAX_TIMER),
    );
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
