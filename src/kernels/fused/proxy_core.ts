/**
 * The fused proxy-normalized activation (Labatie et al. 2021; METHODS.md §3), forward and backward, over data
 * in a linear memory ({@link Heap}). The proxy statistics `mu`, `s` are tiny `[C]` tensors computed by the op;
 * this is the part over the activation tensor:
 *
 * forward `y = (phi(gamma·x + beta) - mu) · s`, one pass;
 * backward, one pass: with `u = gamma·x + beta` and `w = dy · phi'(u)`,
 * `dx = s·gamma·w`, `dgamma = s·sum(w·x)`, `dbeta = s·sum(w)`, `dmu = -s·sum(dy)`, `ds = sum(dy·(phi(u) - mu))`
 * (sums per channel over every other axis, in float64).
 *
 * `phi` is evaluated in float32: relu and identity exactly; `exp` by range reduction and a degree-7 polynomial
 * (relative error ~1e-7); gelu's normal CDF by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, the same
 * approximation as TF.js' `erf` on the cpu backend).
 * @module
 */
import { Heap, chunkPeriods, foldAcc, periodOf, scratchLayout, views, writeParam, zeroAcc } from './heap.js';
import { FusedActivation, LAYOUT_PROXY_BWD, LAYOUT_PROXY_FWD } from './simd_module.js';

/** Geometry of one proxy-normalized activation: `size` elements, the last axis of `channels`. */
export interface ProxySpec {
  size: number;
  channels: number;
  activation: FusedActivation;
}

/** Per-channel inputs `[C]` (the caller fills the neutral values for the ones the op omitted). */
export interface ProxyParams {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  invStd: Float32Array;
}

/** Per-channel gradients (float64 sums). */
export interface ProxyParamGrads {
  dgamma: Float64Array;
  dbeta: Float64Array;
  dmean: Float64Array;
  dinvStd: Float64Array;
}

const A_AND_S = [0.3275911, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];
const SELU_ALPHA = 1.6732632423543772, SELU_SCALE = 1.0507009873554805;

/**
 * `phi(u)` and `phi'(u)` in float64 with the same formulas as the SIMD loops (for the elements they leave
 * over, and where WebAssembly SIMD is missing). Writes into `out[0]`, `out[1]`.
 */
export function activationAndDerivative(act: FusedActivation, u: number, out: Float64Array): void {
  switch (act) {
    case 'identity': out[0] = u; out[1] = 1; return;
    case 'relu': out[0] = u < 0 ? 0 : u; out[1] = u > 0 ? 1 : 0; return;
    case 'silu': {
      const sig = 1 / (1 + Math.exp(-u));
      out[0] = u * sig;
      out[1] = sig * (1 + u * (1 - sig));
      return;
    }
    case 'tanh': {
      const th = Math.tanh(u);
      out[0] = th;
      out[1] = 1 - th * th;
      return;
    }
    case 'elu':
    case 'selu': {
      const [alpha, scale] = act === 'selu' ? [SELU_ALPHA, SELU_SCALE] : [1, 1];
      const ex = Math.exp(Math.min(u, 0));
      out[0] = scale * (u > 0 ? u : alpha * (ex - 1));
      out[1] = scale * (u > 0 ? 1 : alpha * ex);
      return;
    }
    case 'gelu': {
      const [p, a1, a2, a3, a4, a5] = A_AND_S;
      const z = Math.abs(u) * Math.SQRT1_2;
      const t = 1 / (1 + p * z);
      const gauss = Math.exp(-z * z);
      const tail = 0.5 * t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5)))) * gauss; // Phi(-|u|)
      const cdf = u > 0 ? 1 - tail : tail;
      out[0] = u * cdf;
      out[1] = cdf + (u * gauss) / Math.sqrt(2 * Math.PI);
      return;
    }
  }
}

/** Forward pass; `x`, `y`, `scratch` are byte offsets in `heap`. */
export function proxyForward(heap: Heap, s: ProxySpec, x: number, y: number, scratch: number, p: ProxyParams): void {
  const C = s.channels, P = periodOf(C);
  const simd = heap.simd;
  const full = simd === null ? 0 : Math.floor(s.size / P);
  const { prm } = scratchLayout(scratch, P);
  const { f32 } = views(heap);
  if (full > 0 && simd !== null) {
    [p.gamma, p.beta, p.mean, p.invStd].forEach((arr, k) => writeParam(f32, prm, P, C, LAYOUT_PROXY_FWD, k, arr));
    simd[`pn_fwd_${s.activation}`](x, y, full, P, chunkPeriods(P), prm);
  }
  const fd = new Float64Array(2);
  const xb = x >>> 2, yb = y >>> 2;
  for (let e = full * P, c = 0; e < s.size; e++, c = c + 1 === C ? 0 : c + 1) {
    activationAndDerivative(s.activation, f32[xb + e] * p.gamma[c] + p.beta[c], fd);
    f32[yb + e] = (fd[0] - p.mean[c]) * p.invStd[c];
  }
}

/** Backward pass: writes `dx` from `dz` (gradient of `y`) and returns the per-channel parameter gradients. */
export function proxyBackward(heap: Heap, s: ProxySpec, x: number, dz: number, dx: number, scratch: number, p: ProxyParams): ProxyParamGrads {
  const C = s.channels, P = periodOf(C);
  const simd = heap.simd;
  const full = simd === null ? 0 : Math.floor(s.size / P);
  const { prm, acc } = scratchLayout(scratch, P);
  const { f32, f64 } = views(heap);
  const sumWX = new Float64Array(C), sumW = new Float64Array(C), sumDz = new Float64Array(C), sumDzF = new Float64Array(C);
  const sg = Float64Array.from(p.gamma, (g, c) => g * p.invStd[c]);
  if (full > 0 && simd !== null) {
    [p.gamma, p.beta, p.mean, sg].forEach((arr, k) => writeParam(f32, prm, P, C, LAYOUT_PROXY_BWD.params, k, arr));
    zeroAcc(f64, acc, P, LAYOUT_PROXY_BWD.acc);
    simd[`pn_bwd_${s.activation}`](x, dz, dx, full, P, chunkPeriods(P), prm, acc);
    [sumWX, sumW, sumDz, sumDzF].forEach((out, k) => foldAcc(f64, acc, P, C, LAYOUT_PROXY_BWD.acc, k, out));
  }
  const fd = new Float64Array(2);
  const xb = x >>> 2, zb = dz >>> 2, db = dx >>> 2;
  for (let e = full * P, c = 0; e < s.size; e++, c = c + 1 === C ? 0 : c + 1) {
    const xv = f32[xb + e], g = f32[zb + e];
    activationAndDerivative(s.activation, xv * p.gamma[c] + p.beta[c], fd);
    const w = g * fd[1];
    f32[db + e] = w * sg[c];
    sumWX[c] += w * xv;
    sumW[c] += w;
    sumDz[c] += g;
    sumDzF[c] += g * (fd[0] - p.mean[c]);
  }
  const dgamma = new Float64Array(C), dbeta = new Float64Array(C), dmean = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    dgamma[c] = p.invStd[c] * sumWX[c];
    dbeta[c] = p.invStd[c] * sumW[c];
    dmean[c] = -p.invStd[c] * sumDz[c];
  }
  return { dgamma, dbeta, dmean, dinvStd: sumDzF };
}
