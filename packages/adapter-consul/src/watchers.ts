// The watchers of the Consul source: one step per watched thing. A step does one (blocking) GET,
// checks the answer and writes it into the state; it never builds model objects or talks to the
// sink. Connect roots and the leaf are in connect.ts, intentions in intentions.ts.
import { blockingTimeout, formatWait, jitteredWait } from './blocking.ts';
import { ConsulHttpError, type ConsulHttp, type ConsulResponse } from './http.ts';
import type { ConsulLogger } from './options.ts';
import { ConsulDataError, parseCatalogServices, parseHealthEntries, parseIngressGateway } from './parse.ts';
import type { ConsulSettings } from './settings.ts';
import type { ConsulState, ServiceWatch } from './state.ts';
import type { Semaphore } from './util.ts';

export type Query = Record<string, string | number | boolean | undefined>;

/** One GET: blocking on `index` when it is >= 1, else a plain read through the fan-out limiter. */
export type BlockingGet = (
  path: string,
  index: number,
  signal: AbortSignal,
  query?: Query,
  allow404?: boolean,
) => Promise<ConsulResponse>;

/** What a watcher step may use: the state it writes, a GET, and the source's hooks. */
export interface WatchContext {
  readonly settings: ConsulSettings;
  readonly state: ConsulState;
  readonly get: BlockingGet;
  readonly log: ConsulLogger;
  /** Records a rejected answer as the source's last error (redacted by the source). */
  noteError(msg: string): void;
  /** The set of services to watch may have changed (catalog, ingress entry). */
  reconcile(): void;
  /** State changed outside a loop answer (an intention check round): flush soon. */
  changed(): void;
}

export const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** True for an answer that was received but is unusable: reported and skipped, not "agent down". */
export function isBadData(e: unknown): boolean {
  return (
    e instanceof ConsulDataError || (e instanceof ConsulHttpError && (e.kind === 'bad-json' || e.kind === 'too-large'))
  );
}

export function blockingGet(http: ConsulHttp, limiter: Semaphore, s: ConsulSettings): BlockingGet {
  return (path, index, signal, query = {}, allow404 = false) => {
    if (index >= 1) {
      const wait = jitteredWait(s.waitMs);
      return http.request('GET', path, {
        query: { ...query, index, wait: formatWait(wait) },
        timeoutMs: blockingTimeout(wait, s.requestTimeoutMs),
        signal,
        allow404,
      });
    }
    return limiter.run(() => http.request('GET', path, { query, timeoutMs: s.requestTimeoutMs, signal, allow404 }));
  };
}

/** `catalog`: service names and tags, which tell what to watch and which services are Connect. */
export async function catalogStep(ctx: WatchContext, index: number, signal: AbortSignal): Promise<number | undefined> {
  const res = await ctx.get('/v1/catalog/services', index, signal);
  ctx.state.catalog = parseCatalogServices(res.body);
  ctx.reconcile();
  return res.index;
}

/**
 * `svc:<name>`: the healthy instances of one service (its sidecars for a Connect service). A bad
 * answer skips this service only: its last good endpoints stay and the reason is kept beside it.
 */
export async function serviceStep(
  ctx: WatchContext,
  st: ServiceWatch,
  index: number,
  signal: AbortSignal,
): Promise<number | undefined> {
  const s = ctx.settings;
  const what = `health/${st.connect ? 'connect' : 'service'}/${st.name}`;
  const res = await ctx
    .get(`/v1/health/${st.connect ? 'connect' : 'service'}/${encodeURIComponent(st.name)}`, index, signal, {
      passing: s.includeWarning ? undefined : true,
    })
    .catch((e) => {
      if (isBadData(e)) st.bad = errText(e);
      throw e;
    });
  try {
    const list = parseHealthEntries(res.body, what, {
      includeWarning: s.includeWarning,
      regionKey: s.regionKey,
      zoneKey: s.zoneKey,
      weightTagPrefix: s.weightTagPrefix,
      connectDestination: st.connect ? st.name : undefined,
    });
    st.endpoints = list.map((i) => i.endpoint);
    st.bad = undefined;
  } catch (e) {
    if (!(e instanceof ConsulDataError)) throw e;
    // Skip this answer for this service only; wait for a change instead of re-reading the same bad one.
    st.bad = e.message;
    ctx.noteError(`consul: service ${st.name} skipped: ${e.message}`);
    ctx.log.warn({ service: st.name, err: e.message }, 'consul: malformed health answer; service skipped');
  }
  return res.index;
}

/** `ingress`: the gateway's ingress-gateway config entry (listeners and the services they route to). */
export async function ingressStep(ctx: WatchContext, index: number, signal: AbortSignal): Promise<number | undefined> {
  const g = ctx.settings.gateway!;
  const st = ctx.state;
  const res = await ctx.get(`/v1/config/ingress-gateway/${encodeURIComponent(g.name)}`, index, signal, {}, true);
  try {
    st.ingress = res.status === 404 || res.body === undefined ? [] : parseIngressGateway(res.body);
    st.ingressError = undefined;
  } catch (e) {
    // Keep the previous listeners; block until the entry changes instead of retrying the same bad one.
    st.ingressError = errText(e);
    ctx.noteError(`consul: ingress-gateway entry ${g.name} rejected: ${st.ingressError}`);
    ctx.log.warn(
      { gateway: g.name, err: st.ingressError },
      'consul: ingress-gateway entry rejected; keeping the previous routes',
    );
  }
  ctx.reconcile();
  return res.index;
}
