import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectSni, connectSpiffeId, ingressRouteName, serviceModelName, trustDomainOf } from './names.ts';

const TD = '7f42f496-fbc7-8692-05ed-334aa5340c1e.consul';

test('SNI for a Connect service (default partition and namespace)', () => {
  assert.equal(connectSni('web', undefined, 'dc1', TD), `web.default.dc1.internal.${TD}`);
  assert.equal(connectSni('web', 'shop', 'dc1', TD), `web.shop.dc1.internal.${TD}`);
});

test('SNI in a non-default partition uses internal-v1', () => {
  assert.equal(connectSni('web', 'shop', 'dc1', TD, 'ap1'), `web.shop.ap1.dc1.internal-v1.${TD}`);
  assert.equal(connectSni('web', undefined, 'dc1', TD, 'default'), `web.default.dc1.internal.${TD}`);
});

test('SPIFFE IDs for services, with the partition segment only outside the default partition', () => {
  assert.equal(connectSpiffeId('web', undefined, 'dc1', TD), `spiffe://${TD}/ns/default/dc/dc1/svc/web`);
  assert.equal(connectSpiffeId('web', 'shop', 'dc2', TD, 'ap1'), `spiffe://${TD}/ap/ap1/ns/shop/dc/dc2/svc/web`);
});

test('model names come from identities, not positions', () => {
  assert.equal(serviceModelName('dc1', 'web'), 'consul/dc1/web');
  assert.equal(ingressRouteName(8080, 'web'), 'consul/ingress/8080/web');
  assert.equal(trustDomainOf(`spiffe://${TD.toUpperCase()}/ns/default`), TD);
  assert.equal(trustDomainOf('https://x'), undefined);
});
