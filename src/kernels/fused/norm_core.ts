/**
 * The fused normalization, forward and backward, over data in a linear memory ({@link Heap}). One routine
 * covers every statistics-based normalization of batchfree, described by a {@link NormSpec}:
 *
 * - the input is `U` *units* of `unitLength = rows · C` contiguous NHWC elements; statistics are taken per unit
 *   and per group of `C / G` consecutive channels, over `M = rows · C/G` values;
 * - FRN (eq. 1–3 of Singh & Krishnan) is `G = C`, uncentred (`mu = 0`, `var = mean(x^2)`), with TLU;
 *   GFRN/LFRN are the same with fewer groups; GroupNorm/LayerNorm/InstanceNorm are per-sample units, centred,
 *   `G` groups / 1 / `C`; BatchNorm with normalization groups is one unit per group of images, `G = C`.
 *
 * Forward, per unit (two passes over its elements):
 * `mu[g]`, `var[g]` (float64 sums of `x - K` and `(x - K)^2` with a per-channel shift `K` = the unit's first
 * row, combined per group without cancellation), `r[g] = 1 / sqrt(var + eps)`, then
 * `y = max(xc * gamma * r + beta, tau)` (`tau = -inf` without TLU) with `xc = (x - K) - D`, `D = mu - K`: the
 * centring keeps its accuracy for inputs with a large offset (`x - K` is exact there, `D` is small). `D` per
 * unit and channel is saved for the backward pass.
 *
 * Backward, per unit (two passes): with `e = dy · [y_pre > tau]`, the same `xc` and the per-channel sums
 * `Se = sum e`, `Sx = sum e·xc`, `St = sum (dy - e)`:
 * `dbeta += Se`, `dgamma += r·Sx`, `dtau += St`; per group `A = sum_c gamma·Se`, `B = sum_c gamma·r·Sx`
 * (`= sum dxhat·xhat`), and (FRN eq. 7 generalised to centred groups)
 * `dx = r·gamma·e + xc·(2·dvar' - r^2·B)/M + [centred] (dmean - r·A)/M`, where `dvar' = dvar - r^3·drstd/2`
 * carries the gradients arriving at the `variance` and `rstd` outputs; `d eps = -sum (r^2·B + r^3·drstd)/2`.
 * @module
 */
import { Heap, chunkPeriods, foldAcc, paramAreas, periodOf, scratchLayout, views, writeParam, zeroAcc } from './heap.js';
import { type SimdExports, LAYOUT_NORM_APPLY, LAYOUT_NORM_BWD_APPLY, LAYOUT_NORM_BWD_STATS, LAYOUT_NORM_STATS } from './simd_module.js';

/** The geometry and options of one fused normalization. */
export interface NormSpec {
  /** Number of units `U`. */
  units: number;
  /** Elements per unit (`rows · C`). */
  unitLength: number;
  /** Channels `C` (the innermost axis). */
  channels: number;
  /** Channel groups `G` (divides `C`). */
  groups: number;
  /** Subtract the mean (GN, LN, IN, BN) or not (FRN, GFRN, LFRN). */
  center: boolean;
  /** The effective epsilon (fixed epsilon plus `|learnedEps|`). */
  eps: number;
}

/** Per-channel parameters `[C]`; null = the neutral value (gamma 1, beta 0, no TLU). */
export interface NormParams {
  gamma: Float32Array | null;
  beta: Float32Array | null;
  tau: Float32Array | null;
}

/** Statistics per unit and group, `[U·G]`, and the centring remainders `D = mu - K` per unit and channel, `[U·C]`. */
export interface NormStats {
  mean: Float32Array;
  variance: Float32Array;
  rstd: Float32Array;
  offset: Float32Array;
}

/** Gradients of the parameters (float64 sums over all units). */
export interface NormParamGrads {
  dgamma: Float64Array;
  dbeta: Float64Array;
  dtau: Float64Array;
  /** Gradient of the effective epsilon. */
  deps: number;
}

/** One exported SIMD loop. */
type SimdLoop = SimdExports[string];

/** Bytes per float32 element. */
const F32 = 4;

