// Process measurements shared by our server child and the S1 child.
import { readFileSync } from 'node:fs';

/** A field of /proc/self/status in kB (VmRSS, VmHWM), or -1 where /proc is missing. */
export function procStatusKB(field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

export function stats(): { rssKB: number; hwmKB: number; cpuMs: number; heapKB: number; heapCommittedKB: number } {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    rssKB: Math.round(mem.rss / 1024),
    hwmKB: procStatusKB('VmHWM'),
    cpuMs: (cpu.user + cpu.system) / 1000,
    heapKB: Math.round((mem.heapUsed + mem.external) / 1024),
    // What V8 holds from the OS for its heap, used or not (young generation at its grown size, free old pages).
    heapCommittedKB: Math.round(mem.heapTotal / 1024),
  };
}
