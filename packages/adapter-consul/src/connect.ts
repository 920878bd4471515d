// The gateway's Connect identity: the CA roots (and the trust domain they imply) and the gateway's
// leaf certificate. A new leaf replaces the one in service only once it checks out against the
// roots: a bad leaf would break every upstream mTLS handshake at once, so it is reported and the
// previous one kept (and re-tried when new roots arrive, which may make it valid).
import { X509Certificate } from 'node:crypto';
import { validateLeaf } from './leaf.ts';
import { connectSpiffeId, trustDomainOf } from './names.ts';
import { ConsulDataError, type ParsedRoots, parseLeaf, parseRoots } from './parse.ts';
import type { ConnectRoots, GatewayLeaf, PendingLeaf } from './state.ts';
import type { WatchContext } from './watchers.ts';

/** Resolves the trust domain: the answer's TrustDomain, else the SPIFFE URI of the first root. */
export function resolveRoots(r: ParsedRoots): ConnectRoots {
  let td = r.trustDomain;
  if (!td) {
    try {
      const san = new X509Certificate(r.rootPems[0]).subjectAltName ?? '';
      td = trustDomainOf(san.replace(/^.*URI:/, '')) ?? '';
    } catch {
      td = '';
    }
  }
  if (!td) throw new ConsulDataError('connect/ca/roots: no TrustDomain and the root carries no spiffe:// URI');
  return { ...r, trustDomainResolved: td };
}

export interface LeafIdentity {
  gateway: string;
  dc: string;
  namespace?: string;
  partition?: string;
}

export type LeafVerdict = { ok: true; leaf: GatewayLeaf } | { ok: false; reason: string };

/**
 * Checks a leaf from the agent against the roots: parses, key matches, valid now, carries the
 * gateway's own SPIFFE ID (the one the agent names, which must be the gateway service), chains to
 * the roots. On success returns what the model serves: leaf plus the active intermediates.
 */
export function checkLeaf(p: PendingLeaf, roots: ConnectRoots, id: LeafIdentity, now?: Date): LeafVerdict {
  const expected =
    p.serviceUri || connectSpiffeId(id.gateway, id.namespace, id.dc, roots.trustDomainResolved, id.partition);
  const check = validateLeaf({
    certPem: p.certPem,
    privateKeyPem: p.privateKeyPem,
    rootPems: roots.rootPems,
    intermediatePems: roots.activeIntermediates,
    expectedUri: expected,
    now,
  });
  if (!check.ok) return { ok: false, reason: check.reason ?? 'invalid' };
  if (!expected.endsWith(`/svc/${id.gateway}`))
    return { ok: false, reason: `ServiceURI ${expected} is not the gateway service ${id.gateway}` };
  const chainPem = [
    `${p.certPem.trim()}\n`,
    ...roots.activeIntermediates.filter((i) => !p.certPem.includes(i.trim())),
  ].join('');
  let serial = '';
  try {
    serial = new X509Certificate(p.certPem).serialNumber;
  } catch {
    /* validateLeaf parsed it; unreachable */
  }
  return { ok: true, leaf: { chainPem, keyPem: p.privateKeyPem, notAfter: check.notAfter, serial } };
}

/** Tries the pending leaf against the current roots and writes the outcome into the state. */
export function applyPendingLeaf(ctx: WatchContext): void {
  const st = ctx.state;
  const p = st.pendingLeaf;
  if (!p || !st.roots) return;
  const g = ctx.settings.gateway!;
  const v = checkLeaf(p, st.roots, {
    gateway: g.name,
    dc: st.dc,
    namespace: ctx.settings.namespace,
    partition: ctx.settings.partition,
  });
  if (!v.ok) {
    // Keep the pending leaf: new roots may still make it valid.
    const msg = `consul: leaf certificate for ${g.name} rejected: ${v.reason}; keeping the previous one`;
    if (st.leafError !== msg) ctx.log.warn({ gateway: g.name }, msg);
    st.leafError = msg;
    ctx.noteError(msg);
    return;
  }
  if (st.leaf?.serial !== v.leaf.serial)
    ctx.log.info(
      { gateway: g.name, notAfter: v.leaf.notAfter?.toISOString() },
      'consul: gateway leaf certificate updated',
    );
  st.pendingLeaf = undefined;
  st.leafError = undefined;
  st.leaf = v.leaf;
}

/** `roots`: the Connect CA roots, from the local agent (no dc, ns or partition). */
export async function rootsStep(ctx: WatchContext, index: number, signal: AbortSignal): Promise<number | undefined> {
  const res = await ctx.get('/v1/agent/connect/ca/roots', index, signal, {
    dc: undefined,
    ns: undefined,
    partition: undefined,
  });
  const r = resolveRoots(parseRoots(res.body));
  const prev = ctx.state.roots;
  ctx.state.roots = r;
  if (!prev || prev.activeRootId !== r.activeRootId || prev.rootPems.join() !== r.rootPems.join())
    ctx.log.info({ activeRootId: r.activeRootId, roots: r.rootPems.length }, 'consul: Connect roots updated');
  applyPendingLeaf(ctx);
  return res.index;
}

/** `leaf`: the gateway's leaf certificate from the local agent, which also renews it. */
export async function leafStep(ctx: WatchContext, index: number, signal: AbortSignal): Promise<number | undefined> {
  const g = ctx.settings.gateway!;
  const res = await ctx.get(`/v1/agent/connect/ca/leaf/${encodeURIComponent(g.name)}`, index, signal, {
    dc: undefined,
  });
  const l = parseLeaf(res.body);
  ctx.state.pendingLeaf = { certPem: l.certPem, privateKeyPem: l.privateKeyPem, serviceUri: l.serviceUri };
  applyPendingLeaf(ctx);
  return res.index;
}
