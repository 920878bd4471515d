// Turns Consul's JSON answers into checked plain values. Consul answers are outside input: every
// field is type-checked, unknown fields are ignored, and a wrong shape raises ConsulDataError
// naming the endpoint and the field so one bad answer can be reported and skipped.
import type { Draft, Endpoint, Locality } from '@meshgate/model';

export class ConsulDataError extends Error {
  readonly code = 'CONSUL_BAD_DATA';
  constructor(message: string) {
    super(message);
    this.name = 'ConsulDataError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, where: string): Obj {
  if (!isObj(v)) throw new ConsulDataError(`${where}: expected an object, got ${describe(v)}`);
  return v;
}
function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new ConsulDataError(`${where}: expected an array, got ${describe(v)}`);
  return v;
}
function str(v: unknown, where: string, optional = false): string {
  if ((v === undefined || v === null) && optional) return '';
  if (typeof v !== 'string') throw new ConsulDataError(`${where}: expected a string, got ${describe(v)}`);
  return v;
}
function int(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new ConsulDataError(`${where}: expected an integer, got ${describe(v)}`);
  return v;
}
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

/** `/v1/catalog/services`: service name -> tags. */
export function parseCatalogServices(body: unknown): Map<string, string[]> {
  const o = obj(body, 'catalog/services');
  const out = new Map<string, string[]>();
  for (const [name, tags] of Object.entries(o)) {
    const list = tags === null ? [] : arr(tags, `catalog/services[${name}]`);
    out.set(
      name,
      list.map((t, i) => str(t, `catalog/services[${name}][${i}]`)),
    );
  }
  return out;
}

export interface HealthParseOptions {
  /** Take instances whose worst check is `warning` as well as `passing`. */
  includeWarning: boolean;
  /** Node meta keys that give the locality. */
  regionKey: string;
  zoneKey: string;
  /** Tag prefix for an explicit weight, e.g. `meshgate-weight=`. */
  weightTagPrefix: string;
  /** For /health/connect answers: only connect-proxy instances for this destination (or Connect-native). */
  connectDestination?: string;
}

export interface ParsedInstance {
  endpoint: Endpoint;
  serviceId: string;
  node: string;
  status: 'passing' | 'warning' | 'critical' | 'maintenance';
}

const STATUS_RANK = { passing: 0, warning: 1, critical: 2, maintenance: 3 } as const;

/**
 * `/v1/health/service/:svc` and `/v1/health/connect/:svc`: `[{Node, Service, Checks}]`.
 * Returns the instances that may receive traffic, sorted by address:port so equal answers give
 * equal endpoint lists whatever order Consul used.
 */
