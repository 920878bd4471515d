import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { emptyModel, validateModel } from '@meshgate/model';
import type {
  Draft,
  Endpoint,
  GatewayListener,
  HeaderValue,
  Identity,
  Model,
  Route,
  SanMatch,
  Service,
  TrustBundle,
} from '@meshgate/model';
import { checkConfigText, readConfigText, sortErrors } from '@meshgate/config-schema';
import type { ConfigError } from '@meshgate/config-schema';
import type { Loc, ObjectSpec, Reader } from '@meshgate/config-schema';
import { CONFIG_SCHEMA } from './config-schema.ts';

export interface LoadResult {
  /** Set only when there are no errors. */
  model?: Model;
  errors: ConfigError[];
  /** Absolute paths of the files the config refers to (certFile, keyFile, caFiles), for watching. */
  files: string[];
  /**
   * With `externalReferences`: route backends this file names but does not define, left for other
   * sources (e.g. `consul/dc1/web`) to provide. Empty otherwise.
   */
  external: ExternalReference[];
}

/** A route backend the file leaves to another source. */
export interface ExternalReference {
  route: string;
  service: string;
  line: number;
  col: number;
}

export interface ParseOptions {
  /** Source name stamped on model items. Default 'file'. */
  source?: string;
  /** Directory that relative certFile/keyFile/caFiles are resolved against. Default: the file's directory. */
  baseDir?: string;
  /**
   * The whole file's schema when the file holds more than the model's sections (meshgate's one
   * schema: the model's sections plus `xds`, `consul`, ...): every section is checked on each
   * load, and only the model's sections are converted here. Default: the model's sections only.
   */
  schema?: ObjectSpec;
  /**
   * Top-level keys that belong to someone else, accepted without checking (prefer `schema`, which
   * checks them). They still count for "did you mean".
   */
  extraTopLevelKeys?: readonly string[];
  /**
   * Other sources (Consul, ...) run beside this file, so a route backend the file does not define
   * may be defined there: accept it (listed in `LoadResult.external`) instead of failing. A name
   * no source could define (bad syntax) is still an error (the schema checks every name's syntax
   * before conversion). The merged model is checked for
   * references nobody resolves, after all sources are in. Default false.
   */
  externalReferences?: boolean;
}

/** Reads and checks a config file. Synchronous: files are small and a reload must be atomic. */
export function loadConfigFile(path: string, opts: ParseOptions = {}): LoadResult {
  const read = readConfigText(path);
  if ('error' in read) return { errors: [read.error], files: [], external: [] };
  const text = read.text;
  return parseConfig(text, path, { baseDir: dirname(resolve(path)), ...opts });
}

/** Checks config text; `file` is only used in messages and for resolving relative paths. */
export function parseConfig(text: string, file: string, opts: ParseOptions = {}): LoadResult {
  const base = opts.schema ?? CONFIG_SCHEMA;
  const schema = { ...base, fields: { ...base.fields } };
  for (const k of opts.extraTopLevelKeys ?? [])
    if (!(k in schema.fields)) schema.fields[k] = { spec: { kind: 'any' }, doc: 'checked elsewhere' };
  const checked = checkConfigText(text, file, schema);
  const r = checked.reader;
  if (checked.errors.length > 0) return { errors: checked.errors, files: [], external: [] };
  const c = new Converter(r, opts.source ?? 'file', opts.baseDir ?? dirname(resolve(file)));
  const model = c.convert(checked.values as Raw);
  const external = r.errors.length === 0 ? c.modelProblems(model, opts.externalReferences ?? false) : [];
  const errors = sortErrors(r.errors);
  return errors.length > 0 ? { errors, files: c.files, external: [] } : { model, errors: [], files: c.files, external };
}

// Shapes were checked by the schema before conversion, so the converter reads them loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is untyped until this module has checked it
type Raw = Record<string, any>;

function headers(h: HeaderValue[] | undefined): HeaderValue[] | undefined {
  return h && h.length > 0 ? h : undefined;
}

class Converter {
  readonly files: string[] = [];
  /** Model path (name based, as validateModel reports it) -> where it was written. */
  private readonly where = new Map<string, Loc>();
  private readonly r: Reader;
  private readonly source: string;
  private readonly baseDir: string;

  constructor(r: Reader, source: string, baseDir: string) {
    this.r = r;
    this.source = source;
    this.baseDir = baseDir;
  }

  private at(o: object): Loc {
    return this.r.locs.get(o) ?? { path: '', line: 1, col: 1 };
  }

  /** Where `<o's path>.<key>` was written (falls back to o itself). */
  private sub(o: object, key: string): Loc {
    return this.loc(`${this.at(o).path}.${key}`, o);
  }

