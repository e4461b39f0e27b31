/**
 * Node-only measuring helpers of `batchfree bench`: medians and quartiles, timing a call (wall and process CPU
 * time), the machine's copy bandwidth, and a description of the machine and its load.
 * @module
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { tf } from '../engine.js';

/** The median of `values` (NaN for an empty list). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/**
 * The `q`-quantile of `values`, `0 <= q <= 1`, interpolated linearly between order statistics (the median of an
 * even count is the mean of the two middle values). NaN for an empty list.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** What {@link timeCalls} measured, ms per call. */
export interface CallTiming {
  /** Median wall time. */
  wallMs: number;
  /** Median process CPU time (user + system, all threads). */
  cpuMs: number;
  /** Fastest wall time. */
  minWallMs: number;
  /** Timed calls. */
  calls: number;
}

/**
 * Times `f`: `warmup` untimed calls (they also let V8 optimise the WebAssembly and JavaScript loops), then `iters`
 * timed ones. `f` must be synchronous and finish its work (download or dispose its results) before it returns.
 */
export function timeCalls(f: () => void, iters: number, warmup = 5): CallTiming {
  return timeEach([f], iters, warmup)[0];
}

/**
 * {@link timeCalls} of `f` with `g` timed right after each call of `f` (warm-up calls too): two timings taken at
 * the same moments of the machine, whose speed drifts by tens of percent within minutes.
 */
export function timePaired(f: () => void, g: () => void, iters: number, warmup = 5): [CallTiming, CallTiming] {
  return timeEach([f, g], iters, warmup) as [CallTiming, CallTiming];
}

/** Times each of `fs` in turn, `warmup` untimed rounds then `iters` timed ones. */
function timeEach(fs: ReadonlyArray<() => void>, iters: number, warmup: number): CallTiming[] {
  for (let i = 0; i < warmup; i++) for (const f of fs) f();
  const wall = fs.map((): number[] => []), cpu = fs.map((): number[] => []);
  for (let i = 0; i < iters; i++) {
    fs.forEach((f, k) => {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      f();
      wall[k].push(performance.now() - w0);
      const c = process.cpuUsage(c0);
      cpu[k].push((c.user + c.system) / 1000);
    });
  }
  return fs.map((_, k) => ({ wallMs: median(wall[k]), cpuMs: median(cpu[k]), minWallMs: Math.min(...wall[k]), calls: iters }));
}

/** The copy bandwidth {@link copyBandwidth} measured. */
export interface Bandwidth {
  /** Bytes moved per second, read + write counted (as PEERS.md). */
  bytesPerSecond: number;
  /** Median ms of one copy. */
  ms: number;
  /** Size of the copied array, bytes. */
  bytes: number;
}

/**
 * Copy bandwidth of this machine from JavaScript: `Float32Array.prototype.set` of `mib` MiB into another array
 * (median of `iters` copies after 2 untimed ones), read + write counted. Arrays well above the last-level cache
 * (the default 256 MiB) measure main memory.
 */
export function copyBandwidth(mib = 256, iters = 5): Bandwidth {
  const n = Math.floor((mib * 2 ** 20) / 4);
  const src = new Float32Array(n).fill(1), dst = new Float32Array(n);
  const t = timeCalls(() => dst.set(src), iters, 2);
  return { bytesPerSecond: (2 * n * 4) / (t.wallMs / 1000), ms: t.wallMs, bytes: n * 4 };
}

/** The machine a benchmark ran on. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  node: string;
  tfjs: string;
  /** 1, 5 and 15-minute load averages when the run started. */
  loadAverage: number[];
}

/** This machine's {@link MachineInfo}. */
export function machineInfo(): MachineInfo {
  return { cores: availableParallelism(), cpuModel: cpus()[0]?.model ?? '?', node: process.version, tfjs: tf.version_core, loadAverage: loadavg() };
}

/** The first line of an error's message, at most 200 characters. */
export function errorLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
}
