// Gateway API (v1, standard channel) -> model routes, listeners and identities, plus the status
// every object should carry. Pure: reads the typed state, returns data; the status writer decides
// whether anything must be written.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type {
  Draft,
  GatewayListener,
  HeaderMatch,
  HeaderValue,
  Identity,
  Route,
  RouteMatch,
  WeightedBackend,
} from '@meshgate/model';
import { regexProblem } from '@meshgate/model';
import { serviceModelName } from './services.ts';
import type { GwObject, KubeState } from './state.ts';

export const GROUP = 'gateway.networking.k8s.io';
export const DEFAULT_CONTROLLER = 'meshgate.io/gateway-controller';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime?: string;
}

export type StatusKind = 'GatewayClass' | 'Gateway' | 'HTTPRoute' | 'GRPCRoute';

export interface RouteParentStatus {
  parentRef: Record<string, unknown>;
  controllerName: string;
  conditions: Condition[];
}

/** The status meshgate wants an object to have. For routes: only the parents this controller owns. */
export interface DesiredStatus {
  kind: StatusKind;
  namespace: string;
  name: string;
  conditions?: Condition[];
  listeners?: {
    name: string;
    supportedKinds: { group: string; kind: string }[];
    attachedRoutes: number;
    conditions: Condition[];
  }[];
  parents?: RouteParentStatus[];
}

export interface GatewayOptions {
  controllerName: string;
  /** Whether objects of this namespace are read (namespace scoping). */
  inScope: (namespace: string) => boolean;
  source: string;
  /**
   * Mesh policy the gateway cannot honour for a Service (`<ns>/<name>`), from the mesh hook. A route sending to such
   * a Service says so in its status, where the route's owner looks, not only on meshgate's /readyz.
   */
  meshConditions?: (serviceKey: string) => readonly string[] | undefined;
  /** Linkerd's injected-ingress mode: listeners drop client-sent `l5d-*` headers, which would steer the gateway's proxy. */
  linkerdIngress?: boolean;
}

/** Implementation-specific route condition: False while a backend Service has mesh policy the gateway cannot honour. */
export const LINKERD_HEADER_PREFIX = 'l5d-';

export const MESH_POLICY_CONDITION = 'meshgate.io/MeshPolicyHonoured';

export interface GatewayBuild {
  routes: Route[];
  listeners: GatewayListener[];
  identities: Identity[];
  statuses: DesiredStatus[];
}

const cond = (type: string, ok: boolean, reason: string, message: string, generation: number): Condition => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
  observedGeneration: generation,
});

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Gateway API durations ("1h", "10s", "500ms", "1m30s") in milliseconds; undefined when malformed. */
export function parseGwDuration(s: unknown): number | undefined {
  if (typeof s !== 'string' || !/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(s)) return undefined;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let ms = 0;
  for (const m of s.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(m[1]) * unit[m[2]];
  return ms;
}

/** Whether a ReferenceGrant in the target namespace lets `from` refer to `to`. */
export function referenceAllowed(
  state: KubeState,
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; namespace: string; name: string },
): boolean {
  if (from.namespace === to.namespace) return true;
  for (const g of state.referenceGrants.values()) {
    if (g.namespace !== to.namespace) continue;
    const froms = Array.isArray(g.spec.from) ? g.spec.from : [];
    const tos = Array.isArray(g.spec.to) ? g.spec.to : [];
    const f = froms.some(
      (x: { group?: string; kind?: string; namespace?: string }) =>
        (x.group ?? '') === from.group && x.kind === from.kind && x.namespace === from.namespace,
    );
    const t = tos.some(
      (x: { group?: string; kind?: string; name?: string }) =>
        (x.group ?? '') === to.group && x.kind === to.kind && (!x.name || x.name === to.name),
    );
    if (f && t) return true;
  }
  return false;
}

/**
 * Hostnames a route answers on a listener: the intersection of the listener's hostname (none =
 * any) and the route's hostnames (none = any), wildcards included. Empty = no match.
 */