  private loc(path: string, fallback: object): Loc {
    return this.r.pathLocs.get(path) ?? { ...this.at(fallback), path };
  }

  convert(top: Raw): Model {
    const m = emptyModel();
    const seen = (kind: string) => {
      const names = new Map<string, Loc>();
      return (name: string, o: object): boolean => {
        const prev = names.get(name);
        const at = this.at(o);
        if (prev) {
          this.r.error(
            'duplicate',
            { ...at, path: `${at.path}.name` },
            `duplicate ${kind} name ${JSON.stringify(name)} (first defined at line ${prev.line}); names must be unique`,
          );
          return false;
        }
        names.set(name, at);
        return true;
      };
    };
    const svcSeen = seen('service');
    for (const s of (top.services ?? []) as Raw[]) if (svcSeen(s.name, s)) m.services.push(this.service(s));
    const routeSeen = seen('route');
    for (const rt of (top.routes ?? []) as Raw[]) if (routeSeen(rt.name, rt)) m.routes.push(this.route(rt));
    const lSeen = seen('listener');
    for (const l of (top.listeners ?? []) as Raw[]) if (lSeen(l.name, l)) m.listeners.push(this.listener(l));
    // Identities and trust bundles share the SDS secret namespace.
    const secretSeen = seen('secret');
    for (const i of (top.identities ?? []) as Raw[])
      if (secretSeen(i.name, i)) {
        const v = this.identity(i);
        if (v) m.identities.push(v);
      }
    for (const b of (top.trustBundles ?? []) as Raw[])
      if (secretSeen(b.name, b)) {
        const v = this.bundle(b);
        if (v) m.trustBundles.push(v);
      }
    return m;
  }

  private service(s: Raw): Service {
    const base = `services[${s.name}]`;
    this.where.set(base, this.at(s));
    const endpoints: Endpoint[] = ((s.endpoints ?? []) as Raw[]).map((e) => {
      const at = this.at(e);
      this.where.set(`${base}.endpoints[${e.address}:${e.port}]`, at);
      if (isIP(e.address) === 0) {
        this.r.error(
          'range',
          this.sub(e, 'address'),
          `address ${JSON.stringify(e.address)} is not an IP address; endpoints must be IPv4 or IPv6 addresses (e.g. 127.0.0.1 instead of localhost)`,
        );
      }
      const ep: Draft<Endpoint> = { address: e.address, port: e.port };
      if (e.weight !== undefined) ep.weight = e.weight;
      if (e.health !== undefined) ep.health = e.health;
      if (e.locality !== undefined) ep.locality = { ...e.locality };
      return ep;
    });
    const out: Draft<Service> = { name: s.name, endpoints, source: this.source };
    if (s.protocol !== undefined) out.protocol = s.protocol;
    if (s.connectTimeout !== undefined) out.connectTimeoutMs = s.connectTimeout;
    const h = headers(s.requestHeadersToAdd);
    if (h) out.requestHeadersToAdd = h;
    if (s.tls) {
      this.where.set(`${base}.tls`, this.at(s.tls));
      const sans: SanMatch[] = (s.tls.expectedSans as (string | Raw)[]).map((x) =>
        typeof x === 'string'
          ? { kind: x.includes('://') ? 'uri' : 'dns', value: x }
          : x.uri !== undefined
            ? { kind: 'uri', value: x.uri }
            : { kind: 'dns', value: x.dns },
      );
      out.tls = { expectedSans: sans, trustBundle: s.tls.trustBundle };
      if (s.tls.sni !== undefined) out.tls.sni = s.tls.sni;
      if (s.tls.alpn !== undefined) out.tls.alpn = s.tls.alpn;
      if (s.tls.clientIdentity !== undefined) out.tls.clientIdentity = s.tls.clientIdentity;
    }
    return out;
  }

