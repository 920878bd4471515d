// Direct mode: what the Destination API says about one authority becomes one model service, each endpoint reached the
// way a linkerd-proxy reaches it. A pure function of the watch state, so every rule here is a unit test.
import type { Draft, Endpoint, Service, ServiceProtocol, UpstreamTls } from '@meshgate/model';
import type { DestinationState } from './destination.ts';
import type { WeightedAddr } from './destination-proto.ts';

/** One Linkerd backend of the gateway: a model service fed by `Get` on `authority`. */
export interface LinkerdServiceConfig {
  /** The model service name routes use as a backend. */
  name: string;
  /** `<svc>.<ns>.svc.<cluster-domain>:<port>` */
  authority: string;
  protocol?: ServiceProtocol;
  /**
   * Endpoints the controller gives no identity (pods without the mesh): reached in plaintext when true, left out and
   * reported otherwise. Default false.
   */
  allowPlaintextUnmeshed?: boolean;
  /** The fix named for unmeshed endpoints left out; default: mesh the pods or set allowPlaintextUnmeshed. */
  unmeshedFix?: string;
}

/** The SDS names upstream TLS refers to: the gateway's Linkerd certificate and the trust anchors. */
export interface LinkerdTlsNames {
  clientIdentity: string;
  trustBundle: string;
}

export interface LinkerdServiceReport {
  name: string;
  authority: string;
  synced: boolean;
  /** false: the controller says the Service does not exist. */
  exists: boolean | undefined;
  /** Endpoints served, by how they are reached. */
  meshed: number;
  plaintext: number;
  /** Distinct Linkerd server identities among the served endpoints. */
  identities: string[];
  /** Left out: no identity and plaintext not allowed for this service. */
  unmeshedLeftOut: string[];
  /** Left out: the endpoint wants Linkerd's opaque transport, which meshgate does not speak. */
  opaqueLeftOut: string[];
  /** Set while the stream to the controller is down (the endpoints are the last known ones). */
  lastError?: string;
  /** Sentences for people: what is left out and why, with the fix. */
  problems: string[];
}

/** The TLS a linkerd-proxy would use towards a meshed endpoint: SNI = server name, its identity verified, our cert. */
export function endpointTls(a: WeightedAddr, names: LinkerdTlsNames): UpstreamTls | undefined {
  if (!a.identity) return undefined;
  return {
    sni: a.serverName || a.identity,
    expectedSans: [{ kind: 'dns', value: a.identity }],
    trustBundle: names.trustBundle,
    clientIdentity: names.clientIdentity,
  };
}

function addr(a: WeightedAddr): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/**
 * The model service for one Linkerd backend and a report of what was left out. Meshed endpoints carry their server
 * identity as `tlsProfile` (a key of `endpointTls`, one entry per distinct identity). The service-wide `tls` is also
 * set whenever every served endpoint is meshed, so a translator that reads only `tls` still verifies a server
 * identity: exactly when the endpoints share one identity; with several, the others fail the check (closed, never
 * plaintext). Only when plaintext endpoints are allowed and present is `tls` absent, as the model defines for them.
 */
export function linkerdService(
  cfg: LinkerdServiceConfig,
  state: DestinationState | undefined,
  names: LinkerdTlsNames,
): { service: Service; report: LinkerdServiceReport } {
  const report: LinkerdServiceReport = {
    name: cfg.name,
    authority: cfg.authority,
    synced: state?.synced ?? false,
    exists: state?.exists,
    meshed: 0,
    plaintext: 0,
    identities: [],
    unmeshedLeftOut: [],
    opaqueLeftOut: [],
    problems: [],
    ...(state?.lastError ? { lastError: state.lastError } : {}),
  };
  const endpoints: Draft<Endpoint>[] = [];
  const profiles: Record<string, UpstreamTls> = {};
  const sorted = [...(state?.endpoints.values() ?? [])].sort((a, b) => (addr(a) < addr(b) ? -1 : 1));
  for (const a of sorted) {
    if (a.opaqueTransportPort !== undefined) {
      report.opaqueLeftOut.push(addr(a));
      continue;
    }
    const tls = endpointTls(a, names);
    if (tls && a.identity) {
      profiles[a.identity] = tls;
      endpoints.push({ address: a.ip, port: a.port, tlsProfile: a.identity });
      report.meshed++;
    } else if (cfg.allowPlaintextUnmeshed) {
      endpoints.push({ address: a.ip, port: a.port });
      report.plaintext++;
    } else {
      report.unmeshedLeftOut.push(addr(a));
    }
  }
  report.identities = Object.keys(profiles).sort();
  if (report.opaqueLeftOut.length)
    report.problems.push(
      `linkerd service ${cfg.name} (${cfg.authority}): ${report.opaqueLeftOut.length} endpoint(s) use Linkerd's opaque transport (${report.opaqueLeftOut.join(', ')}), which meshgate does not speak; they are left out. Serve that port as non-opaque (config.linkerd.io/opaque-ports) or use the injected-ingress mode (kubernetes.linkerdIngress)`,
    );
  if (report.unmeshedLeftOut.length)
    report.problems.push(
      `linkerd service ${cfg.name} (${cfg.authority}): ${report.unmeshedLeftOut.length} endpoint(s) have no Linkerd identity (pods without the mesh: ${report.unmeshedLeftOut.join(', ')}) and are left out; ${cfg.unmeshedFix ?? 'mesh those pods, or set allowPlaintextUnmeshed: true on this service to reach them in plaintext'}`,
    );
  if (state?.exists === false)
    report.problems.push(
      `linkerd service ${cfg.name}: the destination controller does not know ${cfg.authority}; check the Service name, namespace, port and cluster domain`,
    );
  const first = report.identities[0];
  const service: Service = {
    name: cfg.name,
    endpoints,
    ...(cfg.protocol ? { protocol: cfg.protocol } : {}),
    ...(first && report.plaintext === 0 ? { tls: profiles[first] } : {}),
    ...(report.identities.length ? { endpointTls: profiles } : {}),
    source: 'linkerd',
  };
  return { service, report };
}
