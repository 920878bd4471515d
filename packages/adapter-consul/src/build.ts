// State -> model and state -> status: pure functions, the only place where Consul's mesh rules
// (model names, SNI, expected SPIFFE SANs, which identity and bundle a service uses) are put
// together. Same state in, same output out: lists are sorted and names come from identities.
import { summarizeWatches } from '@meshgate/model';
import type { GatewayListener, Identity, Model, Route, Service, SourceStatus, TrustBundle } from '@meshgate/model';
import { deniedServices } from './intentions.ts';
import {
  ROOTS_BUNDLE_NAME,
  connectSni,
  connectSpiffeId,
  identityName,
  ingressListenerName,
  ingressRouteName,
  serviceModelName,
} from './names.ts';
import type { ConsulSettings } from './settings.ts';
import { type ConsulState, watchEntries } from './state.ts';

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The partial model the Consul source contributes, from its current state. */
export function buildModel(state: ConsulState, s: ConsulSettings): Model {
  const dc = state.dc;
  const source = s.name;
  const gw = s.gateway;
  const idName = gw ? identityName(gw.name) : undefined;
  const protocols = new Map<string, Service['protocol']>();
  for (const l of state.ingress) {
    if (l.protocol === 'tcp') continue;
    for (const svc of l.services) protocols.set(svc.name, l.protocol);
  }
  const trustBundles: TrustBundle[] = state.roots
    ? [{ name: ROOTS_BUNDLE_NAME, caPems: [...state.roots.rootPems], source }]
    : [];
  const identities: Identity[] =
    gw && state.leaf
      ? [{ name: idName!, certChainPem: state.leaf.chainPem, privateKeyPem: state.leaf.keyPem, source }]
      : [];

  const services: Service[] = [];
  for (const st of [...state.services.values()].sort(byName)) {
    const proto = protocols.get(st.name);
    const base = {
      name: serviceModelName(dc, st.name),
      ...(proto ? { protocol: proto } : {}),
      source,
    };
    if (!st.connect) {
      services.push({ ...base, endpoints: (st.endpoints ?? []).map((e) => ({ ...e })) });
      continue;
    }
    const roots = state.roots;
    // Never send plaintext to a mesh sidecar: without the roots there is no TLS, so no endpoints.
    if (!roots) {
      services.push({ ...base, endpoints: [] });
      continue;
    }
    const td = roots.trustDomainResolved;
    services.push({
      ...base,
      endpoints: (st.endpoints ?? []).map((e) => ({ ...e })),
      tls: {
        sni: connectSni(st.name, s.namespace, dc, td, s.partition),
        expectedSans: [{ kind: 'uri', value: connectSpiffeId(st.name, s.namespace, dc, td, s.partition) }],
        trustBundle: ROOTS_BUNDLE_NAME,
        ...(gw && state.leaf ? { clientIdentity: idName } : {}),
      },
    });
  }

  const routes: Route[] = [];
  const listeners: GatewayListener[] = [];
  for (const l of [...state.ingress].sort((a, b) => a.port - b.port)) {
    if (l.protocol === 'tcp') continue; // reported in status: TCP listeners have no L7 routes in the model
    const names: string[] = [];
    for (const svc of l.services) {
      if (svc.name === '*' || !state.services.has(svc.name)) continue;
      const r: Route = {
        name: ingressRouteName(l.port, svc.name),
        hosts: svc.hosts.length ? [...svc.hosts] : [`${svc.name}.ingress.*`],
        match: { prefix: '/' },
        backends: [{ service: serviceModelName(dc, svc.name), weight: 1 }],
        ...(svc.requestHeadersToAdd.length ? { requestHeadersToAdd: svc.requestHeadersToAdd } : {}),
        ...(svc.requestHeadersToRemove.length ? { requestHeadersToRemove: svc.requestHeadersToRemove } : {}),
        ...(svc.responseHeadersToAdd.length ? { responseHeadersToAdd: svc.responseHeadersToAdd } : {}),
        ...(svc.responseHeadersToRemove.length ? { responseHeadersToRemove: svc.responseHeadersToRemove } : {}),
        source,
      };
      routes.push(r);
      names.push(r.name);
    }
    listeners.push({ name: ingressListenerName(l.port), port: l.port, routes: names, source });
  }
  return { services, routes, listeners, identities, trustBundles };
}

/** Many blocking requests at once: Consul's http_max_conns_per_client defaults to 200. */
const MANY_WATCHES = 200;

/** The status the Consul source reports, from its current state. */
export function buildStatus(state: ConsulState, s: ConsulSettings): SourceStatus {
  const watches = summarizeWatches(watchEntries(state));
  const services = [...state.services.values()];
  const bad: Record<string, string> = {};
  for (const st of services) if (st.bad) bad[st.name] = st.bad;
  const denied = deniedServices(state.intentions);
  const unsupported: string[] = [];
  for (const l of state.ingress) {
    if (l.protocol === 'tcp') unsupported.push(`listener ${l.port}: tcp listeners are not routed by meshgate`);
    if (l.services.some((svc) => svc.name === '*'))
      unsupported.push(`listener ${l.port}: wildcard service "*" is not supported; name the services`);
  }
  const details: Record<string, unknown> = {
    address: new URL(s.address).origin,
    datacenter: state.dc || undefined,
    watchedServices: state.services.size,
    connectServices: services
      .filter((st) => st.connect)
      .map((st) => st.name)
      .sort(),
    deniedServices: denied,
    intentionDenialsTotal: state.intentions.denialsTotal,
    badServices: bad,
    failingWatches: watches.failing,
  };
  if (state.catalog) details.catalogServices = state.catalog.size;
  if (state.roots) details.trustDomain = state.roots.trustDomainResolved;
  if (state.leaf?.notAfter) details.leafNotAfter = state.leaf.notAfter.toISOString();
  if (state.leafError) details.leafError = state.leafError;
  if (state.ingressError) details.ingressError = state.ingressError;
  if (unsupported.length) details.unsupported = unsupported;
  if (state.services.size > MANY_WATCHES)
    details.warning = `watching ${state.services.size} services holds as many blocking requests; Consul's http_max_conns_per_client defaults to ${MANY_WATCHES}`;
  if (!s.gateway && services.some((st) => st.connect))
    details.warningConnect =
      'Connect services are watched but consul.gateway is not set: no client certificate is presented, so sidecars will refuse the gateway';
  // A failing watch explains staleness better than an older rejected answer.
  let lastError: string | undefined;
  for (const [, w] of watchEntries(state))
    if (w.failure !== undefined) {
      lastError = w.failure;
      break;
    }
  lastError ??= state.lastError;
  return {
    name: s.name,
    synced: state.synced,
    stale: watches.failing.length > 0,
    ...(lastError ? { lastError, lastErrorAt: state.lastErrorAt } : {}),
    ...(state.lastUpdateAt ? { lastUpdateAt: state.lastUpdateAt } : {}),
    watches,
    consul: { intentionDenied: denied },
    details,
  };
}