  private route(rt: Raw): Route {
    const base = `routes[${rt.name}]`;
    this.where.set(base, this.at(rt));
    if (rt.match) this.where.set(`${base}.match`, this.at(rt.match));
    const match = rt.match ?? { prefix: '/' };
    if (match.prefix !== undefined && match.path !== undefined) {
      this.r.error('range', this.at(rt.match), 'set only one of prefix or path');
    }
    const out: Draft<Route> = {
      name: rt.name,
      hosts: [...rt.hosts],
      match: match.path !== undefined ? { path: match.path } : { prefix: match.prefix ?? '/' },
      backends: (rt.backends as Raw[]).map((b) => {
        this.where.set(`${base}.backends[${b.service}]`, this.loc(`${this.at(b).path}.service`, b));
        return { service: b.service, weight: b.weight ?? 1 };
      }),
      source: this.source,
    };
    if (match.headers?.length) {
      out.match.headers = (match.headers as Raw[]).map((h) => {
        const set = ['exact', 'prefix', 'present'].filter((k) => h[k] !== undefined);
        if (set.length > 1) this.r.error('range', this.at(h), `set only one of ${set.join(', ')}`);
        return {
          name: h.name.toLowerCase(),
          ...(h.exact !== undefined && { exact: h.exact }),
          ...(h.prefix !== undefined && { prefix: h.prefix }),
          ...(h.present !== undefined && { present: h.present }),
          ...(h.invert && { invert: true }),
        };
      });
    }
    if (rt.timeout !== undefined) out.timeoutMs = rt.timeout;
    if (rt.retries) {
      out.retries = {
        retryOn: rt.retries.retryOn ?? '5xx,reset,connect-failure',
        numRetries: rt.retries.numRetries ?? 1,
      };
      if (rt.retries.perTryTimeout !== undefined) out.retries.perTryTimeoutMs = rt.retries.perTryTimeout;
    }
    if (headers(rt.requestHeadersToAdd)) out.requestHeadersToAdd = rt.requestHeadersToAdd;
    if (rt.requestHeadersToRemove?.length) out.requestHeadersToRemove = rt.requestHeadersToRemove;
    if (headers(rt.responseHeadersToAdd)) out.responseHeadersToAdd = rt.responseHeadersToAdd;
    if (rt.responseHeadersToRemove?.length) out.responseHeadersToRemove = rt.responseHeadersToRemove;
    return out;
  }

  private listener(l: Raw): GatewayListener {
    const base = `listeners[${l.name}]`;
    this.where.set(base, this.at(l));
    (l.routes as string[]).forEach((rn, i) =>
      this.where.set(`${base}.routes[${rn}]`, this.loc(`${this.at(l).path}.routes[${i}]`, l)),
    );
    const out: Draft<GatewayListener> = { name: l.name, port: l.port, routes: [...l.routes], source: this.source };
    if (l.removeRequestHeaderPrefixes?.length) out.removeRequestHeaderPrefixes = [...l.removeRequestHeaderPrefixes];
    if (l.address !== undefined) {
      if (isIP(l.address) === 0)
        this.r.error(
          'range',
          this.sub(l, 'address'),
          `address ${JSON.stringify(l.address)} is not an IP address; use 0.0.0.0, :: or a local IP`,
        );
      out.address = l.address;
    }
    return out;
  }