export function intersectHostnames(listener: string | undefined, route: string[]): string[] {
  if (!listener) return route.length ? [...route] : ['*'];
  if (route.length === 0) return [listener];
  const matches = (wild: string, host: string) =>
    wild.startsWith('*.') && host.endsWith(wild.slice(1)) && host.length > wild.length - 1;
  const out = new Set<string>();
  for (const h of route) {
    if (h === listener) out.add(h);
    else if (matches(listener, h)) out.add(h);
    else if (matches(h, listener)) out.add(listener);
  }
  return [...out];
}

/** A label selector (matchLabels + matchExpressions) against a label set. */
export function selectorMatches(sel: unknown, labels: Record<string, string>): boolean {
  if (!sel || typeof sel !== 'object') return true;
  const s = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

interface ListenerInfo {
  gw: GwObject;
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  // biome-ignore lint/suspicious/noExplicitAny: raw spec
  allowedRoutes: any;
  kinds: string[];
  valid: boolean;
  programmed: boolean;
  identities: string[];
  attached: number;
  conditions: Condition[];
}

const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'];

function gatewayListeners(gw: GwObject, state: KubeState, identities: Map<string, Identity>): ListenerInfo[] {
  const gen = gw.generation;
  const raw = Array.isArray(gw.spec.listeners) ? gw.spec.listeners : [];
  const out: ListenerInfo[] = [];
  const protocolsByPort = new Map<number, Set<string>>();
  for (const l of raw) {
    const set = protocolsByPort.get(l.port) ?? new Set();
    set.add(l.protocol);
    protocolsByPort.set(l.port, set);
  }
  const seenHost = new Set<string>();
  for (const l of raw) {
    const conds: Condition[] = [];
    let valid = true;
    let resolved = true;
    let resolvedReason = 'ResolvedRefs';
    let resolvedMsg = 'all references resolved';
    const ids: string[] = [];
    let acceptedReason = 'Accepted';
    let acceptedMsg = 'listener accepted';
    if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') {
      valid = false;
      acceptedReason = 'UnsupportedProtocol';
      acceptedMsg = `protocol ${l.protocol} is not supported by meshgate; use HTTP or HTTPS`;
    }
    // Kinds: the listener's allowedRoutes.kinds, or every kind meshgate serves.
    let kinds = ROUTE_KINDS;
    const wanted = l.allowedRoutes?.kinds;
    if (Array.isArray(wanted) && wanted.length) {
      const ok = wanted.filter(
        (k: { group?: string; kind: string }) => (k.group ?? GROUP) === GROUP && ROUTE_KINDS.includes(k.kind),
      );
      kinds = ok.map((k: { kind: string }) => k.kind);
      if (ok.length !== wanted.length) {
        resolved = false;
        resolvedReason = 'InvalidRouteKinds';
        resolvedMsg = `route kinds other than ${ROUTE_KINDS.join(', ')} are not supported`;
      }
    }
    const conflicted = (protocolsByPort.get(l.port)?.size ?? 0) > 1;
    const hostKey = `${l.port}|${l.hostname ?? ''}`;
    const hostConflict = seenHost.has(hostKey);
    seenHost.add(hostKey);
    if (l.protocol === 'HTTPS' && valid) {
      const mode = l.tls?.mode ?? 'Terminate';
      const refs = Array.isArray(l.tls?.certificateRefs) ? l.tls.certificateRefs : [];
      if (mode !== 'Terminate') {
        valid = false;
        acceptedReason = 'UnsupportedValue';
        acceptedMsg = `tls.mode ${mode} is not supported on HTTPS listeners; use Terminate`;
      } else if (refs.length === 0) {
        resolved = false;
        resolvedReason = 'InvalidCertificateRef';
        resolvedMsg = 'an HTTPS listener needs tls.certificateRefs';
      }
      for (const ref of refs) {
        const ns = ref.namespace ?? gw.namespace;
        const id = `k8s/${ns}/${ref.name}`;
        if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') {
          resolved = false;
          resolvedReason = 'InvalidCertificateRef';
          resolvedMsg = `certificateRef ${ref.name}: only core Secrets are supported`;
          continue;
        }
        if (
          !referenceAllowed(
            state,
            { group: GROUP, kind: 'Gateway', namespace: gw.namespace },
            { group: '', kind: 'Secret', namespace: ns, name: ref.name },
          )
        ) {
          resolved = false;
          resolvedReason = 'RefNotPermitted';
          resolvedMsg = `certificateRef ${ns}/${ref.name}: no ReferenceGrant in ${ns} allows Gateways from ${gw.namespace}`;
          continue;
        }
        const secret = state.secrets.get(`${ns}/${ref.name}`);
        const bad = secretProblem(secret);
        if (bad) {
          resolved = false;
          resolvedReason = 'InvalidCertificateRef';
          resolvedMsg = `certificateRef ${ns}/${ref.name}: ${bad}`;
          continue;
        }
        ids.push(id);
        if (!identities.has(id))
          identities.set(id, { name: id, certChainPem: secret!.cert!, privateKeyPem: secret!.key! });
      }
      if (ids.length === 0 && resolved) resolved = false;
    }
    const programmed = valid && resolved && !conflicted && !hostConflict && (l.protocol !== 'HTTPS' || ids.length > 0);
    conds.push(cond('Accepted', valid, acceptedReason, acceptedMsg, gen));
    conds.push(
      cond(
        'Conflicted',
        conflicted || hostConflict,
        conflicted ? 'ProtocolConflict' : hostConflict ? 'HostnameConflict' : 'NoConflicts',
        conflicted
          ? `port ${l.port} has listeners of different protocols`
          : hostConflict
            ? `another listener on port ${l.port} has the same hostname`
            : 'no conflicts',
        gen,
      ),
    );
    conds.push(cond('ResolvedRefs', resolved, resolvedReason, resolvedMsg, gen));
    conds.push(
      cond(
        'Programmed',
        programmed,
        programmed ? 'Programmed' : 'Invalid',
        programmed ? 'served over xDS' : 'not served: see the other conditions',
        gen,
      ),
    );
    out.push({
      gw,
      name: l.name,
      port: l.port,
      protocol: l.protocol,
      ...(l.hostname ? { hostname: l.hostname } : {}),
      allowedRoutes: l.allowedRoutes ?? {},
      kinds,
      valid,
      programmed,
      identities: ids,
      attached: 0,
      conditions: conds,
    });
  }
  return out;
}

