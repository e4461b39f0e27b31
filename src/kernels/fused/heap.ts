/**
 * Where the fused kernels find their data: a linear memory (the `wasm` backend's heap, or a private one into
 * which `cpu` tensors are copied), the SIMD loops instantiated on it (or null: every element is then processed
 * by the JavaScript loops), and the helpers that lay out per-position parameters and fold accumulators in the
 * interleaved format of `simd_module.ts`.
 * @module
 */
import { MAX_ACC, MAX_PARAMS, SimdExports } from './simd_module.js';

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

/** Elements of one chunk of a reduction (the chunk of a unit whose quads are walked one after another). */
const CHUNK_ELEMENTS = 2048;

/** Periods per reduction chunk for period `P`. */
export function chunkPeriods(period: number): number {
  return Math.max(1, Math.floor(CHUNK_ELEMENTS / period));
}

/** Bytes of scratch a kernel needs for period `P` (parameters, then accumulators), plus alignment slack. */
export function scratchBytes(period: number): number {
  return period * (4 * MAX_PARAMS + 8 * MAX_ACC) + 16;
}

/** Byte offsets of the parameter and accumulator blocks inside a scratch area starting at byte `base`. */
export function scratchLayout(base: number, period: number): { prm: number; acc: number } {
  const prm = Math.ceil(base / 16) * 16;
  return { prm, acc: prm + period * 4 * MAX_PARAMS };
}

/**
 * Writes per-channel values `perChannel[c]` as parameter `k` (of `nParams`) of every position of the period,
 * in the quad-interleaved layout, at byte offset `prm`.
 */
export function writeParam(f32: Float32Array, prm: number, period: number, channels: number, nParams: number, k: number, perChannel: ArrayLike<number>): void {
  const base = prm >>> 2;
  for (let j = 0; j < period; j++) f32[base + (j >>> 2) * nParams * 4 + k * 4 + (j & 3)] = perChannel[j % channels];
}

/** Zeroes `nAcc` float64 accumulators of every position at byte offset `acc`. */
export function zeroAcc(f64: Float64Array, acc: number, period: number, nAcc: number): void {
  f64.fill(0, acc >>> 3, (acc >>> 3) + period * nAcc);
}

/** Adds accumulator `k` (of `nAcc`) of every position into `out[j mod C]`. */
export function foldAcc(f64: Float64Array, acc: number, period: number, channels: number, nAcc: number, k: number, out: Float64Array): void {
  const base = acc >>> 3;
  for (let j = 0; j < period; j++) out[j % channels] += f64[base + (j >>> 2) * nAcc * 4 + k * 4 + (j & 3)];
}
