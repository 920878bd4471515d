import type { Model, UpstreamTls } from './types.ts';

export interface ModelProblem {
  /** Path of the offending item, e.g. `routes[echo].backends[echo-v3]`. Built from names, not indexes. */
  readonly path: string;
  readonly message: string;
  readonly source?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/;

/**
 * A reason the data plane's RE2 engine would refuse the expression, or undefined. JavaScript's
 * engine is the first check; the constructs RE2 lacks (lookaround, backreferences) are the second.
 */
export function regexProblem(re: string): string | undefined {
  try {
    new RegExp(re);
  } catch (err) {
    return `invalid regular expression ${JSON.stringify(re)}: ${(err as Error).message}`;
  }
  if (/\(\?<?[=!]/.test(re) || /\\[1-9]|\\k</.test(re))
    return `regular expression ${JSON.stringify(re)} uses lookaround or a backreference, which RE2 does not support`;
  return undefined;
}

/**
 * Checks a merged model for problems that would make Envoy or a gRPC client reject the config
 * or black-hole traffic: dangling references, bad ports, bad weights. The translator refuses to
 * publish a model with problems, so the last good resources stay in service.
 */
export function validateModel(model: Model): ModelProblem[] {
  const problems: ModelProblem[] = [];
  const services = new Map(model.services.map((s) => [s.name, s]));
  const routes = new Map(model.routes.map((r) => [r.name, r]));
  const identities = new Set(model.identities.map((i) => i.name));
  const bundles = new Set(model.trustBundles.map((b) => b.name));

  const checkName = (kind: string, name: string, source?: string) => {
    if (!NAME_RE.test(name))
      problems.push({
        path: `${kind}[${name}]`,
        message: `invalid name ${JSON.stringify(name)}: use letters, digits and . _ : / - (at most 253 characters)`,
        source,
      });
  };

  for (const s of model.services) {
    checkName('services', s.name, s.source);
    for (const e of s.endpoints) {
      const p = `services[${s.name}].endpoints[${e.address}:${e.port}]`;
      if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535)
        problems.push({ path: p, message: `port must be an integer in 1..65535, got ${e.port}`, source: s.source });
      if (e.weight !== undefined && (!Number.isInteger(e.weight) || e.weight < 1))
        problems.push({ path: p, message: `weight must be a positive integer, got ${e.weight}`, source: s.source });
      if (!e.address) problems.push({ path: p, message: 'address is empty', source: s.source });
      if (e.tlsProfile !== undefined && !Object.hasOwn(s.endpointTls ?? {}, e.tlsProfile))
        problems.push({
          path: p,
          message: `tlsProfile ${JSON.stringify(e.tlsProfile)} is not a key of the service's endpointTls; add it there or fix the name`,
          source: s.source,
        });
    }
    const checkTls = (p: string, tls: UpstreamTls) => {
      if (!bundles.has(tls.trustBundle))
        problems.push({
          path: p,
          message: `trust bundle ${JSON.stringify(tls.trustBundle)} does not exist; define it or fix the name`,
          source: s.source,
        });
      if (tls.clientIdentity && !identities.has(tls.clientIdentity))
        problems.push({
          path: p,
          message: `client identity ${JSON.stringify(tls.clientIdentity)} does not exist; define it or fix the name`,
          source: s.source,
        });
      if (tls.expectedSans.length === 0)
        problems.push({
          path: p,
          message:
            'expectedSans is empty: name the exact SPIFFE URI or DNS name the upstream must present (any-cert is refused)',
          source: s.source,
        });
    };
    if (s.tls) checkTls(`services[${s.name}].tls`, s.tls);
    for (const [key, tls] of Object.entries(s.endpointTls ?? {})) {
      const p = `services[${s.name}].endpointTls[${key}]`;
      // Keys become Envoy transport_socket_matches names and endpoint metadata values.
      if (!NAME_RE.test(key))
        problems.push({
          path: p,
          message: `invalid profile key ${JSON.stringify(key)}: use letters, digits and . _ : / - (at most 253 characters)`,
          source: s.source,
        });
      checkTls(p, tls);
    }
  }
  for (const r of model.routes) {
    checkName('routes', r.name, r.source);
    const p = `routes[${r.name}]`;
    if (r.hosts.length === 0)
      problems.push({ path: p, message: 'hosts is empty: name at least one host (or "*")', source: r.source });
    if ([r.match.prefix, r.match.path, r.match.regex].filter((x) => x !== undefined).length !== 1)
      problems.push({ path: `${p}.match`, message: 'set exactly one of prefix, path or regex', source: r.source });
    for (const [what, re] of [
      ['regex', r.match.regex],
      ...(r.match.headers ?? []).map((h) => [`headers[${h.name}].regex`, h.regex]),
      ...(r.match.queryParams ?? []).map((q) => [`queryParams[${q.name}].regex`, q.regex]),
    ] as [string, string | undefined][]) {
      const bad = re === undefined ? undefined : regexProblem(re);
      if (bad) problems.push({ path: `${p}.match.${what}`, message: bad, source: r.source });
    }
    for (const q of r.match.queryParams ?? [])
      if ((q.exact === undefined) === (q.regex === undefined))
        problems.push({
          path: `${p}.match.queryParams[${q.name}]`,
          message: 'set exactly one of exact or regex',
          source: r.source,
        });
    const actions = [r.backends.length > 0, r.redirect !== undefined, r.directResponse !== undefined];
    if (actions.filter(Boolean).length !== 1)
      problems.push({
        path: p,
        message:
          r.backends.length === 0 && !r.redirect && !r.directResponse
            ? 'backends is empty'
            : 'set exactly one of backends, redirect or directResponse',
        source: r.source,
      });
    if (r.redirect?.statusCode !== undefined && ![301, 302, 303, 307, 308].includes(r.redirect.statusCode))
      problems.push({
        path: `${p}.redirect`,
        message: `statusCode must be 301, 302, 303, 307 or 308, got ${r.redirect.statusCode}`,
        source: r.source,
      });
    if (r.redirect?.path !== undefined && r.redirect.prefix !== undefined)
      problems.push({ path: `${p}.redirect`, message: 'set at most one of path or prefix', source: r.source });
    if (r.rewrite?.path !== undefined && r.rewrite.prefix !== undefined)
      problems.push({ path: `${p}.rewrite`, message: 'set at most one of path or prefix', source: r.source });
    if (
      r.directResponse &&
      (!Number.isInteger(r.directResponse.status) || r.directResponse.status < 200 || r.directResponse.status > 599)
    )
      problems.push({
        path: `${p}.directResponse`,
        message: `status must be an HTTP status code in 200..599, got ${r.directResponse.status}`,
        source: r.source,
      });
    for (const b of r.backends) {
      if (!services.has(b.service))
        problems.push({
          path: `${p}.backends[${b.service}]`,
          message: `service ${JSON.stringify(b.service)} does not exist; define it or fix the name`,
          source: r.source,
        });
      if (!Number.isInteger(b.weight) || b.weight < 1)
        problems.push({
          path: `${p}.backends[${b.service}]`,
          message: `weight must be a positive integer, got ${b.weight}`,
          source: r.source,
        });
    }
  }
  const ports = new Map<string, string>();
  for (const l of model.listeners) {
    checkName('listeners', l.name, l.source);
    const p = `listeners[${l.name}]`;
    if (!Number.isInteger(l.port) || l.port < 1 || l.port > 65535)
      problems.push({ path: p, message: `port must be an integer in 1..65535, got ${l.port}`, source: l.source });
    const key = `${l.address ?? '0.0.0.0'}:${l.port}`;
    const other = ports.get(key);
    if (other)
      problems.push({ path: p, message: `address ${key} is already used by listener ${other}`, source: l.source });
    ports.set(key, l.name);
    for (const id of l.tls?.identities ?? [])
      if (!identities.has(id))
        problems.push({
          path: `${p}.tls`,
          message: `identity ${JSON.stringify(id)} does not exist; define it or fix the name`,
          source: l.source,
        });
    if (l.tls && l.tls.identities.length === 0)
      problems.push({ path: `${p}.tls`, message: 'identities is empty', source: l.source });
    for (const prefix of l.removeRequestHeaderPrefixes ?? [])
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(prefix))
        problems.push({
          path: `${p}.removeRequestHeaderPrefixes`,
          message: `${JSON.stringify(prefix)} is not the start of a header name (letters, digits and !#$%&'*+-.^_\`|~); write e.g. "l5d-"`,
          source: l.source,
        });
    for (const rn of l.routes)
      if (!routes.has(rn))
        problems.push({
          path: `${p}.routes[${rn}]`,
          message: `route ${JSON.stringify(rn)} does not exist; define it or fix the name`,
          source: l.source,
        });
  }
  for (const i of model.identities) checkName('identities', i.name, i.source);
  for (const b of model.trustBundles) checkName('trustBundles', b.name, b.source);
  return problems;
}
