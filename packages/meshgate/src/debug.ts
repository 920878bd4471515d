// Data behind the /debug pages and `meshgate translate`: per-node sync status in the manner of
// `istioctl proxy-status`, and resources by profile and type with secrets redacted.
import { TYPE } from '@meshgate/xds-core';
import type { NodeStatus, TypeStatus, XdsCache } from '@meshgate/xds-core';
import { AdminInputError } from './admin.ts';

export const TYPE_ALIASES: Record<string, string> = {
  listener: TYPE.listener,
  lds: TYPE.listener,
  route: TYPE.route,
  rds: TYPE.route,
  cluster: TYPE.cluster,
  cds: TYPE.cluster,
  endpoint: TYPE.endpoint,
  eds: TYPE.endpoint,
  secret: TYPE.secret,
  sds: TYPE.secret,
};

export function resolveType(name: string): string {
  const t = TYPE_ALIASES[name.toLowerCase()] ?? (Object.values(TYPE) as string[]).find((u) => u === name);
  if (!t)
    throw new AdminInputError(
      `unknown type ${JSON.stringify(name)}; use one of listener, route, cluster, endpoint, secret`,
    );
  return t;
}

const SECRET_FIELDS = new Set(['private_key', 'password', 'secret', 'keys', 'private_key_provider', 'privateKeyPem']);

/** A deep copy with every private key, password and secret value replaced. Certificates stay. */
export function redact<T>(obj: T): T {
  if (Array.isArray(obj)) return obj.map((v) => redact(v)) as T;
  if (obj && typeof obj === 'object' && !(obj instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = SECRET_FIELDS.has(k) ? '[redacted]' : redact(v);
    return out as T;
  }
  return obj;
}

export type SyncState = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACKED';

/** SYNCED: last response ACKed; STALE: sent and not yet answered; NACKED: the last answer was a NACK. */
export function syncState(t: TypeStatus): SyncState {
  if (t.lastNack && (!t.lastAckedAt || t.lastNack.at >= t.lastAckedAt)) return 'NACKED';
  if (!t.lastSentVersion) return 'NOT SENT';
  if (t.pendingAck || t.lastAckedVersion !== t.lastSentVersion) return 'STALE';
  return 'SYNCED';
}

export function nodesPage(nodes: NodeStatus[]): unknown {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      cluster: n.cluster,
      profile: n.group,
      userAgent: n.userAgent,
      connectedSince: n.connectedSince,
      streams: n.streams,
      ...(n.peer ? { peer: n.peer } : {}),
      status: Object.fromEntries(n.types.map((t) => [t.type, syncState(t)])),
      types: n.types,
      // Secrets withheld from the node: name, why, and what would change that.
      ...(n.refusedSecrets ? { refusedSecrets: n.refusedSecrets } : {}),
    })),
  };
}

export function resourcesPage(cache: XdsCache, q: URLSearchParams, profiles: readonly string[]): unknown {
  const profile = q.get('profile') ?? 'envoy';
  if (!profiles.includes(profile))
    throw new AdminInputError(`unknown profile ${JSON.stringify(profile)}; use one of ${profiles.join(', ')}`);
  const typeUrl = resolveType(q.get('type') ?? 'cluster');
  const name = q.get('name');
  if (name !== null) {
    const r = cache.get(profile, typeUrl, name);
    if (!r) return undefined;
    return { profile, typeUrl, name: r.name, version: r.version, resource: redact(r.object) };
  }
  return {
    profile,
    typeUrl,
    resources: cache.list(profile, typeUrl).map((r) => ({ name: r.name, version: r.version })),
  };
}
