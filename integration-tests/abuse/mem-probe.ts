// Preloaded into a meshgate process to see where its memory is (docs/reliability.md, "Memory after large requests"):
//   NODE_OPTIONS="--import ./integration-tests/abuse/mem-probe.ts" meshgate serve ...
// On SIGUSR2 it writes process.memoryUsage(), V8's heap spaces, /proc/self/smaps_rollup and RSS split into glibc's
// brk heap ([heap]) and anonymous mappings to $MESHGATE_MEM_PROBE_DIR (default /tmp)/mem-probe-<pid>.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

function rssByMapping(): { brkHeapKb: number; anonymousKb: number } {
  let brkHeapKb = 0;
  let anonymousKb = 0;
  let name = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1];
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    if (name === '[heap]') brkHeapKb += Number(rss[1]);
    else if (name === '') anonymousKb += Number(rss[1]);
  }
  return { brkHeapKb, anonymousKb };
}

process.on('SIGUSR2', () => {
  const out = `${process.env.MESHGATE_MEM_PROBE_DIR ?? '/tmp'}/mem-probe-${process.pid}.json`;
  writeFileSync(
    out,
    JSON.stringify({
      at: new Date().toISOString(),
      memoryUsage: process.memoryUsage(),
      heapSpaces: getHeapSpaceStatistics(),
      smapsRollup: readFileSync('/proc/self/smaps_rollup', 'utf8'),
      ...rssByMapping(),
    }),
  );
});