/** Suffix of the SIMD loops for this normalization: centred `c` or not `u`, with TLU `t` or not `n`. */
function variantOf(s: NormSpec, p: NormParams): string {
  const tlu = p.tau !== null && p.tau.some((v) => v !== -Infinity);
  return `${s.center ? 'c' : 'u'}${tlu ? 't' : 'n'}`;
}

/** The loop geometry shared by the forward and backward passes: sizes, SIMD period and tail, scratch and heap views. */
function loopLayout(heap: Heap, s: NormSpec, scratch: number, p: NormParams) {
  const C = s.channels, G = s.groups, perGroup = C / G, L = s.unitLength, rows = L / C, count = rows * perGroup;
  const P = periodOf(C);
  const simd = heap.simd;
  const full = simd === null ? 0 : Math.floor(L / P);
  const { prm, acc } = scratchLayout(scratch, P);
  // One parameter area per loop: the per-channel constants (beta, tau) are written once per call, and per unit
  // only what changes (K and D when centred, a, and the backward coefficients).
  const [prmStats, prmApply, prmBwdStats, prmBwdApply] = paramAreas(prm, P,
    [LAYOUT_NORM_STATS.params, LAYOUT_NORM_APPLY, LAYOUT_NORM_BWD_STATS.params, LAYOUT_NORM_BWD_APPLY]);
  return { C, G, perGroup, L, rows, count, P, simd, full, tailStart: full * P, chunk: chunkPeriods(P), prmStats, prmApply, prmBwdStats, prmBwdApply, acc, ...views(heap), variant: variantOf(s, p) };
}

/**
 * Forward pass. `x`, `y` and `scratch` are byte offsets in `heap` (`scratch` of `scratchBytes(periodOf(C))`).
 * @returns the statistics of every unit and group.
 */
export function normForward(heap: Heap, s: NormSpec, x: number, y: number, scratch: number, p: NormParams): NormStats {
  const { C, G, perGroup, L, rows, count, P, simd, full, tailStart, chunk, prmStats, prmApply, acc, f32, f64, variant } = loopLayout(heap, s, scratch, p);

  const mean = new Float32Array(s.units * G), variance = new Float32Array(s.units * G), rstd = new Float32Array(s.units * G);
  const offset = new Float32Array(s.units * C);
  const shift = new Float64Array(C), s1 = new Float64Array(C), s2 = new Float64Array(C);
  const d = new Float64Array(C), a = new Float64Array(C), b = new Float64Array(C), t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    b[c] = p.beta === null ? 0 : p.beta[c];
    t[c] = p.tau === null ? -Infinity : p.tau[c];
  }
  const loops = full > 0 && simd !== null;
  const statsLoop = simd?.[`norm_stats_${variant[0]}`], applyLoop = simd?.[`norm_apply_${variant}`]; // looked up once
  if (loops) {
    writeParam(f32, prmApply, P, C, LAYOUT_NORM_APPLY, 3, b);
    writeParam(f32, prmApply, P, C, LAYOUT_NORM_APPLY, 4, t);
  }

  for (let u = 0; u < s.units; u++) {
    const xb = (x >>> 2) + u * L, yb = (y >>> 2) + u * L;
    for (let c = 0; c < C; c++) shift[c] = s.center ? f32[xb + c] : 0;
    s1.fill(0);
    s2.fill(0);
    if (loops) {
      if (s.center) writeParam(f32, prmStats, P, C, LAYOUT_NORM_STATS.params, 0, shift);
      zeroAcc(f64, acc, P, LAYOUT_NORM_STATS.acc);
      (statsLoop as SimdLoop)(x + u * L * F32, full, P, chunk, prmStats, acc);
      foldAcc(f64, acc, P, C, LAYOUT_NORM_STATS.acc, 0, s1);
      foldAcc(f64, acc, P, C, LAYOUT_NORM_STATS.acc, 1, s2);
    }
    for (let e = tailStart, c = 0; e < L; e++, c = c + 1 === C ? 0 : c + 1) {
      const v = f32[xb + e] - shift[c];
      s1[c] += v;
      s2[c] += v * v;
    }

    for (let g = 0; g < G; g++) {
      let mu = 0, v: number;
      if (s.center) {
        // Channel means, then the group's sum of squared deviations without cancellation.
        for (let c = g * perGroup; c < (g + 1) * perGroup; c++) mu += shift[c] + s1[c] / rows;
        mu /= perGroup;
        let m2 = 0;
        for (let c = g * perGroup; c < (g + 1) * perGroup; c++) {
          const channelMean = shift[c] + s1[c] / rows;
          m2 += Math.max(s2[c] - (s1[c] * s1[c]) / rows, 0) + rows * (channelMean - mu) ** 2;
        }
        v = m2 / count;
      } else {
        let sum = 0;
        for (let c = g * perGroup; c < (g + 1) * perGroup; c++) sum += s2[c];
        v = sum / count;
      }
      // Rounded as saved, so that the backward pass recomputes exactly the same pre-TLU values.
      const r = Math.fround(1 / Math.sqrt(v + s.eps));
      mean[u * G + g] = mu;
      variance[u * G + g] = v;
      rstd[u * G + g] = r;
      for (let c = g * perGroup; c < (g + 1) * perGroup; c++) {
        d[c] = Math.fround(mu - shift[c]);
        offset[u * C + c] = d[c];
        a[c] = Math.fround((p.gamma === null ? 1 : p.gamma[c]) * r);
      }
    }

    if (loops) {
      if (s.center) {
        writeParam(f32, prmApply, P, C, LAYOUT_NORM_APPLY, 0, shift);
        writeParam(f32, prmApply, P, C, LAYOUT_NORM_APPLY, 1, d);
      }
      writeParam(f32, prmApply, P, C, LAYOUT_NORM_APPLY, 2, a);
      (applyLoop as SimdLoop)(x + u * L * F32, y + u * L * F32, full, P, chunk, prmApply);
    }
    for (let e = tailStart, c = 0; e < L; e++, c = c + 1 === C ? 0 : c + 1) {
      const v = (f32[xb + e] - shift[c] - d[c]) * a[c] + b[c];
      f32[yb + e] = v < t[c] ? t[c] : v;
    }
  }
  return { mean, variance, rstd, offset };
}

