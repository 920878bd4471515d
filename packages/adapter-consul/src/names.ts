// Stable names the Consul source puts into the model, and the mesh names Consul itself uses
// (Consul Connect SNI and SPIFFE formats, see docs/consul.md). Every name derives from an identity (datacenter, service, port),
// never from a list position, so removing one entry never renames another (docs/architecture.md, rule 13).

/** Model service name for a Consul service: `consul/<dc>/<svc>`. */
export function serviceModelName(dc: string, svc: string): string {
  return `consul/${dc}/${svc}`;
}

/** SDS name of the gateway's Consul identity: `mesh/consul/<gateway>`. */
export function identityName(gateway: string): string {
  return `mesh/consul/${gateway}`;
}

/** SDS name of the Consul Connect roots. */
export const ROOTS_BUNDLE_NAME = 'mesh/consul/roots';

/** Listener name for an ingress-gateway listener: `consul/ingress/<port>`. */
export function ingressListenerName(port: number): string {
  return `consul/ingress/${port}`;
}

/** Route name for one service of an ingress-gateway listener: `consul/ingress/<port>/<svc>`. */
export function ingressRouteName(port: number, svc: string): string {
  return `consul/ingress/${port}/${svc}`;
}

/**
 * Upstream SNI Consul's own proxies use for a service (agent/connect/sni.go): in the default
 * partition `<svc>.<ns>.<dc>.internal.<td>`, otherwise `<svc>.<ns>.<ap>.<dc>.internal-v1.<td>`.
 */
export function connectSni(
  svc: string,
  ns: string | undefined,
  dc: string,
  trustDomain: string,
  partition?: string,
): string {
  const n = ns || 'default';
  if (partition && partition !== 'default') return `${svc}.${n}.${partition}.${dc}.internal-v1.${trustDomain}`;
  return `${svc}.${n}.${dc}.internal.${trustDomain}`;
}

/**
 * SPIFFE ID of a Consul service (agent/connect/uri_service.go):
 * `spiffe://<td>/ns/<ns>/dc/<dc>/svc/<svc>`, with `/ap/<ap>` first for a non-default partition.
 */
export function connectSpiffeId(
  svc: string,
  ns: string | undefined,
  dc: string,
  trustDomain: string,
  partition?: string,
): string {
  const n = ns || 'default';
  const ap = partition && partition !== 'default' ? `/ap/${partition}` : '';
  return `spiffe://${trustDomain}${ap}/ns/${n}/dc/${dc}/svc/${svc}`;
}

/** Trust domain from a SPIFFE URI such as `spiffe://<uuid>.consul` or a service ID. */
export function trustDomainOf(uri: string): string | undefined {
  const m = /^spiffe:\/\/([^/]+)/i.exec(uri.trim());
  return m ? m[1].toLowerCase() : undefined;
}

/** Consul service names: letters, digits, dashes (DNS-compatible), dots and underscores tolerated. */
export const CONSUL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
