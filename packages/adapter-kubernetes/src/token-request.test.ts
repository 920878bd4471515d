// The TokenRequest helper against a scripted requester: the clock is the test's, and an API error that echoes a token
// is a fault a real API server does not produce on demand. The real API server path is covered by the istio and
// linkerd integration suites (both mesh CAs review these tokens).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type KubeRequester, TokenRequestError, tokenRequestSource } from './token-request.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl';

function scripted(answers: Array<() => unknown>) {
  const seen: Array<{ path: string; body: unknown }> = [];
  const kube: KubeRequester = {
    request: async <T>(_m: string, path: string, body?: unknown) => {
      seen.push({ path, body });
      return answers.shift()!() as T;
    },
  };
  return { kube, seen };
}

test('one TokenRequest per 80 % of the token lifetime, for the audience asked', async () => {
  let t = 1_000_000;
  const exp = (s: number) => new Date(t + s * 1000).toISOString();
  const { kube, seen } = scripted([
    () => ({ status: { token: 'tok-1', expirationTimestamp: exp(1000) } }),
    () => ({ status: { token: 'tok-2', expirationTimestamp: exp(1000) } }),
  ]);
  const next = tokenRequestSource(kube, {
    namespace: 'edge',
    serviceAccount: 'gateway',
    audience: 'identity.l5d.io',
    now: () => t,
  });
  assert.equal(await next(), 'tok-1');
  t += 799_000;
  assert.equal(await next(), 'tok-1', 'reused before 80 % of its life');
  t += 2_000;
  assert.equal(await next(), 'tok-2', 'renewed after');
  assert.equal(seen.length, 2);
  assert.equal(seen[0].path, '/api/v1/namespaces/edge/serviceaccounts/gateway/token');
  assert.deepEqual((seen[0].body as { spec: unknown }).spec, {
    audiences: ['identity.l5d.io'],
    expirationSeconds: 3600,
  });
});

test('a failed request names the ServiceAccount, the audience and the RBAC fix, never a token', async () => {
  const { kube } = scripted([
    () => ({ status: { token: JWT } }),
    () => {
      throw new Error(`forbidden (had ${JWT})`);
    },
  ]);
  let t = 0;
  const next = tokenRequestSource(kube, {
    namespace: 'edge',
    serviceAccount: 'gateway',
    audience: 'istio-ca',
    expirationSeconds: 1,
    now: () => t,
  });
  await next();
  t += 10_000;
  await assert.rejects(next(), (e: Error) => {
    assert.ok(e instanceof TokenRequestError);
    assert.match(
      e.message,
      /ServiceAccount edge\/gateway \(audience istio-ca\) failed: .*"create" on serviceaccounts\/token/,
    );
    assert.ok(!e.message.includes(JWT), e.message);
    return true;
  });
});

test('an answer without a token is an error, not an empty bearer token', async () => {
  const { kube } = scripted([() => ({ status: {} })]);
  const next = tokenRequestSource(kube, { namespace: 'edge', serviceAccount: 'gateway', audience: 'a' });
  await assert.rejects(next(), /returned no token/);
});