/** Why a TLS Secret cannot be served, or undefined. Never echoes key material. */
export function secretProblem(s: { type: string; cert?: string; key?: string } | undefined): string | undefined {
  if (!s) return 'Secret not found';
  if (!s.cert || !s.key) return 'Secret has no tls.crt and tls.key';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(s.cert);
  } catch {
    return 'tls.crt is not a PEM certificate';
  }
  try {
    const key = createPrivateKey(s.key);
    if (!cert.checkPrivateKey(key)) return 'tls.key does not belong to the certificate in tls.crt';
  } catch {
    return 'tls.key is not a PEM private key';
  }
  if (Date.parse(cert.validTo) < Date.now()) return `certificate expired at ${cert.validTo}`;
  return undefined;
}

interface BuiltRule {
  routes: Route[];
  problems: string[];
}

function headerMods(f: {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}): { add: HeaderValue[]; remove: string[] } {
  return {
    add: [
      ...(f.set ?? []).map((h) => ({ name: h.name.toLowerCase(), value: h.value })),
      ...(f.add ?? []).map((h) => ({ name: h.name.toLowerCase(), value: h.value, append: true })),
    ],
    remove: (f.remove ?? []).map((h) => h.toLowerCase()),
  };
}

function headerMatches(list: unknown, problems: string[]): HeaderMatch[] {
  const out: HeaderMatch[] = [];
  for (const h of Array.isArray(list) ? list : []) {
    const type = h.type ?? 'Exact';
    if (type === 'Exact') out.push({ name: String(h.name).toLowerCase(), exact: String(h.value) });
    else if (type === 'RegularExpression') {
      const bad = regexProblem(String(h.value));
      if (bad) problems.push(`header ${h.name}: ${bad}`);
      else out.push({ name: String(h.name).toLowerCase(), regex: String(h.value) });
    } else problems.push(`header match type ${type} is not supported`);
  }
  return out;
}