/** The saved forward statistics (`rstd` `[U·G]`, `offset` `[U·C]`) and the gradients arriving at the statistics outputs, `[U·G]`. */
export interface NormBackwardStats {
  rstd: Float32Array;
  offset: Float32Array;
  dmean: Float32Array;
  dvariance: Float32Array;
  drstd: Float32Array;
}

/**
 * Backward pass: writes `dx` (byte offset) from `dz` (gradient of `y`) and returns the parameter gradients.
 * `st` holds the forward statistics and the gradients of the statistics outputs.
 */
export function normBackward(heap: Heap, s: NormSpec, x: number, dz: number, dx: number, scratch: number, p: NormParams, st: NormBackwardStats): NormParamGrads {
  const { C, G, perGroup, L, count, P, simd, full, tailStart, chunk, prmBwdStats, prmBwdApply, acc, f32, f64, variant } = loopLayout(heap, s, scratch, p);

  const dgamma = new Float64Array(C), dbeta = new Float64Array(C), dtau = new Float64Array(C);
  let deps = 0;
  const gamma = new Float64Array(C), b = new Float64Array(C), t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    gamma[c] = p.gamma === null ? 1 : p.gamma[c];
    b[c] = p.beta === null ? 0 : p.beta[c];
    t[c] = p.tau === null ? -Infinity : p.tau[c];
  }
  const shift = new Float64Array(C), d = new Float64Array(C), a = new Float64Array(C), pc = new Float64Array(C), qc = new Float64Array(C), rc = new Float64Array(C);
  const se = new Float64Array(C), sx = new Float64Array(C), sd = new Float64Array(C);
  const loops = full > 0 && simd !== null;
  const statsLoop = simd?.[`norm_bwd_stats_${variant}`], applyLoop = simd?.[`norm_bwd_apply_${variant}`]; // looked up once
  if (loops) {
    for (const [prm, n] of [[prmBwdStats, LAYOUT_NORM_BWD_STATS.params], [prmBwdApply, LAYOUT_NORM_BWD_APPLY]]) {
      writeParam(f32, prm, P, C, n, 3, b);
      writeParam(f32, prm, P, C, n, 4, t);
    }
  }

  for (let u = 0; u < s.units; u++) {
    const xb = (x >>> 2) + u * L, zb = (dz >>> 2) + u * L, db = (dx >>> 2) + u * L;
    for (let c = 0; c < C; c++) {
      shift[c] = s.center ? f32[xb + c] : 0;
      d[c] = st.offset[u * C + c];
      a[c] = Math.fround(gamma[c] * st.rstd[u * G + Math.floor(c / perGroup)]);
    }
    se.fill(0);
    sx.fill(0);
    sd.fill(0);
    if (loops) {
      writeKda(f32, prmBwdStats, P, C, LAYOUT_NORM_BWD_STATS.params, s.center, shift, d, a);
      zeroAcc(f64, acc, P, LAYOUT_NORM_BWD_STATS.acc);
      (statsLoop as SimdLoop)(x + u * L * F32, dz + u * L * F32, full, P, chunk, prmBwdStats, acc);
      foldAcc(f64, acc, P, C, LAYOUT_NORM_BWD_STATS.acc, 0, se);
      foldAcc(f64, acc, P, C, LAYOUT_NORM_BWD_STATS.acc, 1, sx);
      foldAcc(f64, acc, P, C, LAYOUT_NORM_BWD_STATS.acc, 2, sd);
    }
    for (let e = tailStart, c = 0; e < L; e++, c = c + 1 === C ? 0 : c + 1) {
      const xc = f32[xb + e] - shift[c] - d[c];
      const g = f32[zb + e];
      const pass = t[c] < xc * a[c] + b[c] ? g : 0;
      se[c] += pass;
      sx[c] += pass * xc;
      sd[c] += g - pass;
    }

    for (let g = 0; g < G; g++) {
      const k = u * G + g, r = st.rstd[k];
      let sumA = 0, sumB = 0;
      for (let c = g * perGroup; c < (g + 1) * perGroup; c++) {
        dbeta[c] += se[c];
        dgamma[c] += r * sx[c];
        dtau[c] += sd[c];
        sumA += gamma[c] * se[c];
        sumB += gamma[c] * r * sx[c];
      }
      const dvar = st.dvariance[k] - 0.5 * r * r * r * st.drstd[k];
      const q = (2 * dvar - r * r * sumB) / count;
      const rr = s.center ? (st.dmean[k] - r * sumA) / count : 0;
      deps -= 0.5 * (r * r * sumB + r * r * r * st.drstd[k]);
      for (let c = g * perGroup; c < (g + 1) * perGroup; c++) {
        pc[c] = r * gamma[c];
        qc[c] = q;
        rc[c] = rr;
      }
    }

    if (loops) {
      writeKda(f32, prmBwdApply, P, C, LAYOUT_NORM_BWD_APPLY, s.center, shift, d, a);
      writeParam(f32, prmBwdApply, P, C, LAYOUT_NORM_BWD_APPLY, 5, pc);
      writeParam(f32, prmBwdApply, P, C, LAYOUT_NORM_BWD_APPLY, 6, qc);
      if (s.center) writeParam(f32, prmBwdApply, P, C, LAYOUT_NORM_BWD_APPLY, 7, rc);
      (applyLoop as SimdLoop)(x + u * L * F32, dz + u * L * F32, dx + u * L * F32, full, P, chunk, prmBwdApply);
    }
    for (let e = tailStart, c = 0; e < L; e++, c = c + 1 === C ? 0 : c + 1) {
      const xc = f32[xb + e] - shift[c] - d[c];
      const pass = t[c] < xc * a[c] + b[c] ? f32[zb + e] : 0;
      f32[db + e] = pass * pc[c] + xc * qc[c] + rc[c];
    }
  }
  return { dgamma, dbeta, dtau, deps };
}

/** The per-unit parameters 0-2 of a loop: `K`, `D` (centred only: the uncentred loops do not read them) and `a`. */
function writeKda(f32: Float32Array, prm: number, P: number, C: number, nParams: number, center: boolean,
  shift: Float64Array, d: Float64Array, a: Float64Array): void {
  if (center) {
    writeParam(f32, prm, P, C, nParams, 0, shift);
    writeParam(f32, prm, P, C, nParams, 1, d);
  }
  writeParam(f32, prm, P, C, nParams, 2, a);
}
