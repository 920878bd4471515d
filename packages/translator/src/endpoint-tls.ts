import type { Endpoint, Model, ModelProblem, Service, UpstreamTls } from '@meshgate/model';
import { cmp } from './common.ts';

/**
 * The Envoy metadata namespace and field that pick a cluster's transport_socket_matches entry.
 * The field is Istio's own (`tlsMode`), so an Istio endpoint marked `istio` matches exactly as
 * it does in istiod's clusters; other profiles use the same field with their own key.
 */
export const TRANSPORT_SOCKET_MATCH = 'envoy.transport_socket_match';
export const TLS_PROFILE_FIELD = 'tlsMode';

/** What a proxyless gRPC client gets for one service: one TLS setting and the endpoints it fits. */
export interface GrpcTlsPlan {
  readonly tls: UpstreamTls | undefined;
  /** The profile key the plan serves ('' = the service's own `tls`). */
  readonly profile: string;
  readonly keep: (e: Endpoint) => boolean;
  /** Endpoints left out because they need a different TLS setting than the one chosen. */
  readonly dropped: readonly Endpoint[];
  /** Whether an endpoint's effective setting is plaintext. */
  readonly plaintext: (e: Endpoint) => boolean;
}

function canonical(tls: UpstreamTls | undefined): string {
  if (!tls) return '';
  const sans = [...tls.expectedSans].map((s) => `${s.kind}:${s.value}`).sort();
  return JSON.stringify([tls.sni ?? '', tls.alpn ?? [], sans, tls.trustBundle, tls.clientIdentity ?? '']);
}

/**
 * gRPC clients ignore transport_socket_matches: a cluster has one TLS setting for every endpoint.
 * The rule, chosen so a gRPC client never sends plaintext (or the wrong identity) to an endpoint
 * the model says needs mTLS:
 * - every endpoint's effective setting (its profile's, else the service's `tls`, else plaintext)
 *   is the same by value: that setting, all endpoints;
 * - otherwise plaintext endpoints are left out whenever any endpoint needs TLS, and of the TLS
 *   settings the one of the first profile key wins ('' for the service's own `tls` sorts first);
 *   endpoints with a different setting are left out. The choice depends on which keys are in
 *   use, never on endpoint counts, so an endpoint that comes or goes inside one group does not
 *   change the cluster.
 * Left-out endpoints are reported (endpointTlsNotices) rather than failing the translation.
 */
export function grpcTlsPlan(service: Service): GrpcTlsPlan {
  const profiles = service.endpointTls;
  if (!profiles || service.endpoints.every((e) => e.tlsProfile === undefined))
    return { tls: service.tls, profile: '', keep: () => true, dropped: [], plaintext: () => false };
  const settingOf = (key: string): UpstreamTls | undefined => (key === '' ? service.tls : profiles[key]);
  // A service has a handful of profiles and many endpoints: each profile's canonical form is made once.
  const canonicalOf = new Map<string, string>();
  const settingValue = (e: Endpoint): string => {
    const key = e.tlsProfile ?? '';
    let v = canonicalOf.get(key);
    if (v === undefined) canonicalOf.set(key, (v = canonical(settingOf(key))));
    return v;
  };
  // Distinct settings by value, each under the first key that uses it.
  const byValue = new Map<string, string>();
  for (const e of service.endpoints) {
    const value = settingValue(e);
    const key = e.tlsProfile ?? '';
    const seen = byValue.get(value);
    if (seen === undefined || cmp(key, seen) < 0) byValue.set(value, key);
  }
  const plaintext = (e: Endpoint) => settingValue(e) === '';
  if (byValue.size === 1) {
    const [[, key]] = byValue;
    return { tls: settingOf(key), profile: key, keep: () => true, dropped: [], plaintext };
  }
  const secure = [...byValue.entries()].filter(([value]) => value !== '').sort(([, a], [, b]) => cmp(a, b));
  const [chosenValue, chosenKey] = secure[0];
  const keep = (e: Endpoint) => settingValue(e) === chosenValue;
  return {
    tls: settingOf(chosenKey),
    profile: chosenKey,
    keep,
    dropped: service.endpoints.filter((e) => !keep(e)),
    plaintext,
  };
}

const LISTED = 5;

/**
 * Non-blocking notices for the gRPC profile: one per service whose endpoints need different TLS
 * settings, naming the endpoints gRPC clients do not get and why. Envoy gets every endpoint.
 */
export function endpointTlsNotices(model: Model): ModelProblem[] {
  const notices: ModelProblem[] = [];
  for (const s of model.services) {
    const profiles = s.endpointTls;
    if (!profiles) continue;
    const plan = grpcTlsPlan(s);
    if (plan.dropped.length === 0) continue;
    const addrs = plan.dropped.map((e) => `${e.address}:${e.port}`).sort(cmp);
    const listed =
      addrs.slice(0, LISTED).join(', ') + (addrs.length > LISTED ? ` and ${addrs.length - LISTED} more` : '');
    const plaintext = plan.dropped.filter(plan.plaintext);
    const why =
      plaintext.length === plan.dropped.length
        ? 'they take plaintext while other endpoints need mTLS'
        : 'they need a different TLS setting than the one served';
    notices.push({
      path: `services[${s.name}]`,
      message: `gRPC clients do not get ${addrs.length} endpoint(s) (${listed}): ${why}, and gRPC clients apply one TLS setting per cluster (served: ${plan.profile === '' ? 'the service tls' : `profile ${JSON.stringify(plan.profile)}`}). Envoy gateways reach every endpoint.`,
      source: s.source,
    });
  }
  return notices;
}
