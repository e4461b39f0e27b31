/**
 * Where the fused kernels find their data: a linear memory (the `wasm` backend's heap, or a private one into
 * which `cpu` tensors are copied), the SIMD loops instantiated on it (or null: every element is then processed
 * by the JavaScript loops), and the helpers that lay out per-position parameters and fold accumulators in the
 * interleaved format of `simd_module.ts`.
 * @module
 */
import { MAX_ACC, PARAM_SLOTS, SimdExports } from './simd_module.js';

/** A linear memory and the SIMD loops bound to it. */
export interface Heap {
  /** Its current buffer (re-read after anything that may grow it). */
  readonly memory: { readonly buffer: ArrayBufferLike };
  /** The SIMD loops on this memory, or null to run the JavaScript loops only. */
  readonly simd: SimdExports | null;
}

/** Float32 and Float64 views of the whole memory (take them after the last allocation). */
export interface Views { f32: Float32Array; f64: Float64Array }

/** Fresh views of `heap`. */
export function views(heap: Heap): Views {
  return { f32: new Float32Array(heap.memory.buffer), f64: new Float64Array(heap.memory.buffer) };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The period `P = lcm(C, 4)`: the smallest run of consecutive NHWC elements that holds whole quads and whole
 * rows of `C` channels, so that position `j` of every period belongs to channel `j mod C`.
 */
export function periodOf(channels: number): number {
  return (channels * 4) / gcd(channels, 4);
}

/** Most elements of one chunk (the part of a unit whose quads of channels are walked one after another). */
const CHUNK_ELEMENTS = 2048;
/** Most periods (rows) of one chunk: one float32 block of the reductions (`F32_BLOCK_ROWS`). */
const CHUNK_PERIODS = 16;

/**
 * Periods per chunk for period `P`: 16 rows, or fewer where 16 rows exceed 2048 elements (P > 128). Each quad of
 * channels walks the chunk's rows with a stride of one period; shorter walks over fewer cache lines ran faster
 * (measured, interleaved in one process, forward+backward of the fused ops: FRN+TLU at 64×32×32×64 median
 * 15.8 → 13.4 ms and 12.2 → 8.0 ms in two runs, BatchNorm 14.8 → 11.1, GroupNorm(32) 15.2 → 13.1; BatchNorm at the
 * reference net's 32×28×28×16 and 32×14×14×32: 1.19 → 1.00 and 0.79 → 0.67 ms) than the former 2048 elements
 * (32 rows at 64 channels, 128 at 16).
 */
export function chunkPeriods(period: number): number {
  return Math.max(1, Math.min(CHUNK_PERIODS, Math.floor(CHUNK_ELEMENTS / period)));
}

/** Bytes of scratch a kernel needs for period `P` (parameters, then accumulators), plus alignment slack. */
export function scratchBytes(period: number): number {
  return period * (4 * PARAM_SLOTS + 8 * MAX_ACC) + 16;
}

/** Byte offsets of the parameter and accumulator blocks inside a scratch area starting at byte `base`. */
export function scratchLayout(base: number, period: number): { prm: number; acc: number } {
  const prm = Math.ceil(base / 16) * 16;
  return { prm, acc: prm + period * 4 * PARAM_SLOTS };
}

/**
 * Byte offsets of consecutive parameter areas inside the parameter block at `prm`, one per loop, of `counts[i]`
 * parameters per position each (at most `PARAM_SLOTS` in all).
 */
export function paramAreas(prm: number, period: number, counts: readonly number[]): number[] {
  const out: number[] = [];
  let at = prm;
  for (const n of counts) {
    out.push(at);
    at += period * 4 * n;
  }
  return out;
}

/**
 * Writes per-channel values `perChannel[c]` as parameter `k` (of `nParams`) of every position of the period,
 * in the quad-interleaved layout, at byte offset `prm`.
 */
export function writeParam(f32: Float32Array, prm: number, period: number, channels: number, nParams: number, k: number, perChannel: ArrayLike<number>): void {
  const base = (prm >>> 2) + k * 4, quad = nParams * 4;
  // c = j mod channels, kept by a wrapping counter (an integer division per element cost more than the loop).
  for (let j = 0, c = 0; j < period; j++, c = c + 1 === channels ? 0 : c + 1) f32[base + (j >>> 2) * quad + (j & 3)] = perChannel[c];
}

/** Zeroes `nAcc` float64 accumulators of every position at byte offset `acc`. */
export function zeroAcc(f64: Float64Array, acc: number, period: number, nAcc: number): void {
  f64.fill(0, acc >>> 3, (acc >>> 3) + period * nAcc);
}

/** Adds accumulator `k` (of `nAcc`) of every position into `out[j mod C]`. */
export function foldAcc(f64: Float64Array, acc: number, period: number, channels: number, nAcc: number, k: number, out: Float64Array): void {
  const base = (acc >>> 3) + k * 4, quad = nAcc * 4;
  for (let j = 0, c = 0; j < period; j++, c = c + 1 === channels ? 0 : c + 1) out[c] += f64[base + (j >>> 2) * quad + (j & 3)];
}