function httpMatch(m: Record<string, unknown> | undefined, problems: string[]): RouteMatch | undefined {
  const before = problems.length;
  const match: Draft<RouteMatch> = { prefix: '/' };
  // biome-ignore lint/suspicious/noExplicitAny: raw spec
  const path = (m?.path ?? { type: 'PathPrefix', value: '/' }) as any;
  const type = path.type ?? 'PathPrefix';
  const value = String(path.value ?? '/');
  delete match.prefix;
  if (type === 'Exact') match.path = value;
  else if (type === 'PathPrefix') match.prefix = value;
  else if (type === 'RegularExpression') {
    const bad = regexProblem(value);
    if (bad) problems.push(`path: ${bad}`);
    else match.regex = value;
  } else problems.push(`path match type ${type} is not supported`);
  const headers = headerMatches(m?.headers, problems);
  if (typeof m?.method === 'string') headers.push({ name: ':method', exact: m.method });
  if (headers.length) match.headers = headers;
  const qs = Array.isArray(m?.queryParams) ? m.queryParams : [];
  const queryParams = [];
  for (const q of qs) {
    const t = q.type ?? 'Exact';
    if (t === 'Exact') queryParams.push({ name: String(q.name), exact: String(q.value) });
    else if (t === 'RegularExpression') {
      const bad = regexProblem(String(q.value));
      if (bad) problems.push(`query parameter ${q.name}: ${bad}`);
      else queryParams.push({ name: String(q.name), regex: String(q.value) });
    } else problems.push(`query parameter match type ${t} is not supported`);
  }
  if (queryParams.length) match.queryParams = queryParams;
  return problems.length > before ? undefined : match;
}