export function parseHealthEntries(body: unknown, what: string, o: HealthParseOptions): ParsedInstance[] {
  const list = arr(body, what);
  const out: ParsedInstance[] = [];
  list.forEach((raw, i) => {
    const w = `${what}[${i}]`;
    const e = obj(raw, w);
    const node = obj(e.Node, `${w}.Node`);
    const svc = obj(e.Service, `${w}.Service`);
    const checks = e.Checks === null || e.Checks === undefined ? [] : arr(e.Checks, `${w}.Checks`);
    let worst = 'passing' as ParsedInstance['status'];
    checks.forEach((c, j) => {
      const s = str(obj(c, `${w}.Checks[${j}]`).Status, `${w}.Checks[${j}].Status`);
      const st = (s in STATUS_RANK ? s : 'critical') as ParsedInstance['status'];
      if (STATUS_RANK[st] > STATUS_RANK[worst]) worst = st;
    });
    if (worst === 'critical' || worst === 'maintenance') return;
    if (worst === 'warning' && !o.includeWarning) return;

    if (o.connectDestination !== undefined) {
      const kind = str(svc.Kind, `${w}.Service.Kind`, true);
      if (kind === 'connect-proxy') {
        const proxy = obj(svc.Proxy, `${w}.Service.Proxy`);
        const dest = str(proxy.DestinationServiceName, `${w}.Service.Proxy.DestinationServiceName`);
        if (dest !== o.connectDestination) return;
      } else if (kind !== '') {
        return; // gateways and other kinds are not endpoints of the service
      }
    }

    const port = int(svc.Port, `${w}.Service.Port`);
    const address = str(svc.Address, `${w}.Service.Address`, true) || str(node.Address, `${w}.Node.Address`);
    if (!address) throw new ConsulDataError(`${w}: neither Service.Address nor Node.Address is set`);
    const tags =
      svc.Tags === null || svc.Tags === undefined
        ? []
        : arr(svc.Tags, `${w}.Service.Tags`).map((t, j) => str(t, `${w}.Service.Tags[${j}]`));

    let weight: number | undefined;
    const tag = tags.find((t) => t.startsWith(o.weightTagPrefix));
    if (tag !== undefined) {
      const n = Number(tag.slice(o.weightTagPrefix.length));
      if (!Number.isInteger(n) || n < 1 || n > 0xffffffff)
        throw new ConsulDataError(
          `${w}.Service.Tags: ${JSON.stringify(tag)} is not a weight; use ${o.weightTagPrefix}N with N a positive integer`,
        );
      weight = n;
    } else if (isObj(svc.Weights)) {
      const key = worst === 'warning' ? 'Warning' : 'Passing';
      const n = svc.Weights[key];
      if (n !== undefined && n !== null) {
        const v = int(n, `${w}.Service.Weights.${key}`);
        // Consul allows weight 0 for warning instances ("send nothing"); the model has no 0, so skip them.
        if (v < 1) return;
        weight = v;
      }
    }

    const locality: Draft<Locality> = {};
    if (isObj(node.Meta)) {
      const r = node.Meta[o.regionKey];
      const z = node.Meta[o.zoneKey];
      if (typeof r === 'string' && r) locality.region = r;
      if (typeof z === 'string' && z) locality.zone = z;
    }
    const endpoint: Draft<Endpoint> = { address, port };
    if (weight !== undefined && weight !== 1) endpoint.weight = weight;
    if (locality.region || locality.zone) endpoint.locality = locality;
    out.push({
      endpoint,
      serviceId: str(svc.ID, `${w}.Service.ID`, true),
      node: str(node.Node, `${w}.Node.Node`, true),
      status: worst,
    });
  });
  out.sort(
    (a, b) =>
      cmp(a.endpoint.address, b.endpoint.address) || a.endpoint.port - b.endpoint.port || cmp(a.serviceId, b.serviceId),
  );
  return out;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface ParsedRoots {
  trustDomain: string;
  activeRootId: string;
  rootPems: string[];
  /** Intermediates of the active root, appended to the leaf chain Envoy presents. */
  activeIntermediates: string[];
}

/** `/v1/agent/connect/ca/roots` (and `/v1/connect/ca/roots`). */
export function parseRoots(body: unknown): ParsedRoots {
  const o = obj(body, 'connect/ca/roots');
  const roots = arr(o.Roots, 'connect/ca/roots.Roots');
  const activeRootId = str(o.ActiveRootID, 'connect/ca/roots.ActiveRootID', true);
  const rootPems: string[] = [];
  let activeIntermediates: string[] = [];
  roots.forEach((r, i) => {
    const ro = obj(r, `connect/ca/roots.Roots[${i}]`);
    const pem = str(ro.RootCert, `connect/ca/roots.Roots[${i}].RootCert`);
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConsulDataError(`connect/ca/roots.Roots[${i}].RootCert: not a PEM certificate`);
    rootPems.push(`${pem.trim()}\n`);
    const active = ro.Active === true || (activeRootId !== '' && ro.ID === activeRootId);
    if (active && Array.isArray(ro.IntermediateCerts))
      activeIntermediates = ro.IntermediateCerts.map(
        (c, j) => `${str(c, `connect/ca/roots.Roots[${i}].IntermediateCerts[${j}]`).trim()}\n`,
      );
  });
  if (rootPems.length === 0)
    throw new ConsulDataError('connect/ca/roots.Roots: empty; is Connect enabled on the agent?');
  const trustDomain = str(o.TrustDomain, 'connect/ca/roots.TrustDomain', true).toLowerCase();
  return { trustDomain, activeRootId, rootPems, activeIntermediates };
}

export interface ParsedLeaf {
  certPem: string;
  privateKeyPem: string;
  serviceUri: string;
  serial: string;
  validBefore?: string;
}

/** `/v1/agent/connect/ca/leaf/:service`. */
export function parseLeaf(body: unknown): ParsedLeaf {
  const o = obj(body, 'connect/ca/leaf');
  return {
    certPem: str(o.CertPEM, 'connect/ca/leaf.CertPEM'),
    privateKeyPem: str(o.PrivateKeyPEM, 'connect/ca/leaf.PrivateKeyPEM'),
    serviceUri: str(o.ServiceURI, 'connect/ca/leaf.ServiceURI', true),
    serial: str(o.SerialNumber, 'connect/ca/leaf.SerialNumber', true),
    validBefore: str(o.ValidBefore, 'connect/ca/leaf.ValidBefore', true) || undefined,
  };
}

/** `/v1/connect/intentions/check`: `{Allowed: bool}`. */
export function parseIntentionCheck(body: unknown): boolean {
  const o = obj(body, 'connect/intentions/check');
  if (typeof o.Allowed !== 'boolean')
    throw new ConsulDataError(`connect/intentions/check.Allowed: expected a boolean, got ${describe(o.Allowed)}`);
  return o.Allowed;
}

export interface IngressService {
  name: string;
  hosts: string[];
  requestHeadersToAdd: { name: string; value: string }[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: { name: string; value: string }[];
  responseHeadersToRemove: string[];
}
export interface IngressListener {
  port: number;
  protocol: 'tcp' | 'http' | 'http2' | 'grpc';
  services: IngressService[];
}

function headerOps(v: unknown, where: string): { add: { name: string; value: string }[]; remove: string[] } {
  const add: { name: string; value: string }[] = [];
  const remove: string[] = [];
  if (v === undefined || v === null) return { add, remove };
  const o = obj(v, where);
  for (const key of ['Add', 'Set'] as const) {
    if (o[key] === undefined || o[key] === null) continue;
    for (const [name, value] of Object.entries(obj(o[key], `${where}.${key}`)))
      add.push({ name, value: str(value, `${where}.${key}.${name}`) });
  }
  if (o.Remove !== undefined && o.Remove !== null)
    arr(o.Remove, `${where}.Remove`).forEach((h, i) => remove.push(str(h, `${where}.Remove[${i}]`)));
  return { add, remove };
}

/** `/v1/config/ingress-gateway/:name`. */
export function parseIngressGateway(body: unknown): IngressListener[] {
  const o = obj(body, 'config/ingress-gateway');
  const kind = str(o.Kind, 'config/ingress-gateway.Kind', true);
  if (kind && kind !== 'ingress-gateway')
    throw new ConsulDataError(`config/ingress-gateway.Kind: expected "ingress-gateway", got ${JSON.stringify(kind)}`);
  const listeners =
    o.Listeners === null || o.Listeners === undefined ? [] : arr(o.Listeners, 'config/ingress-gateway.Listeners');
  return listeners.map((l, i) => {
    const w = `config/ingress-gateway.Listeners[${i}]`;
    const lo = obj(l, w);
    const port = int(lo.Port, `${w}.Port`);
    if (port < 1 || port > 65535) throw new ConsulDataError(`${w}.Port: ${port} is not a port`);
    const protocol = (str(lo.Protocol, `${w}.Protocol`, true) || 'tcp').toLowerCase();
    if (!['tcp', 'http', 'http2', 'grpc'].includes(protocol))
      throw new ConsulDataError(`${w}.Protocol: ${JSON.stringify(protocol)} is not one of tcp, http, http2, grpc`);
    const services = lo.Services === null || lo.Services === undefined ? [] : arr(lo.Services, `${w}.Services`);
    return {
      port,
      protocol: protocol as IngressListener['protocol'],
      services: services.map((s, j) => {
        const sw = `${w}.Services[${j}]`;
        const so = obj(s, sw);
        const hosts =
          so.Hosts === null || so.Hosts === undefined
            ? []
            : arr(so.Hosts, `${sw}.Hosts`).map((h, k) => str(h, `${sw}.Hosts[${k}]`));
        const req = headerOps(so.RequestHeaders, `${sw}.RequestHeaders`);
        const res = headerOps(so.ResponseHeaders, `${sw}.ResponseHeaders`);
        return {
          name: str(so.Name, `${sw}.Name`),
          hosts,
          requestHeadersToAdd: req.add,
          requestHeadersToRemove: req.remove,
          responseHeadersToAdd: res.add,
          responseHeadersToRemove: res.remove,
        };
      }),
    };
  });
}
