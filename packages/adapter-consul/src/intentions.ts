// Intention verdicts gateway -> service for the Connect services the gateway routes to. The
// watch blocks on the gateway's matching intentions, which wakes it on any change that could flip
// a verdict; the verdicts themselves come from /intentions/check, which applies Consul's own
// precedence and default policy rather than a copy of them here.
import { parseIntentionCheck, ConsulDataError } from './parse.ts';
import type { IntentionState } from './state.ts';
import { errText, type WatchContext } from './watchers.ts';

/** Starts a check round; its verdicts win over those of every older round. */
export function beginRound(st: IntentionState): number {
  return ++st.generation;
}

/** What a new verdict means to a person: now denied, allowed again, or nothing new. */
export type VerdictChange = 'denied' | 'allowed' | 'same' | 'superseded';

/**
 * Records the verdict for `service` from round `round`. A round older than the latest does not
 * overwrite a verdict a newer round already gave. A verdict turning to deny counts a denial.
 */
export function recordVerdict(st: IntentionState, round: number, service: string, allowed: boolean): VerdictChange {
  if (round < st.generation && st.allowed.has(service)) return 'superseded';
  const before = st.allowed.get(service);
  st.allowed.set(service, allowed);
  if (!allowed && before !== false) {
    st.denialsTotal++;
    return 'denied';
  }
  if (allowed && before === false) return 'allowed';
  return 'same';
}

/** Services whose intentions deny the gateway, sorted. */
export function deniedServices(st: IntentionState): string[] {
  return [...st.allowed]
    .filter(([, ok]) => !ok)
    .map(([n]) => n)
    .sort();
}

/** Asks Consul for the verdict gateway -> each service (bounded by the fan-out limiter) and records them. */
export async function checkIntentions(
  ctx: WatchContext,
  services: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  const g = ctx.settings.gateway;
  if (!g?.checkIntentions || services.length === 0) return;
  const st = ctx.state.intentions;
  const round = beginRound(st);
  await Promise.all(
    services.map(async (svc) => {
      if (signal.aborted) return;
      try {
        const res = await ctx.get('/v1/connect/intentions/check', 0, signal, { source: g.name, destination: svc });
        const change = recordVerdict(st, round, svc, parseIntentionCheck(res.body));
        if (change === 'denied')
          ctx.log.warn(
            { gateway: g.name, service: svc },
            `consul: intention denies ${g.name} -> ${svc}; requests to ${svc} through the mesh will be refused`,
          );
        else if (change === 'allowed')
          ctx.log.info({ gateway: g.name, service: svc }, `consul: intention now allows ${g.name} -> ${svc}`);
      } catch (e) {
        if (!signal.aborted) ctx.noteError(errText(e));
      }
    }),
  );
  ctx.changed();
}

/** `intentions`: blocks on the gateway's matching intentions, then re-checks every Connect service. */
export async function intentionsStep(
  ctx: WatchContext,
  index: number,
  signal: AbortSignal,
): Promise<number | undefined> {
  const g = ctx.settings.gateway!;
  const res = await ctx.get('/v1/connect/intentions/match', index, signal, { by: 'source', name: g.name });
  if (typeof res.body !== 'object' || res.body === null)
    throw new ConsulDataError('connect/intentions/match: expected an object');
  const connect = [...ctx.state.services.values()].filter((s) => s.connect).map((s) => s.name);
  await checkIntentions(ctx, connect, signal);
  ctx.state.intentions.answered = true;
  return res.index;
}
