// The built-in CA as a source: issues the gateway's own identities from the CA kept in the
// `certs.dir` state directory and renews them from each certificate's own lifetime (about
// half-life with jitter, docs/architecture.md, rule 11). A renewal changes only the identity's Secret; its
// SDS name stays the same (rule 9).
import { CertificateAuthority, RotationManager } from '@meshgate/certs';
import type { KeyType } from '@meshgate/certs';
import { emptyModel } from '@meshgate/model';
import type { Identity, Source, SourceSink } from '@meshgate/model';
import { checkValue } from '@meshgate/config-schema';
import type { ConfigError } from '@meshgate/config-schema';
import { certsSettings } from './config.ts';
import { CERTS_SECTION } from './config-schema.ts';
import type { Logger } from './logger.ts';

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

/**
 * Checks a `certs:` section given as a plain object (tests, embedding) with the one schema; the
 * config file's section is checked with the rest of the file (config.ts), which adds line numbers.
 */
export function parseCertsSection(raw: unknown): { settings?: CertsSettings; errors: ConfigError[] } {
  const { value, reader } = checkValue(raw, CERTS_SECTION.field.spec, 'certs');
  if (value === undefined || reader.errors.length) return { errors: reader.errors };
  return { settings: certsSettings(value as Record<string, unknown>), errors: [] };
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