  /** Reads a PEM file. Messages name the file and the fix, never its content. */
  private pem(
    path: string,
    at: Loc,
    what: string,
    marker: RegExp,
    fix: string,
  ): { text: string; abs: string } | undefined {
    const abs = resolve(this.baseDir, path);
    this.files.push(abs);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      this.r.error(
        'file',
        at,
        `cannot read ${what} file ${JSON.stringify(abs)} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check the path (relative paths are resolved against ${this.baseDir})`,
      );
      return undefined;
    }
    if (!marker.test(text)) {
      this.r.error('file', at, `${JSON.stringify(abs)} does not contain a PEM ${what}; ${fix}`);
      return undefined;
    }
    return { text, abs };
  }

  /**
   * An identity is published only when its certificate and key belong together and the leaf has
   * not expired: a rotator that replaces the two files one after the other (or a half-finished
   * copy) would otherwise hand Envoy a Secret it rejects or, worse, one that fails every
   * handshake. Any such problem is a load error, so the whole last good config stays in force
   * (the file source turns stale) until both files are right; the next poll picks them up.
   */
  private identity(i: Raw): Identity | undefined {
    this.where.set(`identities[${i.name}]`, this.at(i));
    const certAt = this.sub(i, 'certFile');
    const keyAt = this.sub(i, 'keyFile');
    const cert = this.pem(
      i.certFile,
      certAt,
      'certificate',
      /-----BEGIN CERTIFICATE-----/,
      'certFile must hold the PEM certificate chain, leaf first ("-----BEGIN CERTIFICATE-----" blocks)',
    );
    const key = this.pem(
      i.keyFile,
      keyAt,
      'private key',
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
      'keyFile must hold the PEM private key of the certFile leaf ("-----BEGIN PRIVATE KEY-----" block)',
    );
    if (cert === undefined || key === undefined) return undefined;
    if (!this.pairOk(i.name, cert, key, certAt, keyAt)) return undefined;
    const out: Draft<Identity> = {
      name: i.name,
      certChainPem: cert.text,
      privateKeyPem: key.text,
      source: this.source,
    };
    // The entries' syntax was checked by the schema (ALLOWED_NODES).
    if (i.allowedNodes?.length) out.allowedNodes = [...i.allowedNodes];
    return out;
  }

  /** Parses the leaf and the key and checks they pair up. Never puts PEM content in a message. */
  private pairOk(
    name: string,
    cert: { text: string; abs: string },
    key: { text: string; abs: string },
    certAt: Loc,
    keyAt: Loc,
  ): boolean {
    let leaf: X509Certificate;
    try {
      // X509Certificate reads the first PEM block: the leaf, since the chain is leaf first.
      leaf = new X509Certificate(cert.text);
    } catch {
      this.r.error(
        'file',
        certAt,
        `${JSON.stringify(cert.abs)} does not hold a valid PEM certificate (the first "-----BEGIN CERTIFICATE-----" block cannot be parsed); write the leaf certificate first, then any intermediates`,
      );
      return false;
    }
    let priv: ReturnType<typeof createPrivateKey>;
    try {
      priv = createPrivateKey(key.text);
    } catch {
      // Node's own message is about the key bytes; it is left out on purpose.
      this.r.error(
        'file',
        keyAt,
        `${JSON.stringify(key.abs)} does not hold a usable private key (cannot be parsed, or it is encrypted); write the unencrypted PEM private key (PKCS#8 "-----BEGIN PRIVATE KEY-----", or PKCS#1/SEC1)`,
      );
      return false;
    }
    let match = false;
    try {
      match = leaf.checkPrivateKey(priv);
    } catch {
      match = false;
    }
    if (!match) {
      this.r.error(
        'file',
        keyAt,
        `identity ${JSON.stringify(name)}: certificate and key do not match (certFile ${JSON.stringify(cert.abs)}, keyFile ${JSON.stringify(key.abs)}); replace both files (write the key and certificate, then rename both into place)`,
      );
      return false;
    }
    const notAfter = Date.parse(leaf.validTo);
    if (Number.isFinite(notAfter) && notAfter <= Date.now()) {
      this.r.error(
        'file',
        certAt,
        `identity ${JSON.stringify(name)}: the certificate in ${JSON.stringify(cert.abs)} expired at ${new Date(notAfter).toISOString()}; write a renewed certificate and its key (then rename both into place)`,
      );
      return false;
    }
    return true;
  }

  private bundle(b: Raw): TrustBundle | undefined {
    this.where.set(`trustBundles[${b.name}]`, this.at(b));
    const pems: string[] = [];
    (b.caFiles as string[]).forEach((f, n) => {
      const at = this.sub(b, `caFiles[${n}]`);
      const got = this.pem(
        f,
        at,
        'certificate',
        /-----BEGIN CERTIFICATE-----/,
        'caFiles must hold PEM CA certificates ("-----BEGIN CERTIFICATE-----" blocks)',
      );
      if (got !== undefined) pems.push(got.text);
    });
    return pems.length === b.caFiles.length ? { name: b.name, caPems: pems, source: this.source } : undefined;
  }

  /**
   * Model-level checks (dangling references and the like), reported at the offending item. With
   * `external`, route backends defined nowhere in the file are returned instead of reported, when
   * their name is one another source could define.
   */
  modelProblems(model: Model, external: boolean): ExternalReference[] {
    const out: ExternalReference[] = [];
    let checked = model;
    if (external) {
      const own = new Set(model.services.map((s) => s.name));
      const stubs = new Map<string, Service>();
      for (const rt of model.routes) {
        for (const b of rt.backends) {
          if (own.has(b.service)) continue;
          // The name's syntax was checked by the schema, so another source could define it.
          const at = this.where.get(`routes[${rt.name}].backends[${b.service}]`) ??
            this.where.get(`routes[${rt.name}]`) ?? { path: '', line: 1, col: 1 };
          out.push({ route: rt.name, service: b.service, line: at.line, col: at.col });
          // A stand-in so validateModel checks everything else about the route.
          stubs.set(b.service, { name: b.service, endpoints: [] });
        }
      }
      checked = { ...model, services: [...model.services, ...stubs.values()] };
    }
    for (const p of validateModel(checked)) {
      let key = p.path;
      let at = this.where.get(key);
      while (!at && key.includes('.')) {
        key = key.slice(0, key.lastIndexOf('.'));
        at = this.where.get(key);
      }
      this.r.error(
        /already used/.test(p.message) ? 'duplicate' : 'reference',
        at ?? { path: p.path, line: 1, col: 1 },
        p.message,
      );
    }
    return out;
  }
}
