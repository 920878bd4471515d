// The Consul source's options with every default filled in, checked once at construction so the
// rest of the source never looks at an optional setting again.
import { DEFAULT_WAIT_MS } from './blocking.ts';
import { CONSUL_NAME_RE } from './names.ts';
import type { ConsulSourceOptions } from './options.ts';

export interface GatewaySettings {
  readonly name: string;
  readonly register: boolean;
  readonly kind: 'ingress-gateway' | 'typical';
  readonly address: string;
  readonly port: number;
  readonly ingressRoutes: boolean;
  readonly checkIntentions: boolean;
}

export interface ConsulSettings {
  readonly name: string;
  readonly address: string;
  readonly datacenter?: string;
  readonly namespace?: string;
  readonly partition?: string;
  readonly services: readonly string[];
  readonly tag?: string;
  readonly watchAll: boolean;
  readonly includeWarning: boolean;
  readonly connect: 'auto' | 'always' | 'never';
  readonly regionKey: string;
  readonly zoneKey: string;
  readonly weightTagPrefix: string;
  readonly gateway?: GatewaySettings;
  readonly waitMs: number;
  readonly requestTimeoutMs: number;
  readonly concurrency: number;
  readonly maxBodyBytes: number;
  readonly rateLimit: { readonly burst: number; readonly minIntervalMs: number; readonly maxIntervalMs: number };
  readonly backoff: { readonly baseMs: number; readonly capMs: number };
}

/** Fills in defaults; throws an error naming the setting and the fix for a bad service name or address. */
export function resolveSettings(o: ConsulSourceOptions): ConsulSettings {
  const g = o.gateway;
  const s: ConsulSettings = {
    name: o.name ?? 'consul',
    address: o.address ?? 'http://127.0.0.1:8500',
    datacenter: o.datacenter,
    namespace: o.namespace,
    partition: o.partition,
    services: [...(o.services ?? [])],
    tag: o.tag,
    watchAll: o.watchAll ?? false,
    includeWarning: o.includeWarning ?? false,
    connect: o.connect ?? 'auto',
    regionKey: o.localityRegionKey ?? 'region',
    zoneKey: o.localityZoneKey ?? 'zone',
    weightTagPrefix: o.weightTagPrefix ?? 'meshgate-weight=',
    gateway: g
      ? {
          name: g.name ?? 'meshgate-gateway',
          register: g.register ?? true,
          kind: g.kind ?? 'ingress-gateway',
          address: g.address ?? '127.0.0.1',
          port: g.port ?? 8443,
          ingressRoutes: g.ingressRoutes ?? true,
          checkIntentions: g.checkIntentions ?? true,
        }
      : undefined,
    waitMs: Math.min(600_000, Math.max(1, o.waitMs ?? DEFAULT_WAIT_MS)),
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    concurrency: o.concurrency ?? 32,
    maxBodyBytes: o.maxBodyBytes ?? 16 * 1024 * 1024,
    rateLimit: {
      burst: o.rateLimit?.burst ?? 2,
      minIntervalMs: o.rateLimit?.minIntervalMs ?? 1000,
      maxIntervalMs: o.rateLimit?.maxIntervalMs ?? 15_000,
    },
    backoff: { baseMs: o.backoff?.baseMs ?? 250, capMs: o.backoff?.capMs ?? 30_000 },
  };
  for (const svc of s.services)
    if (!CONSUL_NAME_RE.test(svc))
      throw new Error(
        `consul.services: ${JSON.stringify(svc)} is not a Consul service name; use letters, digits, - . _`,
      );
  try {
    new URL(s.address);
  } catch {
    throw new Error(`consul.address: ${JSON.stringify(s.address)} is not a URL; use e.g. http://127.0.0.1:8500`);
  }
  return s;
}
