// The benchmark's model: N services with 10 endpoints each, one HTTP listener and one route per
// service. The Go peer (bench/peer/main.go) builds the same resources; keep the two in step.
import type { Endpoint, Model, Service } from '@meshgate/model';

export const ENDPOINTS_PER_SERVICE = 10;
export const LISTENER = 'bench-http';

export function serviceName(i: number): string {
  return `svc-${String(i).padStart(5, '0')}`;
}

export function endpointAddress(i: number, j: number): string {
  return `10.${(i >> 8) & 255}.${i & 255}.${j + 1}`;
}

export function benchService(i: number): Service {
  const endpoints: Endpoint[] = [];
  for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) endpoints.push({ address: endpointAddress(i, j), port: 8080 });
  return { name: serviceName(i), endpoints, source: 'bench' };
}

export function benchModel(n: number): Model {
  const services: Service[] = [];
  const routes: Model['routes'] = [];
  for (let i = 0; i < n; i++) {
    const name = serviceName(i);
    services.push(benchService(i));
    routes.push({
      name,
      hosts: [`${name}.bench`],
      match: { prefix: '/' },
      backends: [{ service: name, weight: 1 }],
      source: 'bench',
    });
  }
  return {
    services,
    routes,
    listeners: [{ name: LISTENER, port: 8080, routes: routes.map((r) => r.name), source: 'bench' }],
    identities: [],
    trustBundles: [],
  };
}
