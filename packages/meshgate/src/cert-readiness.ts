// Readiness of the identity certificates meshgate serves. A certificate is parsed once, when it
// first appears or changes; what is kept is the moment it becomes "near expiry", so /readyz
// compares two numbers and still turns unready on time without any event.
import { X509Certificate } from 'node:crypto';
import type { Identity } from '@meshgate/model';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export interface CertStatus {
  identity: string;
  mesh: string;
  notAfter: string;
  nearExpiry: boolean;
}

interface Entry {
  readonly chainPem: string;
  /** Undefined when the certificate does not parse (logged once per change). */
  readonly cert?: { readonly mesh: string; readonly notAfterMs: number; readonly nearExpiryAtMs: number };
}

export interface CertReadinessOptions {
  /** A certificate with less than this fraction of its lifetime left is near expiry. */
  nearExpiryFraction: number;
  log: Logger;
  metrics?: Metrics;
  now?: () => number;
}

export class CertReadiness {
  private readonly o: CertReadinessOptions;
  private readonly now: () => number;
  private entries = new Map<string, Entry>();

  constructor(o: CertReadinessOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  /** Takes the identities of an accepted model; parses only the certificates that are new or changed. */
  update(identities: readonly Identity[]): void {
    const next = new Map<string, Entry>();
    let changed = identities.length !== this.entries.size;
    for (const id of identities) {
      const prev = this.entries.get(id.name);
      if (prev && prev.chainPem === id.certChainPem) {
        next.set(id.name, prev);
        continue;
      }
      changed = true;
      next.set(id.name, this.parse(id));
    }
    this.entries = next;
    if (!changed || !this.o.metrics) return;
    this.o.metrics.certExpiry.reset();
    for (const [name, e] of next)
      if (e.cert)
        this.o.metrics.certExpiry.set({ mesh: e.cert.mesh, identity: name }, Math.floor(e.cert.notAfterMs / 1000));
  }

  /** Each parsed certificate with its expiry and whether it is near expiry now. */
  status(): CertStatus[] {
    const now = this.now();
    const out: CertStatus[] = [];
    for (const [identity, e] of this.entries)
      if (e.cert)
        out.push({
          identity,
          mesh: e.cert.mesh,
          notAfter: new Date(e.cert.notAfterMs).toISOString(),
          nearExpiry: now > e.cert.nearExpiryAtMs,
        });
    return out;
  }

  private parse(id: Identity): Entry {
    try {
      const x = new X509Certificate(id.certChainPem);
      const notAfterMs = Date.parse(x.validTo);
      const lifetime = notAfterMs - Date.parse(x.validFrom);
      const mesh = id.name.startsWith('mesh/') ? id.name.split('/')[1] : (id.source ?? 'unknown');
      return {
        chainPem: id.certChainPem,
        cert: { mesh, notAfterMs, nearExpiryAtMs: notAfterMs - lifetime * this.o.nearExpiryFraction },
      };
    } catch (err) {
      this.o.log.warn({ identity: id.name, err: (err as Error).message }, 'identity certificate does not parse');
      return { chainPem: id.certChainPem };
    }
  }
}
