/**
 * Test-side float64 references shared by the op, layer and model tests: the normal CDF, the activations, the
 * statistics of batch normalization groups and of per-sample channel groups, Weight Standardization. Written
 * independently of src/ops (naive loops, no TF.js).
 */
import type { ActivationName } from '../../src/ops/activations.js';
import type { Arr } from '../helpers.js';

/** The values a float32 tensor actually holds, as float64 (so references see what the op sees). */
export function f32(a: Arr): Arr {
  return { data: Float64Array.from(Float32Array.from(a.data)), shape: a.shape };
}

/**
 * float64 erfc: one minus the alternating Taylor series of erf near 0 (t < 2), Lentz's continued fraction in the
 * tail (t >= 2). (The library uses a different series.)
 */
export function erfc(t: number): number {
  if (t < 0) return 2 - erfc(-t);
  if (t < 2) {
    let term = t, sum = t;
    for (let n = 1; n < 200; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(t) = exp(-t^2)/sqrt(pi) / (t + (1/2)/(t + 1/(t + (3/2)/(t + ...)))), evaluated bottom-up.
  let f = t;
  for (let k = 200; k >= 1; k--) f = t + (k / 2) / f;
  return Math.exp(-t * t) / Math.sqrt(Math.PI) / f;
}

/** float64 standard normal CDF through {@link erfc}; the lower tail as `erfc / 2`, without cancellation. */
export const Phi = (x: number): number => (x < 0 ? 0.5 * erfc(-x / Math.SQRT2) : 1 - 0.5 * erfc(x / Math.SQRT2));

/** SELU's constants (Klambauer et al. 2017). */
export const SELU_SCALE = 1.0507009873554805, SELU_ALPHA = 1.6732632423543772;

/** Independent float64 definitions of the activations. */
export const ACTIVATION_REFERENCE: Readonly<Record<ActivationName, (v: number) => number>> = {
  relu: (v) => Math.max(v, 0),
  gelu: (v) => v * Phi(v),
  silu: (v) => v / (1 + Math.exp(-v)),
  swish: (v) => v / (1 + Math.exp(-v)),
  tanh: (v) => Math.tanh(v),
  elu: (v) => (v > 0 ? v : Math.exp(v) - 1),
  selu: (v) => SELU_SCALE * (v > 0 ? v : SELU_ALPHA * (Math.exp(v) - 1)),
  identity: (v) => v,
};

/**
 * Naive float64 statistics of each batch normalization group: group n holds images n*gs .. n*gs+gs-1; per channel,
 * mean over its images and spatial positions, biased variance around that mean (two loops). Indexed `n * C + c`.
 */
export function batchGroupStats(x: Float64Array, shape: number[], groupSize: number): { mean: Float64Array; variance: Float64Array } {
  const B = shape[0], C = shape[shape.length - 1];
  const spatial = x.length / (B * C);
  const groups = B / groupSize;
  const mean = new Float64Array(groups * C), variance = new Float64Array(groups * C);
  for (let n = 0; n < groups; n++) {
    for (let c = 0; c < C; c++) {
      let s = 0, count = 0;
      for (let b = n * groupSize; b < (n + 1) * groupSize; b++) {
        for (let p = 0; p < spatial; p++) { s += x[(b * spatial + p) * C + c]; count++; }
      }
      const m = s / count;
      let v = 0;
      for (let b = n * groupSize; b < (n + 1) * groupSize; b++) {
        for (let p = 0; p < spatial; p++) v += (x[(b * spatial + p) * C + c] - m) ** 2;
      }
      mean[n * C + c] = m;
      variance[n * C + c] = v / count;
    }
  }
  return { mean, variance };
}

/** Per-channel average over groups of an array indexed `n * C + c`. */
export function averageOverGroups(a: Float64Array, C: number): Float64Array {
  const out = new Float64Array(C);
  const groups = a.length / C;
  for (let k = 0; k < a.length; k++) out[k % C] += a[k] / groups;
  return out;
}

/**
 * The element indices of each per-sample channel group of an NHWC (or `[B, C]`) array: for sample b and group g
 * (channels g*C/G .. (g+1)*C/G - 1), every spatial position's channels of the group, in memory order.
 */
export function sampleGroups(shape: number[], groups: number): number[][] {
  const B = shape[0], C = shape[shape.length - 1];
  const spatial = shape.reduce((a, d) => a * d, 1) / (B * C), per = C / groups;
  const out: number[][] = [];
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let p = 0; p < spatial; p++) for (let k = 0; k < per; k++) idx.push((b * spatial + p) * C + g * per + k);
      out.push(idx);
    }
  }
  return out;
}

/** Mean of `x` over `idx`. */
export function meanAt(x: Float64Array, idx: readonly number[]): number {
  let s = 0;
  for (const i of idx) s += x[i];
  return s / idx.length;
}

/** Mean of `(x - m)^2` over `idx` (the biased variance when `m` is the mean, the mean square when `m = 0`). */
export function meanSquareAbout(x: Float64Array, idx: readonly number[], m: number): number {
  let s = 0;
  for (const i of idx) s += (x[i] - m) ** 2;
  return s / idx.length;
}

/**
 * Independent float64 reference of (Scaled) Weight Standardization: for each output unit o (last axis), loops over
 * the fanIn other elements. `mode` 'scaled': (w - mean) * gain / sqrt(max(var * fanIn, eps)); 'plain': (w - mean) / sqrt(var + eps).
 */
export function wsReference(w: Float64Array, shape: number[], mode: 'scaled' | 'plain', eps: number, gain?: Float64Array): Float64Array {
  const out = shape[shape.length - 1];
  const fanIn = w.length / out;
  const y = new Float64Array(w.length);
  for (let o = 0; o < out; o++) {
    let mean = 0;
    for (let k = 0; k < fanIn; k++) mean += w[k * out + o];
    mean /= fanIn;
    let variance = 0;
    for (let k = 0; k < fanIn; k++) variance += (w[k * out + o] - mean) ** 2;
    variance /= fanIn;
    const scale = mode === 'scaled' ? (gain ? gain[o] : 1) / Math.sqrt(Math.max(variance * fanIn, eps)) : 1 / Math.sqrt(variance + eps);
    for (let k = 0; k < fanIn; k++) y[k * out + o] = (w[k * out + o] - mean) * scale;
  }
  return y;
}
