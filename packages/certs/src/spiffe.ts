import { CertError } from './errors.ts';

/**
 * SPIFFE IDs per the SPIFFE-ID spec, parsed strictly: anything a peer might normalise differently (upper case trust
 * domain, percent escapes, dot segments, ports, query) is refused instead of being "fixed", because identities are
 * compared as exact strings by Envoy, Istio, Consul and Linkerd.
 */
export interface SpiffeId {
  trustDomain: string;
  /** "" for a trust-domain ID, else "/seg/seg". */
  path: string;
  segments: string[];
  /** The canonical string, equal to the input. */
  id: string;
}

const MAX_ID = 2048;
const MAX_TD = 255;
const TD_CHARS = /^[a-z0-9._-]+$/;
const SEG_CHARS = /^[A-Za-z0-9._-]+$/;

function bad(input: string, why: string): CertError {
  const shown = input.length > 120 ? `${input.slice(0, 120)}...` : input;
  return new CertError('SPIFFE_INVALID', `invalid SPIFFE ID "${shown}": ${why}`);
}

export function parseSpiffeId(input: string, opts: { requirePath?: boolean } = {}): SpiffeId {
  if (typeof input !== 'string' || input.length === 0)
    throw bad(String(input ?? ''), 'it is empty; expected spiffe://<trust-domain>/<path>');
  if (Buffer.byteLength(input) > MAX_ID) throw bad(input, `it is longer than ${MAX_ID} bytes`);
  if (!input.startsWith('spiffe://')) {
    if (/^spiffe:\/\//i.test(input)) throw bad(input, 'the scheme must be lower-case "spiffe://"');
    throw bad(input, 'it must start with "spiffe://"');
  }
  const rest = input.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (td.length === 0) throw bad(input, 'the trust domain is missing');
  if (td.includes('@')) throw bad(input, 'user info ("user@") is not allowed');
  if (td.includes(':')) throw bad(input, 'a port is not allowed in the trust domain');
  if (input.includes('?')) throw bad(input, 'a query ("?...") is not allowed');
  if (input.includes('#')) throw bad(input, 'a fragment ("#...") is not allowed');
  if (td.length > MAX_TD) throw bad(input, `the trust domain is longer than ${MAX_TD} characters`);
  if (!TD_CHARS.test(td)) {
    if (/[A-Z]/.test(td)) throw bad(input, `the trust domain "${td}" must be lower-case`);
    throw bad(input, `the trust domain "${td}" may only contain a-z, 0-9, ".", "-" and "_"`);
  }
  const segments: string[] = [];
  if (path.length > 0) {
    if (path.endsWith('/')) throw bad(input, 'the path must not end with "/"');
    for (const seg of path.slice(1).split('/')) {
      if (seg.length === 0) throw bad(input, 'the path has an empty segment ("//")');
      if (seg === '.' || seg === '..') throw bad(input, `the path segment "${seg}" is not allowed`);
      if (!SEG_CHARS.test(seg)) {
        throw bad(
          input,
          `the path segment "${seg}" may only contain A-Z, a-z, 0-9, ".", "-" and "_" (no percent-encoding)`,
        );
      }
      segments.push(seg);
    }
  }
  if (opts.requirePath && segments.length === 0)
    throw bad(input, 'a workload ID needs a path, e.g. spiffe://example.org/ns/default/sa/web');
  return { trustDomain: td, path, segments, id: input };
}

export function isSpiffeId(input: string): boolean {
  try {
    parseSpiffeId(input);
    return true;
  } catch {
    return false;
  }
}

function checkTrustDomain(td: string): void {
  parseSpiffeId(`spiffe://${td}`);
}

function checkSegment(value: string, what: string): void {
  if (!value || !SEG_CHARS.test(value) || value === '.' || value === '..') {
    throw new CertError(
      'IDENTITY_INVALID',
      `${what} "${value}" is not a valid SPIFFE path segment (A-Z, a-z, 0-9, ".", "-", "_")`,
    );
  }
}

// ---- Istio: spiffe://<td>/ns/<ns>/sa/<sa>

export interface IstioIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function istioSpiffeId(o: { trustDomain?: string; namespace: string; serviceAccount: string }): string {
  const td = o.trustDomain ?? 'cluster.local';
  checkTrustDomain(td);
  checkSegment(o.namespace, 'namespace');
  checkSegment(o.serviceAccount, 'service account');
  return `spiffe://${td}/ns/${o.namespace}/sa/${o.serviceAccount}`;
}

export function parseIstioSpiffeId(id: string): IstioIdentity {
  const p = parseSpiffeId(id);
  const s = p.segments;
  if (s.length !== 4 || s[0] !== 'ns' || s[2] !== 'sa') {
    throw new CertError(
      'SPIFFE_INVALID',
      `"${id}" is not an Istio workload ID; expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
  }
  return { trustDomain: p.trustDomain, namespace: s[1], serviceAccount: s[3] };
}

// ---- Consul: spiffe://<td>/ns/<ns>/dc/<dc>/svc/<svc>, or /ap/<ap>/ns/... for a non-default partition

export interface ConsulIdentity {
  trustDomain: string;
  partition: string;
  namespace: string;
  datacenter: string;
  service: string;
}

export function consulSpiffeId(o: {
  trustDomain: string;
  partition?: string;
  namespace?: string;
  datacenter: string;
  service: string;
}): string {
  checkTrustDomain(o.trustDomain);
  const ns = o.namespace ?? 'default';
  const ap = o.partition ?? 'default';
  checkSegment(ns, 'namespace');
  checkSegment(ap, 'partition');
  checkSegment(o.datacenter, 'datacenter');
  checkSegment(o.service, 'service');
  // Consul writes the partition segment only for non-default partitions, so the default form stays compatible with CE.
  const apPart = ap === 'default' ? '' : `/ap/${ap}`;
  return `spiffe://${o.trustDomain}${apPart}/ns/${ns}/dc/${o.datacenter}/svc/${o.service}`;
}

export function parseConsulSpiffeId(id: string): ConsulIdentity {
  const p = parseSpiffeId(id);
  let s = p.segments;
  let partition = 'default';
  if (s.length === 8 && s[0] === 'ap') {
    partition = s[1];
    s = s.slice(2);
  }
  if (s.length !== 6 || s[0] !== 'ns' || s[2] !== 'dc' || s[4] !== 'svc') {
    throw new CertError(
      'SPIFFE_INVALID',
      `"${id}" is not a Consul service ID; expected spiffe://<trust-domain>[/ap/<partition>]/ns/<namespace>/dc/<datacenter>/svc/<service>`,
    );
  }
  return { trustDomain: p.trustDomain, partition, namespace: s[1], datacenter: s[3], service: s[5] };
}

// ---- DNS names and Linkerd identities: <sa>.<ns>.serviceaccount.identity.<control-ns>.<td>

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `name` is not a valid lower-case DNS name (RFC 1123 labels), or undefined when it is. */
export function dnsNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'it is empty';
  if (name.length > 253) return 'it is longer than 253 characters';
  if (name.endsWith('.')) return 'it must not end with "."';
  for (const label of name.split('.')) {
    if (label.length === 0) return 'it has an empty label ("..")';
    if (label.length > 63) return `the label "${label.slice(0, 20)}..." is longer than 63 characters`;
    if (!LABEL.test(label)) {
      if (/[A-Z]/.test(label)) return `the label "${label}" must be lower-case`;
      return `the label "${label}" may only contain a-z, 0-9 and "-", and must not start or end with "-"`;
    }
  }
  return undefined;
}

export function assertDnsName(name: string, what = 'DNS name'): void {
  const why = dnsNameProblem(name);
  if (why) throw new CertError('DNS_NAME_INVALID', `invalid ${what} "${name}": ${why}`);
}

export interface LinkerdIdentity {
  serviceAccount: string;
  namespace: string;
  controlNamespace: string;
  trustDomain: string;
}

export function linkerdIdentity(o: {
  serviceAccount: string;
  namespace: string;
  controlNamespace?: string;
  trustDomain?: string;
}): string {
  for (const [v, what] of [
    [o.serviceAccount, 'service account'],
    [o.namespace, 'namespace'],
  ] as const) {
    if (!LABEL.test(v ?? ''))
      throw new CertError(
        'IDENTITY_INVALID',
        `${what} "${v}" must be a single DNS label (a-z, 0-9, "-", at most 63 characters)`,
      );
  }
  const name = `${o.serviceAccount}.${o.namespace}.serviceaccount.identity.${o.controlNamespace ?? 'linkerd'}.${o.trustDomain ?? 'cluster.local'}`;
  parseLinkerdIdentity(name);
  return name;
}

export function parseLinkerdIdentity(name: string): LinkerdIdentity {
  const why = dnsNameProblem(name);
  if (why) throw new CertError('IDENTITY_INVALID', `invalid Linkerd identity "${name}": ${why}`);
  const marker = '.serviceaccount.identity.';
  const at = name.indexOf(marker);
  const head = at === -1 ? [] : name.slice(0, at).split('.');
  const tail = at === -1 ? [] : name.slice(at + marker.length).split('.');
  if (head.length !== 2 || tail.length < 2) {
    throw new CertError(
      'IDENTITY_INVALID',
      `"${name}" is not a Linkerd identity; expected <service-account>.<namespace>.serviceaccount.identity.<linkerd-namespace>.<trust-domain>, e.g. default.default.serviceaccount.identity.linkerd.cluster.local`,
    );
  }
  return {
    serviceAccount: head[0],
    namespace: head[1],
    controlNamespace: tail[0],
    trustDomain: tail.slice(1).join('.'),
  };
}
