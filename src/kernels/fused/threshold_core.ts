/**
 * Thresholds over data in a linear memory ({@link Heap}), on the SIMD loops of the normalizations with neutral
 * normalization parameters (uncentred, `a = 1`, `b = 0`): the whole tensor is one unit of `size` elements whose
 * innermost axis has `C` channels.
 *
 * - TLU forward, eq. (3) of Singh & Krishnan: `y = max(x, tau)` (one pass);
 * - TLU backward: `dx = dy · [x > tau]`, `dtau = sum (dy · [x <= tau])` per channel (one pass, its own loop
 *   `tlu_bwd`), the gradient going to `tau` where `x = tau` (as `relu(x - tau) + tau` does);
 * - ReLU backward: `dx = dy · [x > 0]` (one pass, instead of TF.js' `Step` then `Multiply`).
 * @module
 */
import { Heap, chunkPeriods, foldAcc, periodOf, scratchLayout, views, writeParam, zeroAcc } from './heap.js';
import { LAYOUT_NORM_APPLY, LAYOUT_NORM_BWD_APPLY, LAYOUT_TLU_BWD } from './simd_module.js';

/** Size and channel count of one thresholded tensor. */
export interface ThresholdSpec {
  /** Elements. */
  size: number;
  /** Channels `C` (the innermost axis). */
  channels: number;
}

function layout(heap: Heap, s: ThresholdSpec, scratch: number) {
  const P = periodOf(s.channels);
  const simd = heap.simd;
  const full = simd === null ? 0 : Math.floor(s.size / P);
  return { C: s.channels, P, simd, full, tailStart: full * P, chunk: chunkPeriods(P), ...scratchLayout(scratch, P), ...views(heap) };
}

/** Writes the parameter slots of the uncentred loops: shift and offset 0 (unused), `a = 1`, `b = 0`, then `extra`. */
function writeNeutral(f32: Float32Array, prm: number, P: number, C: number, nParams: number, tau: ArrayLike<number>, extra: Array<ArrayLike<number>>): void {
  const zeros = new Float64Array(C), ones = new Float64Array(C).fill(1);
  [zeros, zeros, ones, zeros, tau, ...extra].forEach((v, k) => writeParam(f32, prm, P, C, nParams, k, v));
}

/** `y = max(x, tau)`; `x`, `y`, `scratch` are byte offsets (`scratch` of `scratchBytes(periodOf(C))`). */
export function thresholdForward(heap: Heap, s: ThresholdSpec, x: number, y: number, scratch: number, tau: Float32Array): void {
  const { C, P, simd, full, tailStart, chunk, prm, f32 } = layout(heap, s, scratch);
  if (full > 0 && simd !== null) {
    writeNeutral(f32, prm, P, C, LAYOUT_NORM_APPLY, tau, []);
    simd.norm_apply_ut(x, y, full, P, chunk, prm);
  }
  for (let e = tailStart, c = 0, xb = x >>> 2, yb = y >>> 2; e < s.size; e++, c = c + 1 === C ? 0 : c + 1) {
    const v = f32[xb + e];
    f32[yb + e] = v < tau[c] ? tau[c] : v;
  }
}

/**
 * `dx = dy · [x > tau]` and, when `withTauGradient`, the per-channel `dtau = sum dy · [x <= tau]` (float64 sums;
 * all zeros otherwise).
 */
export function thresholdBackward(heap: Heap, s: ThresholdSpec, x: number, dz: number, dx: number, scratch: number, tau: Float32Array, withTauGradient: boolean): Float64Array {
  const { C, P, simd, full, tailStart, chunk, prm, acc, f32, f64 } = layout(heap, s, scratch);
  const dtau = new Float64Array(C);
  if (full > 0 && simd !== null) {
    if (withTauGradient) {
      writeParam(f32, prm, P, C, LAYOUT_TLU_BWD.params, 0, tau);
      zeroAcc(f64, acc, P, LAYOUT_TLU_BWD.acc);
      simd.tlu_bwd(x, dz, dx, full, P, chunk, prm, acc);
      foldAcc(f64, acc, P, C, LAYOUT_TLU_BWD.acc, 0, dtau);
    } else { // dx = e·p + xc·q with p = 1, q = 0
      writeNeutral(f32, prm, P, C, LAYOUT_NORM_BWD_APPLY, tau, [new Float64Array(C).fill(1), new Float64Array(C), new Float64Array(C)]);
      simd.norm_bwd_apply_ut(x, dz, dx, full, P, chunk, prm);
    }
  }
  for (let e = tailStart, c = 0, xb = x >>> 2, zb = dz >>> 2, db = dx >>> 2; e < s.size; e++, c = c + 1 === C ? 0 : c + 1) {
    const g = f32[zb + e];
    const pass = tau[c] < f32[xb + e];
    f32[db + e] = pass ? g : 0;
    if (!pass) dtau[c] += g;
  }
  return dtau;
}
