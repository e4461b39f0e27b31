/**
 * The calling thread's scheduler accounting on Linux (`/proc/thread-self/schedstat`): time on a CPU and time
 * runnable but waiting for one. On a shared machine the second one shows how much a step was slowed by other
 * processes; elsewhere (no such file) the functions return `undefined`.
 * @module
 */
import { readFileSync } from 'node:fs';

/** Milliseconds the calling thread has run on a CPU, and waited runnable for one, since it started. */
export interface ThreadTimes {
  cpuMs: number;
  runnableWaitMs: number;
}

let available = true;

/** The calling thread's {@link ThreadTimes}, or `undefined` where the kernel does not report them. */
export function threadTimes(): ThreadTimes | undefined {
  if (!available) return undefined;
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    if (!Number.isFinite(run) || !Number.isFinite(wait)) throw new Error('unexpected schedstat format');
    return { cpuMs: run / 1e6, runnableWaitMs: wait / 1e6 };
  } catch {
    available = false;
    return undefined;
  }
}
