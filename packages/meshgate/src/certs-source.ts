// The built-in CA as a source: issues the gateway's own identities from the CA kept in the
// `certs.dir` state directory and renews them from each certificate's own lifetime (about
// half-life with jitter, docs/architecture.md, rule 11). A renewal changes only the identity's Secret; its
// SDS name stays the same (rule 9).
import { CertificateAuthority, KEY_TYPES, RotationManager } from '@meshgate/certs';
import type { KeyType } from '@meshgate/certs';
import { emptyModel } from '@meshgate/model';
import type { Identity, Source, SourceSink } from '@meshgate/model';
import { parseDuration } from './args.ts';
import type { Logger } from './logger.ts';
import { allowedEntryProblem } from './node-authz.ts';

export interface CertsIdentitySpec {
  /** SDS name, e.g. mesh/meshgate/gateway. */
  name: string;
  spiffe?: string;
  dns?: string;
  ttlMs: number;
  keyType: KeyType;
  allowedNodes?: string[];
}

export interface CertsSettings {
  dir: string;
  /** SDS name of the CA bundle. */
  trustBundle: string;
  identities: CertsIdentitySpec[];
}

/** Checks the raw `certs:` section; errors name the key and the fix. */
export function parseCertsSection(raw: Record<string, unknown> & { dir: string }): {
  settings?: CertsSettings;
  errors: string[];
} {
  const errors: string[] = [];
  const allowed = ['dir', 'trustBundle', 'identities'];
  for (const k of Object.keys(raw))
    if (!allowed.includes(k)) errors.push(`certs.${k}: unknown key; valid keys are ${allowed.join(', ')}`);
  const trustBundle = raw.trustBundle === undefined ? 'mesh/meshgate/roots' : String(raw.trustBundle);
  const identities: CertsIdentitySpec[] = [];
  const list = raw.identities ?? [];
  if (!Array.isArray(list)) errors.push('certs.identities: must be a list of {name, spiffe|dns, ttl, keyType}');
  else
    list.forEach((it: Record<string, unknown>, i: number) => {
      const p = `certs.identities[${i}]`;
      if (!it || typeof it !== 'object') return void errors.push(`${p}: must be a mapping`);
      for (const k of Object.keys(it))
        if (!['name', 'spiffe', 'dns', 'ttl', 'keyType', 'allowedNodes'].includes(k))
          errors.push(`${p}.${k}: unknown key`);
      if (typeof it.name !== 'string' || !it.name) errors.push(`${p}.name: required, e.g. mesh/meshgate/gateway`);
      if (!it.spiffe === !it.dns)
        errors.push(`${p}: set exactly one of spiffe (spiffe://<trust-domain>/<path>) or dns`);
      let ttlMs = 86_400_000;
      try {
        if (it.ttl !== undefined) ttlMs = parseDuration(String(it.ttl), `${p}.ttl`);
      } catch (err) {
        errors.push((err as Error).message);
      }
      if (it.allowedNodes !== undefined) {
        if (!Array.isArray(it.allowedNodes) || it.allowedNodes.some((n) => typeof n !== 'string' || n === ''))
          errors.push(
            `${p}.allowedNodes: must be a list of non-empty strings (spiffe://..., dns:<name>, or a node id or cluster)`,
          );
        else
          for (const [n, e] of (it.allowedNodes as string[]).entries()) {
            const why = allowedEntryProblem(e);
            if (why) errors.push(`${p}.allowedNodes[${n}]: ${why}`);
          }
      }
      const keyType = (it.keyType ?? 'ec-p256') as KeyType;
      if (!(KEY_TYPES as readonly string[]).includes(keyType))
        errors.push(`${p}.keyType: use one of ${KEY_TYPES.join(', ')}`);
      identities.push({
        name: String(it.name),
        ...(it.spiffe ? { spiffe: String(it.spiffe) } : {}),
        ...(it.dns ? { dns: String(it.dns) } : {}),
        ttlMs,
        keyType,
        ...(Array.isArray(it.allowedNodes) ? { allowedNodes: it.allowedNodes.map(String) } : {}),
      });
    });
  return errors.length ? { errors } : { settings: { dir: raw.dir, trustBundle, identities }, errors };
}

export class CertsSource implements Source {
  readonly name = 'certs';
  private readonly settings: CertsSettings;
  private readonly log: Logger;
  private managers: RotationManager[] = [];
  private sink: SourceSink | undefined;
  private bundlePem = '';

  constructor(settings: CertsSettings, log: Logger) {
    this.settings = settings;
    this.log = log;
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    const ca = await CertificateAuthority.loadOrCreate(this.settings.dir);
    this.managers = this.settings.identities.map(
      (spec) =>
        new RotationManager({
          mesh: 'meshgate',
          identity: spec.name,
          keyType: spec.keyType,
          expectedSan: spec.spiffe ?? spec.dns,
          obtain: async () => {
            const cert = await ca.issue({
              ...(spec.spiffe ? { spiffe: spec.spiffe } : { dns: spec.dns }),
              keyType: spec.keyType,
              ttlMs: spec.ttlMs,
            });
            this.bundlePem = cert.bundlePem;
            return cert;
          },
          onRotate: (cert) => {
            this.log.info(
              { identity: spec.name, notAfter: cert.notAfter.toISOString(), serial: cert.serialNumber },
              'identity certificate issued',
            );
            this.publish();
          },
          onError: (err) => {
            this.log.warn({ identity: spec.name, err: err.message }, 'identity certificate renewal failed; retrying');
            this.reportStatus();
          },
        }),
    );
    await Promise.all(this.managers.map((m) => m.start()));
    if (!this.bundlePem) {
      // No identities configured: still publish the CA bundle so upstreams can be verified against it.
      const probe = await ca.issue({ dns: 'meshgate-bundle-probe.invalid', ttlMs: 60_000 });
      this.bundlePem = probe.bundlePem;
    }
    this.publish();
  }

  private publish(): void {
    if (!this.sink || !this.bundlePem) return;
    const m = emptyModel();
    for (const mgr of this.managers) {
      const cur = mgr.current();
      if (!cur) continue;
      const spec = this.settings.identities.find((s) => s.name === mgr.identity)!;
      const id: Identity = {
        name: spec.name,
        certChainPem: cur.chainPem,
        privateKeyPem: cur.keyPem,
        source: this.name,
        ...(spec.allowedNodes ? { allowedNodes: spec.allowedNodes } : {}),
      };
      m.identities.push(id);
    }
    m.trustBundles.push({ name: this.settings.trustBundle, caPems: [this.bundlePem], source: this.name });
    this.sink.update(m);
    this.reportStatus();
  }

  private reportStatus(): void {
    if (!this.sink) return;
    const statuses = this.managers.map((m) => m.status());
    const missing = statuses.filter((s) => !s.notAfter);
    const failing = statuses.filter((s) => s.consecutiveFailures > 0);
    this.sink.status({
      name: this.name,
      // Synced once every identity has a certificate; a failing renewal keeps the old one in service.
      synced: missing.length === 0,
      stale: failing.length > 0,
      ...(failing[0]?.lastError ? { lastError: failing[0].lastError, lastErrorAt: Date.now() } : {}),
      lastUpdateAt: Date.now(),
      details: {
        dir: this.settings.dir,
        identities: statuses.map((s) => ({
          identity: s.identity,
          notAfter: s.notAfter?.toISOString(),
          nextRenewalAt: s.nextRenewalAt?.toISOString(),
          rotations: s.rotations,
        })),
      },
    });
  }

  async stop(): Promise<void> {
    for (const m of this.managers) m.stop();
    this.sink = undefined;
  }
}
