import type { X509Certificate as NodeCert } from 'node:crypto';
import { CertError, describeError } from './errors.ts';
import { derToPem, parseCertsPem } from './pem.ts';

interface Entry {
  mesh: string;
  trustDomain: string;
  certs: NodeCert[];
}

/**
 * Trust anchors per (mesh, trust domain). The merged view is deduplicated by DER fingerprint and ordered by mesh,
 * then trust domain, then the order each bundle gave, so the same content always yields the same bytes (and the
 * same SDS version) whatever order sources reported in.
 */
export class TrustBundleSet {
  readonly #entries = new Map<string, Entry>();

  static #key(mesh: string, trustDomain: string): string {
    return `${mesh}\u0000${trustDomain}`;
  }

  /** Set (replace) the bundle of one mesh + trust domain. Returns whether the content changed. */
  set(mesh: string, trustDomain: string, pems: string | readonly string[]): boolean {
    if (!mesh || !trustDomain) throw new CertError('BUNDLE_INVALID', 'a trust bundle needs a mesh and a trust domain');
    const what = `trust bundle for mesh "${mesh}", trust domain "${trustDomain}"`;
    let certs: NodeCert[];
    try {
      certs = (Array.isArray(pems) ? pems : [pems]).flatMap((p) => parseCertsPem(p as string, what));
    } catch (err) {
      throw new CertError('BUNDLE_INVALID', describeError(err));
    }
    const seen = new Set<string>();
    certs = certs.filter((c) => !seen.has(c.fingerprint256) && seen.add(c.fingerprint256));
    const k = TrustBundleSet.#key(mesh, trustDomain);
    const prev = this.#entries.get(k);
    const same =
      prev !== undefined &&
      prev.certs.length === certs.length &&
      prev.certs.every((c, i) => c.fingerprint256 === certs[i].fingerprint256);
    this.#entries.set(k, { mesh, trustDomain, certs });
    return !same;
  }

  /** Alias of set(): adding a bundle for a mesh + trust domain replaces what was there. */
  add(mesh: string, trustDomain: string, pems: string | readonly string[]): boolean {
    return this.set(mesh, trustDomain, pems);
  }

  remove(mesh: string, trustDomain: string): boolean {
    return this.#entries.delete(TrustBundleSet.#key(mesh, trustDomain));
  }

  has(mesh: string, trustDomain: string): boolean {
    return this.#entries.has(TrustBundleSet.#key(mesh, trustDomain));
  }

  /** The (mesh, trust domain) pairs present, in the stable order. */
  keys(): Array<{ mesh: string; trustDomain: string }> {
    return this.#sorted().map((e) => ({ mesh: e.mesh, trustDomain: e.trustDomain }));
  }

  /** Certificates of one bundle, as PEM strings. */
  get(mesh: string, trustDomain: string): string[] {
    return (this.#entries.get(TrustBundleSet.#key(mesh, trustDomain))?.certs ?? []).map((c) => derToPem(c.raw));
  }

  /** Merged, deduplicated PEM list, optionally for one mesh only. */
  pems(filter: { mesh?: string } = {}): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const e of this.#sorted()) {
      if (filter.mesh !== undefined && e.mesh !== filter.mesh) continue;
      for (const c of e.certs) {
        if (seen.has(c.fingerprint256)) continue;
        seen.add(c.fingerprint256);
        out.push(derToPem(c.raw));
      }
    }
    return out;
  }

  /** The merged list as one PEM text (SDS `trusted_ca.inline_string`). */
  pem(filter: { mesh?: string } = {}): string {
    return this.pems(filter).join('');
  }

  get size(): number {
    return this.#entries.size;
  }

  #sorted(): Entry[] {
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return [...this.#entries.values()].sort((a, b) => cmp(a.mesh, b.mesh) || cmp(a.trustDomain, b.trustDomain));
  }
}
