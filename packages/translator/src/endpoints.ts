import type { Endpoint, EndpointHealth, Locality, Service } from '@meshgate/model';
import type {
  ClusterLoadAssignment,
  LbEndpoint,
  Locality as EnvoyLocality,
  LocalityLbEndpoints,
} from '@meshgate/envoy-api';
import type { Profile } from './types.ts';
import { cmp } from './common.ts';
import { grpcTlsPlan, TLS_PROFILE_FIELD, TRANSPORT_SOCKET_MATCH } from './endpoint-tls.ts';

const HEALTH: Record<EndpointHealth, NonNullable<LbEndpoint['health_status']>> = {
  healthy: 'HEALTHY',
  unhealthy: 'UNHEALTHY',
  draining: 'DRAINING',
  unknown: 'UNKNOWN',
};

function localityKey(l: Locality | undefined): string {
  return [l?.region ?? '', l?.zone ?? '', l?.subZone ?? ''].join('\u0000');
}

function endpointKey(e: Endpoint): string {
  return `${e.address}\u0000${String(e.port).padStart(5, '0')}`;
}

/**
 * One ClusterLoadAssignment for a service. Endpoints are grouped by locality; every locality
 * carries a load_balancing_weight (the sum of its endpoint weights) because gRPC clients
 * ignore localities without one. Duplicate address:port pairs are dropped (the first in sorted
 * order wins) since gRPC clients NACK an assignment that repeats an address.
 * Envoy endpoints with a TLS profile carry it as transport-socket-match metadata; gRPC clients
 * get only the endpoints their cluster's single TLS setting fits (grpcTlsPlan).
 */
export function translateEndpoints(service: Service, profile: Profile): ClusterLoadAssignment {
  const keep = profile === 'grpc' ? grpcTlsPlan(service).keep : undefined;
  // Keys are built once per endpoint, not twice per comparison (10,000 services x 10 endpoints in a full translate).
  const sorted = (keep ? service.endpoints.filter(keep) : service.endpoints)
    .map((e) => ({ e, k: endpointKey(e), lk: localityKey(e.locality) }))
    .sort((a, b) => cmp(a.k, b.k) || cmp(a.lk, b.lk) || (a.e.weight ?? 1) - (b.e.weight ?? 1));
  const seen = new Set<string>();
  const groups = new Map<string, { locality: Locality | undefined; endpoints: Endpoint[] }>();
  for (const { e, k, lk } of sorted) {
    if (seen.has(k)) continue;
    seen.add(k);
    let g = groups.get(lk);
    if (!g) groups.set(lk, (g = { locality: e.locality, endpoints: [] }));
    g.endpoints.push(e);
  }
  const endpoints = [...groups.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([, g]): LocalityLbEndpoints => {
      const locality: EnvoyLocality = {};
      if (g.locality?.region) locality.region = g.locality.region;
      if (g.locality?.zone) locality.zone = g.locality.zone;
      if (g.locality?.subZone) locality.sub_zone = g.locality.subZone;
      return {
        locality,
        lb_endpoints: g.endpoints.map((e) => {
          const lb: LbEndpoint = {
            endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
            health_status: HEALTH[e.health ?? 'healthy'],
            load_balancing_weight: { value: e.weight ?? 1 },
          };
          if (profile === 'envoy' && e.tlsProfile !== undefined)
            lb.metadata = {
              filter_metadata: {
                [TRANSPORT_SOCKET_MATCH]: { fields: { [TLS_PROFILE_FIELD]: { stringValue: e.tlsProfile } } },
              },
            };
          return lb;
        }),
        load_balancing_weight: { value: g.endpoints.reduce((sum, e) => sum + (e.weight ?? 1), 0) },
      };
    });
  return { cluster_name: service.name, endpoints };
}
