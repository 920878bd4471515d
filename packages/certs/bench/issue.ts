// Issuance throughput of the built-in CA. A program that prints a table; no assertions, so it never flakes in CI.
// Run: node --conditions=source packages/certs/bench/issue.ts [seconds-per-row]
import { CertificateAuthority, createCsr } from '@meshgate/certs';

const secondsPerRow = Number(process.argv[2] ?? 3);

async function measure(
  name: string,
  op: () => Promise<unknown>,
  minOps = 5,
): Promise<{ name: string; ops: number; perSec: number; meanMs: number }> {
  await op(); // warm-up: first use loads code paths and the crypto provider
  const start = performance.now();
  let ops = 0;
  while (ops < minOps || performance.now() - start < secondsPerRow * 1000) {
    await op();
    ops++;
  }
  const elapsed = performance.now() - start;
  return { name, ops, perSec: (ops * 1000) / elapsed, meanMs: elapsed / ops };
}

const ecCa = await CertificateAuthority.createInMemory({ trustDomain: 'example.org' });
const rsaCa = await CertificateAuthority.createInMemory({ trustDomain: 'example.org', keyType: 'rsa-2048' });
const id = 'spiffe://example.org/ns/bench/sa/gw';
const csrs = await Promise.all(Array.from({ length: 64 }, () => createCsr({ spiffe: id })));
let next = 0;

const rows = [
  await measure('issue leaf, EC P-256 key, EC CA', () => ecCa.issue({ spiffe: id })),
  await measure('issue leaf, RSA 2048 key, EC CA', () => ecCa.issue({ spiffe: id, keyType: 'rsa-2048' })),
  await measure('issue leaf, EC P-256 key, RSA 2048 CA', () => rsaCa.issue({ spiffe: id })),
  await measure('sign CSR (EC P-256), EC CA', () =>
    ecCa.signCsr(csrs[next++ % csrs.length].csrDer, { allowedSans: [id] }),
  ),
  await measure('sign CSR (EC P-256), RSA 2048 CA', () =>
    rsaCa.signCsr(csrs[next++ % csrs.length].csrDer, { allowedSans: [id] }),
  ),
  await measure('create CSR, EC P-256', () => createCsr({ spiffe: id })),
];

const w = Math.max(...rows.map((r) => r.name.length));
console.log(`node ${process.version}, ${secondsPerRow}s per row`);
console.log(`${'operation'.padEnd(w)}  ${'ops'.padStart(6)}  ${'ops/s'.padStart(9)}  ${'mean ms'.padStart(8)}`);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(w)}  ${String(r.ops).padStart(6)}  ${r.perSec.toFixed(1).padStart(9)}  ${r.meanMs.toFixed(2).padStart(8)}`,
  );
}
