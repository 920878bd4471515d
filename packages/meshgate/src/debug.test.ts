import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TypeStatus } from '@meshgate/xds-core';
import { nodesPage, redact, syncState } from './debug.ts';

const base: TypeStatus = {
  typeUrl: 't',
  type: 'CDS',
  mode: 'sotw',
  wildcard: true,
  subscribed: 0,
  resources: 1,
  pendingAck: false,
};

test('sync state per type, as in istioctl proxy-status', () => {
  assert.equal(syncState(base), 'NOT SENT');
  assert.equal(syncState({ ...base, lastSentVersion: 'a', pendingAck: true }), 'STALE');
  assert.equal(
    syncState({ ...base, lastSentVersion: 'a', lastAckedVersion: 'a', lastAckedAt: '2026-01-01T00:00:01Z' }),
    'SYNCED',
  );
  const nack = { version: 'b', nonce: '1-2', message: 'bad', at: '2026-01-01T00:00:02Z', names: ['x'] };
  assert.equal(
    syncState({
      ...base,
      lastSentVersion: 'b',
      lastAckedVersion: 'a',
      lastAckedAt: '2026-01-01T00:00:01Z',
      lastNack: nack,
    }),
    'NACKED',
  );
  // A later ACK (content fixed) clears the NACKED state.
  assert.equal(
    syncState({
      ...base,
      lastSentVersion: 'c',
      lastAckedVersion: 'c',
      lastAckedAt: '2026-01-01T00:00:03Z',
      lastNack: nack,
    }),
    'SYNCED',
  );
});

test('redact removes private keys and secret values at any depth, keeps certificates', () => {
  const secret = {
    name: 's',
    tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: 'KEY' } },
    generic_secret: { secret: { inline_bytes: 'x' } },
  };
  const out = redact(secret);
  assert.deepEqual(out, {
    name: 's',
    tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: '[redacted]' },
    generic_secret: { secret: '[redacted]' },
  });
  assert.equal(secret.tls_certificate.private_key.inline_string, 'KEY', 'the input is not modified');
});

test('nodes page: nodes that left with NACKs appear under recentlyDisconnected with their NACKs', () => {
  const nack = {
    typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
    type: 'RDS',
    version: 'v1',
    nonce: '7-2',
    message: 'echo: RouteAction weighted_cluster has incorrect total weight',
    at: '2026-01-01T00:00:02Z',
    names: ['echo'],
  };
  const page = nodesPage(
    [],
    [
      {
        id: 'gone',
        cluster: 'c',
        group: 'grpc',
        userAgent: 'gRPC C-core',
        connectedSince: '2026-01-01T00:00:01Z',
        disconnectedAt: '2026-01-01T00:00:03Z',
        nacks: [nack],
      },
    ],
  ) as { nodes: unknown[]; recentlyDisconnected: unknown[] };
  assert.deepEqual(page.nodes, []);
  assert.deepEqual(page.recentlyDisconnected, [
    {
      id: 'gone',
      cluster: 'c',
      profile: 'grpc',
      userAgent: 'gRPC C-core',
      connectedSince: '2026-01-01T00:00:01Z',
      disconnectedAt: '2026-01-01T00:00:03Z',
      nacks: [nack],
    },
  ]);
});
