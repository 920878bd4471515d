import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCertificateResponse, encodeCertificateRequest } from './wire.ts';

test('request: csr = 1, validity_duration = 3 (varint), metadata = 4 (Struct of string Values)', () => {
  const b = encodeCertificateRequest({ csrPem: 'CSR', validitySeconds: 300, metadata: { ClusterID: 'K' } });
  // field 1 "CSR" | field 3 varint 300 | field 4 { fields(1) { key(1) "ClusterID" value(2) { string_value(3) "K" } } }
  const entry = [0x0a, 9, ...Buffer.from('ClusterID'), 0x12, 3, 0x1a, 1, 0x4b];
  const expected = [
    0x0a,
    3,
    ...Buffer.from('CSR'),
    0x18,
    0xac,
    0x02,
    0x22,
    entry.length + 2,
    0x0a,
    entry.length,
    ...entry,
  ];
  assert.deepEqual([...b], expected);
});

test('response: every cert_chain entry in order, unknown fields skipped', () => {
  const s = (f: number, v: string) => [(f << 3) | 2, v.length, ...Buffer.from(v)];
  const msg = Uint8Array.from([...s(1, 'leaf'), ...s(2, 'roots'), 0x18, 0x05, ...s(1, 'root')]);
  assert.deepEqual(decodeCertificateResponse(msg), ['leaf', 'root']);
  assert.throws(() => decodeCertificateResponse(Uint8Array.from([0x0a, 10, 1])), /past the end/);
});