function grpcMatch(m: Record<string, unknown> | undefined, problems: string[]): RouteMatch | undefined {
  const before = problems.length;
  const match: Draft<RouteMatch> = {};
  // biome-ignore lint/suspicious/noExplicitAny: raw spec
  const method = m?.method as any;
  const type = method?.type ?? 'Exact';
  const svc = method?.service as string | undefined;
  const meth = method?.method as string | undefined;
  if (type === 'Exact') {
    if (svc && meth) match.path = `/${svc}/${meth}`;
    else if (svc) match.prefix = `/${svc}/`;
    else if (meth) match.regex = `/[^/]+/${meth.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
    else match.prefix = '/';
  } else if (type === 'RegularExpression') {
    const re = `/${svc ?? '[^/]+'}/${meth ?? '[^/]+'}`;
    const bad = regexProblem(re);
    if (bad) problems.push(`method: ${bad}`);
    else match.regex = re;
  } else problems.push(`method match type ${type} is not supported`);
  const headers = headerMatches(m?.headers, problems);
  if (headers.length) match.headers = headers;
  return problems.length > before ? undefined : match;
}

interface BackendResult {
  backends: WeightedBackend[];
  /** First failure reason (spec order of importance) and all messages. */
  reason?: string;
  messages: string[];
}

function resolveBackends(
  state: KubeState,
  route: GwObject,
  kind: StatusKind,
  refs: unknown,
  o: GatewayOptions,
): BackendResult {
  const out: BackendResult = { backends: [], messages: [] };
  const fail = (reason: string, msg: string) => {
    out.reason ??= reason;
    out.messages.push(msg);
  };
  for (const b of Array.isArray(refs) ? refs : []) {
    const weight = b.weight ?? 1;
    const ns = b.namespace ?? route.namespace;
    const label = `${ns}/${b.name}${b.port ? `:${b.port}` : ''}`;
    if ((b.group ?? '') !== '' || (b.kind ?? 'Service') !== 'Service') {
      fail(
        'InvalidKind',
        `backendRef ${label}: kind ${b.group ? `${b.group}/` : ''}${b.kind} is not supported; use a Service`,
      );
      continue;
    }
    if (
      !referenceAllowed(
        state,
        { group: GROUP, kind, namespace: route.namespace },
        { group: '', kind: 'Service', namespace: ns, name: b.name },
      )
    ) {
      fail(
        'RefNotPermitted',
        `backendRef ${label}: no ReferenceGrant in ${ns} allows ${kind}s from ${route.namespace}`,
      );
      continue;
    }
    const svc = o.inScope(ns) ? state.services.get(`${ns}/${b.name}`) : undefined;
    if (!svc) {
      fail('BackendNotFound', `backendRef ${label}: Service ${ns}/${b.name} not found`);
      continue;
    }
    if (b.port === undefined) {
      fail('UnsupportedValue', `backendRef ${label}: port is required for a Service`);
      continue;
    }
    if (!svc.ports.some((p) => p.port === b.port && p.protocol === 'TCP')) {
      fail('BackendNotFound', `backendRef ${label}: Service ${ns}/${b.name} has no TCP port ${b.port}`);
      continue;
    }
    if (weight > 0) out.backends.push({ service: serviceModelName(ns, b.name, b.port), weight });
  }
  return out;
}

function buildRules(
  state: KubeState,
  route: GwObject,
  kind: StatusKind,
  o: GatewayOptions,
): BuiltRule & { resolved: BackendResult } {
  const rules = Array.isArray(route.spec.rules) ? route.spec.rules : [];
  const routes: Route[] = [];
  const problems: string[] = [];
  const resolvedAll: BackendResult = { backends: [], messages: [] };
  const base = `k8s/${route.namespace}/${kind.toLowerCase()}/${route.name}`;
  rules.forEach((rule: Record<string, unknown>, i: number) => {
    const ruleName = typeof rule.name === 'string' && rule.name ? rule.name : `r${i}`;
    const ruleProblems: string[] = [];
    const res = resolveBackends(state, route, kind, rule.backendRefs, o);
    if (res.reason) {
      resolvedAll.reason ??= res.reason;
      resolvedAll.messages.push(...res.messages);
    }
    const extra: Partial<Draft<Route>> = {};
    for (const f of Array.isArray(rule.filters) ? rule.filters : []) {
      if (f.type === 'RequestHeaderModifier') {
        const m = headerMods(f.requestHeaderModifier ?? {});
        extra.requestHeadersToAdd = [...(extra.requestHeadersToAdd ?? []), ...m.add];
        extra.requestHeadersToRemove = [...(extra.requestHeadersToRemove ?? []), ...m.remove];
      } else if (f.type === 'ResponseHeaderModifier') {
        const m = headerMods(f.responseHeaderModifier ?? {});
        extra.responseHeadersToAdd = [...(extra.responseHeadersToAdd ?? []), ...m.add];
        extra.responseHeadersToRemove = [...(extra.responseHeadersToRemove ?? []), ...m.remove];
      } else if (f.type === 'RequestRedirect' && kind === 'HTTPRoute') {
        const r = f.requestRedirect ?? {};
        extra.redirect = {
          ...(r.scheme ? { scheme: r.scheme } : {}),
          ...(r.hostname ? { host: r.hostname } : {}),
          ...(r.port ? { port: r.port } : {}),
          ...(r.path?.type === 'ReplaceFullPath' ? { path: r.path.replaceFullPath } : {}),
          ...(r.path?.type === 'ReplacePrefixMatch' ? { prefix: r.path.replacePrefixMatch } : {}),
          ...(r.statusCode ? { statusCode: r.statusCode } : {}),
        };
      } else if (f.type === 'URLRewrite' && kind === 'HTTPRoute') {
        const r = f.urlRewrite ?? {};
        extra.rewrite = {
          ...(r.hostname ? { host: r.hostname } : {}),
          ...(r.path?.type === 'ReplaceFullPath' ? { path: r.path.replaceFullPath } : {}),
          ...(r.path?.type === 'ReplacePrefixMatch' ? { prefix: r.path.replacePrefixMatch } : {}),
        };
      } else ruleProblems.push(`filter ${f.type} is not supported`);
    }
    const timeouts = rule.timeouts as { request?: string } | undefined;
    if (timeouts?.request !== undefined) {
      const ms = parseGwDuration(timeouts.request);
      if (ms === undefined) ruleProblems.push(`timeouts.request ${JSON.stringify(timeouts.request)} is not a duration`);
      else if (ms > 0) extra.timeoutMs = ms;
    }
    const rawMatches = Array.isArray(rule.matches) && rule.matches.length ? rule.matches : [undefined];
    const matches = rawMatches.map((m: Record<string, unknown> | undefined) =>
      kind === 'HTTPRoute' ? httpMatch(m, ruleProblems) : grpcMatch(m, ruleProblems),
    );
    if (ruleProblems.length) {
      problems.push(...ruleProblems.map((p) => `rule ${ruleName}: ${p}`));
      return;
    }
    matches.forEach((match: RouteMatch | undefined, j: number) => {
      const r: Draft<Route> = {
        name: `${base}/${ruleName}/m${j}`,
        hosts: [],
        match: match as Draft<RouteMatch>,
        backends: [],
        ...extra,
        source: o.source,
      };
      if (extra.redirect) r.backends = [];
      else if (res.backends.length) r.backends = res.backends;
      // Gateway API: a rule whose backends all fail to resolve answers 500.
      else r.directResponse = { status: 500 };
      if (extra.redirect && extra.rewrite) delete r.rewrite;
      if (r.redirect && r.match.prefix === undefined && r.redirect.prefix !== undefined) {
        problems.push(`rule ${ruleName}: ReplacePrefixMatch needs a PathPrefix match`);
        return;
      }
      routes.push(r);
    });
  });
  return { routes, problems, resolved: resolvedAll };
}

/**
 * Everything the Gateway API objects in the state ask for. Only GatewayClasses whose
 * controllerName is meshgate's, their Gateways, and the routes attached to them are used;
 * status is produced for exactly those (other controllers' parent entries are left alone).
 */
/** The mesh conditions of the Services a route's backends name (model names `<source>/<ns>/<svc>/<port>`). */
function meshConditionsOf(routes: readonly Route[], of: (serviceKey: string) => readonly string[] | undefined) {
  const keys = new Set<string>();
  for (const r of routes)
    for (const b of r.backends) {
      const [, ns, svc] = b.service.split('/');
      if (ns && svc) keys.add(`${ns}/${svc}`);
    }
  return [...new Set([...keys].sort(cmp).flatMap((k) => of(k) ?? []))];
}

export function buildGatewayApi(state: KubeState, o: GatewayOptions): GatewayBuild {
  const statuses: DesiredStatus[] = [];
  const ourClasses = new Set<string>();
  for (const gc of [...state.gatewayClasses.values()].sort((a, b) => cmp(a.name, b.name))) {
    if (gc.spec.controllerName !== o.controllerName) continue;
    ourClasses.add(gc.name);
    statuses.push({
      kind: 'GatewayClass',
      namespace: '',
      name: gc.name,
      conditions: [cond('Accepted', true, 'Accepted', 'handled by meshgate', gc.generation)],
    });
  }
  const identities = new Map<string, Identity>();
  const gateways = new Map<string, { gw: GwObject; listeners: ListenerInfo[] }>();
  for (const gw of [...state.gateways.values()].sort((a, b) =>
    cmp(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
  )) {
    if (!ourClasses.has(gw.spec.gatewayClassName) || !o.inScope(gw.namespace)) continue;
    gateways.set(`${gw.namespace}/${gw.name}`, { gw, listeners: gatewayListeners(gw, state, identities) });
  }

  const modelRoutes: Route[] = [];
  const listenerRoutes = new Map<string, Set<string>>(); // `${gwKey}|${listenerName}` -> route names
  const routeObjects: [StatusKind, GwObject][] = [
    ...[...state.httpRoutes.values()].map((r) => ['HTTPRoute', r] as [StatusKind, GwObject]),
    ...[...state.grpcRoutes.values()].map((r) => ['GRPCRoute', r] as [StatusKind, GwObject]),
  ].sort(([ka, a], [kb, b]) => cmp(`${ka}/${a.namespace}/${a.name}`, `${kb}/${b.namespace}/${b.name}`));

  for (const [kind, route] of routeObjects) {
    if (!o.inScope(route.namespace)) continue;
    const gen = route.generation;
    const parents: RouteParentStatus[] = [];
    const hostnames: string[] = Array.isArray(route.spec.hostnames) ? route.spec.hostnames : [];
    const attachedTo: { key: string; hosts: string[] }[] = [];
    let built: ReturnType<typeof buildRules> | undefined;
    for (const ref of Array.isArray(route.spec.parentRefs) ? route.spec.parentRefs : []) {
      if ((ref.group ?? GROUP) !== GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') continue;
      const gwKey = `${ref.namespace ?? route.namespace}/${ref.name}`;
      const g = gateways.get(gwKey);
      if (!g) continue; // not meshgate's (or not there): another controller's business
      built ??= buildRules(state, route, kind, o);
      const candidates = g.listeners.filter(
        (l) =>
          (ref.sectionName === undefined || l.name === ref.sectionName) &&
          (ref.port === undefined || l.port === ref.port),
      );
      let accepted: Condition;
      if (candidates.length === 0) {
        accepted = cond(
          'Accepted',
          false,
          'NoMatchingParent',
          `Gateway ${gwKey} has no listener matching sectionName/port`,
          gen,
        );
      } else {
        const allowed = candidates.filter(
          (l) => l.valid && l.kinds.includes(kind) && namespaceAllowed(l, route.namespace, state),
        );
        const hosted = allowed
          .map((l) => ({ l, hosts: intersectHostnames(l.hostname, hostnames) }))
          .filter((x) => x.hosts.length > 0);
        if (allowed.length === 0)
          accepted = cond(
            'Accepted',
            false,
            'NotAllowedByListeners',
            `no listener of Gateway ${gwKey} allows this ${kind} from namespace ${route.namespace}`,
            gen,
          );
        else if (hosted.length === 0)
          accepted = cond(
            'Accepted',
            false,
            'NoMatchingListenerHostname',
            `no listener hostname of Gateway ${gwKey} intersects the route's hostnames`,
            gen,
          );
        else if (built.routes.length === 0 && built.problems.length > 0)
          accepted = cond('Accepted', false, 'UnsupportedValue', built.problems.join('; '), gen);
        else {
          accepted = cond('Accepted', true, 'Accepted', 'attached', gen);
          for (const { l, hosts } of hosted) {
            l.attached++;
            attachedTo.push({ key: `${gwKey}|${l.name}`, hosts });
          }
        }
      }
      const resolved = built.resolved.reason
        ? cond('ResolvedRefs', false, built.resolved.reason, built.resolved.messages.join('; '), gen)
        : cond('ResolvedRefs', true, 'ResolvedRefs', 'all backendRefs resolved', gen);
      const conditions = [accepted, resolved];
      if (accepted.status === 'True' && built.problems.length)
        conditions.push(
          cond('PartiallyInvalid', true, 'UnsupportedValue', `rules left out: ${built.problems.join('; ')}`, gen),
        );
      const mesh = o.meshConditions ? meshConditionsOf(built.routes, o.meshConditions) : [];
      if (mesh.length)
        conditions.push(
          // The API caps a condition message at 32768 characters; the reason is the hook's leading CamelCase word.
          cond(
            MESH_POLICY_CONDITION,
            false,
            /^[A-Za-z][A-Za-z0-9]*/.exec(mesh[0]!)?.[0] ?? 'MeshPolicy',
            mesh.join('; ').slice(0, 32000),
            gen,
          ),
        );
      const parentRef: Record<string, unknown> = { group: GROUP, kind: 'Gateway', ...ref };
      parents.push({ parentRef, controllerName: o.controllerName, conditions });
    }
    if (parents.length === 0) continue;
    statuses.push({ kind, namespace: route.namespace, name: route.name, parents });
    if (attachedTo.length && built) {
      const hosts = [...new Set(attachedTo.flatMap((a) => a.hosts))].sort(cmp);
      for (const r of built.routes) {
        modelRoutes.push({ ...r, hosts });
        for (const a of attachedTo) {
          let set = listenerRoutes.get(a.key);
          if (!set) listenerRoutes.set(a.key, (set = new Set()));
          set.add(r.name);
        }
      }
    }
  }

  const listeners: GatewayListener[] = [];
  for (const [gwKey, { gw, listeners: ls }] of gateways) {
    const byPort = new Map<number, { routes: Set<string>; identities: Set<string> }>();
    for (const l of ls) {
      if (!l.programmed) continue;
      let p = byPort.get(l.port);
      if (!p) byPort.set(l.port, (p = { routes: new Set(), identities: new Set() }));
      for (const r of listenerRoutes.get(`${gwKey}|${l.name}`) ?? []) p.routes.add(r);
      for (const id of l.identities) p.identities.add(id);
    }
    for (const [port, p] of [...byPort].sort(([a], [b]) => a - b))
      listeners.push({
        name: `k8s/${gw.namespace}/${gw.name}/${port}`,
        port,
        routes: [...p.routes].sort(cmp),
        ...(p.identities.size ? { tls: { identities: [...p.identities].sort(cmp) } } : {}),
        ...(o.linkerdIngress ? { removeRequestHeaderPrefixes: [LINKERD_HEADER_PREFIX] } : {}),
        source: o.source,
      });
    const anyValid = ls.some((l) => l.valid);
    const anyProgrammed = ls.some((l) => l.programmed);
    statuses.push({
      kind: 'Gateway',
      namespace: gw.namespace,
      name: gw.name,
      conditions: [
        cond(
          'Accepted',
          anyValid,
          anyValid ? 'Accepted' : 'ListenersNotValid',
          anyValid ? 'accepted by meshgate' : 'no listener is valid',
          gw.generation,
        ),
        cond(
          'Programmed',
          anyProgrammed,
          anyProgrammed ? 'Programmed' : 'Invalid',
          anyProgrammed ? 'served over xDS' : 'no listener is programmed',
          gw.generation,
        ),
      ],
      listeners: ls.map((l) => ({
        name: l.name,
        supportedKinds: l.kinds.map((kind) => ({ group: GROUP, kind })),
        attachedRoutes: l.attached,
        conditions: l.conditions,
      })),
    });
  }
  return {
    routes: modelRoutes.sort((a, b) => cmp(a.name, b.name)),
    listeners,
    identities: [...identities.values()].map((i) => ({ ...i, source: o.source })),
    statuses,
  };
}

function namespaceAllowed(l: ListenerInfo, ns: string, state: KubeState): boolean {
  const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return ns === l.gw.namespace;
  if (from === 'Selector') {
    const labels = state.namespaces.get(ns);
    return labels !== undefined && selectorMatches(l.allowedRoutes.namespaces.selector, labels);
  }
  return false;
}
