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
import {
  type SimdExports, LAYOUT_NORM_APPLY, LAYOUT_NORM_APPLY_STATS, LAYOUT_NORM_BWD_APPLY, LAYOUT_NORM_BWD_PAIR, LAYOUT_NORM_BWD_STATS, LAYOUT_NORM_STATS,
} from './simd_module.js';

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
/**
 * Float offsets of parameters within a quad's block of the interleaved layout (`simd_module.ts`): parameter `k` at
 * `4 k`. `a` is parameter 2 of every loop; `p`, `q` 5 and 6 of the backward output; the next unit's `a` 10 of
 * `norm_bwd_pair_*`.
 */
const PARAM_A = 4 * 2, PARAM_P = 4 * 5, PARAM_Q = 4 * 6, PARAM_NEXT_A = 4 * 10;

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
  const [prmStats, prmApply, prmBwdStats, prmBwdApply, prmApplyStats, prmBwdPair] = paramAreas(prm, P,
    [LAYOUT_NORM_STATS.params, LAYOUT_NORM_APPLY, LAYOUT_NORM_BWD_STATS.params, LAYOUT_NORM_BWD_APPLY,
      LAYOUT_NORM_APPLY_STATS.params, LAYOUT_NORM_BWD_PAIR.params]);
  // FRN's common case: one SIMD position per channel (C = P, so no tail) and a statistic per channel. The per-unit
  // JavaScript then runs in one pass over the channels (the general code computes the same values, in the same
  // float64 operations, in several).
  const perChannel = full > 0 && simd !== null && !s.center && G === C && P === C;
  return {
    C, G, perGroup, L, rows, count, P, simd, full, perChannel, tailStart: full * P, chunk: chunkPeriods(P),
    prmStats, prmApply, prmBwdStats, prmBwdApply, prmApplyStats, prmBwdPair, acc, ...views(heap), variant: variantOf(s, p),
  };
}

/** The first row of unit `u` (its centring shift `K`), or zeros when uncentred. */
function shiftOf(f32: Float32Array, s: NormSpec, x: number, u: number, out: Float64Array): void {
  const xb = (x >>> 2) + u * s.unitLength;
  for (let c = 0; c < s.channels; c++) out[c] = s.center ? f32[xb + c] : 0;
}

/**
 * Forward pass. `x`, `y` and `scratch` are byte offsets in `heap` (`scratch` of `scratchBytes(periodOf(C))`).
 * The SIMD loops run unit `u`'s output and unit `u + 1`'s statistics in one walk (`norm_apply_stats_*`): the
 * statistics stream the next unit from memory while the output is computed from the cached current one.
 * @returns the statistics of every unit and group.
 */
export function normForward(heap: Heap, s: NormSpec, x: number, y: number, scratch: number, p: NormParams): NormStats {
  const { C, G, perGroup, L, rows, count, P, simd, full, perChannel, tailStart, chunk, prmStats, prmApply, prmApplyStats, acc, f32, f64, variant } = loopLayout(heap, s, scratch, p);
  const U = s.units;
  const mean = new Float32Array(U * G), variance = new Float32Array(U * G), rstd = new Float32Array(U * G);
  const offset = new Float32Array(U * C);
  let shift = new Float64Array(C), shiftNext = new Float64Array(C);
  const s1 = new Float64Array(C), s2 = new Float64Array(C);
  const d = new Float64Array(C), a = new Float64Array(C), b = new Float64Array(C), t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    b[c] = p.beta === null ? 0 : p.beta[c];
    t[c] = p.tau === null ? -Infinity : p.tau[c];
  }
  const loops = full > 0 && simd !== null;
  // Looked up once.
  const statsLoop = simd?.[`norm_stats_${variant[0]}`], applyLoop = simd?.[`norm_apply_${variant}`], pairLoop = simd?.[`norm_apply_stats_${variant}`];
  if (loops) {
    for (const [area, n] of [[prmApply, LAYOUT_NORM_APPLY], [prmApplyStats, LAYOUT_NORM_APPLY_STATS.params]]) {
      writeParam(f32, area, P, C, n, 3, b);
      writeParam(f32, area, P, C, n, 4, t);
    }
  }

  shiftOf(f32, s, x, 0, shift);
  if (loops && U > 0) {
    if (s.center) writeParam(f32, prmStats, P, C, LAYOUT_NORM_STATS.params, 0, shift);
    zeroAcc(f64, acc, P, LAYOUT_NORM_STATS.acc);
    (statsLoop as SimdLoop)(x, full, P, chunk, prmStats, acc);
  }
  for (let u = 0; u < U; u++) {
    if (perChannel) {
      const next = u + 1 < U;
      const [area, n] = next ? [prmApplyStats, LAYOUT_NORM_APPLY_STATS.params] : [prmApply, LAYOUT_NORM_APPLY];
      // FRN's common case (see loopLayout): the unit's sums, statistics and parameters in one pass.
      const accBase = acc >>> 3, prmBase = area >>> 2;
      for (let c = 0; c < C; c++) {
        const i = accBase + (c >>> 2) * LAYOUT_NORM_STATS.acc * 4 + (c & 3);
        let sum = 0;
        sum += f64[i + 4]; // accumulator 1: sum of x^2
        f64[i] = 0;
        f64[i + 4] = 0;
        const v = sum / count;
        const r = Math.fround(1 / Math.sqrt(v + s.eps));
        variance[u * C + c] = v;
        rstd[u * C + c] = r;
        f32[prmBase + (c >>> 2) * n * 4 + (c & 3) + PARAM_A] = (p.gamma === null ? 1 : p.gamma[c]) * r;
      }
      if (next) (pairLoop as SimdLoop)(x + u * L * F32, y + u * L * F32, x + (u + 1) * L * F32, full, P, chunk, area, acc);
      else (applyLoop as SimdLoop)(x + u * L * F32, y + u * L * F32, full, P, chunk, area);
      continue;
    }
    const xb = (x >>> 2) + u * L, yb = (y >>> 2) + u * L;
    // Unit u's sums: the SIMD loops' (accumulated by the previous call), then the tail.
    s1.fill(0);
    s2.fill(0);
    if (loops) {
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

    const next = u + 1 < U;
    if (next) shiftOf(f32, s, x, u + 1, shiftNext);
    if (loops) {
      // Unit u's output; with it, the next unit's statistics.
      const [area, n] = next ? [prmApplyStats, LAYOUT_NORM_APPLY_STATS.params] : [prmApply, LAYOUT_NORM_APPLY];
      if (s.center) {
        writeParam(f32, area, P, C, n, 0, shift);
        writeParam(f32, area, P, C, n, 1, d);
      }
      writeParam(f32, area, P, C, n, 2, a);
      if (next) {
        if (s.center) writeParam(f32, area, P, C, n, 5, shiftNext);
        zeroAcc(f64, acc, P, LAYOUT_NORM_STATS.acc);
        (pairLoop as SimdLoop)(x + u * L * F32, y + u * L * F32, x + (u + 1) * L * F32, full, P, chunk, area, acc);
      } else (applyLoop as SimdLoop)(x + u * L * F32, y + u * L * F32, full, P, chunk, area);
    }
    for (let e = tailStart, c = 0; e < L; e++, c = c + 1 === C ? 0 : c + 1) {
      const v = (f32[xb + e] - shift[c] - d[c]) * a[c] + b[c];
      f32[yb + e] = v < t[c] ? t[c] : v;
    }
    [shift, shiftNext] = [shiftNext, shift];
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
 * `st` holds the forward statistics and the gradients of the statistics outputs. As in the forward pass, unit
 * `u`'s output and unit `u + 1`'s sums run in one walk (`norm_bwd_pair_*`).
 */
export function normBackward(heap: Heap, s: NormSpec, x: number, dz: number, dx: number, scratch: number, p: NormParams, st: NormBackwardStats): NormParamGrads {
  const { C, G, perGroup, L, count, P, simd, full, perChannel, tailStart, chunk, prmBwdStats, prmBwdApply, prmBwdPair, acc, f32, f64, variant } = loopLayout(heap, s, scratch, p);
  const U = s.units;
  const dgamma = new Float64Array(C), dbeta = new Float64Array(C), dtau = new Float64Array(C);
  let deps = 0;
  const gamma = new Float64Array(C), b = new Float64Array(C), t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    gamma[c] = p.gamma === null ? 1 : p.gamma[c];
    b[c] = p.beta === null ? 0 : p.beta[c];
    t[c] = p.tau === null ? -Infinity : p.tau[c];
  }
  /** `K`, `D`, `a` of unit u (`cur`) and of unit u + 1 (`nxt`), swapped after each unit. */
  let cur = { shift: new Float64Array(C), d: new Float64Array(C), a: new Float64Array(C) };
  let nxt = { shift: new Float64Array(C), d: new Float64Array(C), a: new Float64Array(C) };
  const unitConstants = (u: number, out: typeof cur): void => {
    shiftOf(f32, s, x, u, out.shift);
    for (let c = 0; c < C; c++) {
      out.d[c] = st.offset[u * C + c];
      out.a[c] = Math.fround(gamma[c] * st.rstd[u * G + Math.floor(c / perGroup)]);
    }
  };
  const pc = new Float64Array(C), qc = new Float64Array(C), rc = new Float64Array(C);
  const se = new Float64Array(C), sx = new Float64Array(C), sd = new Float64Array(C);
  const loops = full > 0 && simd !== null;
  // Looked up once.
  const statsLoop = simd?.[`norm_bwd_stats_${variant}`], applyLoop = simd?.[`norm_bwd_apply_${variant}`], pairLoop = simd?.[`norm_bwd_pair_${variant}`];
  if (loops) {
    for (const [prm, n] of [[prmBwdStats, LAYOUT_NORM_BWD_STATS.params], [prmBwdApply, LAYOUT_NORM_BWD_APPLY], [prmBwdPair, LAYOUT_NORM_BWD_PAIR.params]]) {
      writeParam(f32, prm, P, C, n, 3, b);
      writeParam(f32, prm, P, C, n, 4, t);
    }
  }

  if (U > 0) unitConstants(0, cur);
  if (loops && U > 0) {
    writeKda(f32, prmBwdStats, P, C, LAYOUT_NORM_BWD_STATS.params, 0, s.center, cur);
    zeroAcc(f64, acc, P, LAYOUT_NORM_BWD_STATS.acc);
    (statsLoop as SimdLoop)(x, dz, full, P, chunk, prmBwdStats, acc);
  }
  for (let u = 0; u < U; u++) {
    if (perChannel) {
      const next = u + 1 < U;
      const [prm, n] = next ? [prmBwdPair, LAYOUT_NORM_BWD_PAIR.params] : [prmBwdApply, LAYOUT_NORM_BWD_APPLY];
      // FRN's common case (see loopLayout): the unit's sums, gradients and the next call's parameters in one pass.
      const accBase = acc >>> 3, prmBase = prm >>> 2;
      for (let c = 0; c < C; c++) {
        const i = accBase + (c >>> 2) * LAYOUT_NORM_BWD_STATS.acc * 4 + (c & 3);
        const sumE = f64[i], sumEx = f64[i + 4], sumT = f64[i + 8];
        f64[i] = 0;
        f64[i + 4] = 0;
        f64[i + 8] = 0;
        const k = u * C + c, r = st.rstd[k];
        dbeta[c] += sumE;
        dgamma[c] += r * sumEx;
        dtau[c] += sumT;
        let sumB = 0;
        sumB += gamma[c] * r * sumEx;
        const dvar = st.dvariance[k] - 0.5 * r * r * r * st.drstd[k];
        const q = (2 * dvar - r * r * sumB) / count;
        deps -= 0.5 * (r * r * sumB + r * r * r * st.drstd[k]);
        const j = prmBase + (c >>> 2) * n * 4 + (c & 3);
        f32[j + PARAM_A] = gamma[c] * r;
        f32[j + PARAM_P] = r * gamma[c];
        f32[j + PARAM_Q] = q;
        if (next) f32[j + PARAM_NEXT_A] = gamma[c] * st.rstd[k + C];
      }
      if (next) (pairLoop as SimdLoop)(x + u * L * F32, dz + u * L * F32, dx + u * L * F32, x + (u + 1) * L * F32, dz + (u + 1) * L * F32, full, P, chunk, prm, acc);
      else (applyLoop as SimdLoop)(x + u * L * F32, dz + u * L * F32, dx + u * L * F32, full, P, chunk, prm);
      continue;
    }
    const xb = (x >>> 2) + u * L, zb = (dz >>> 2) + u * L, db = (dx >>> 2) + u * L;
    const { shift, d, a } = cur;
    // Unit u's sums: the SIMD loops' (accumulated by the previous call), then the tail.
    se.fill(0);
    sx.fill(0);
    sd.fill(0);
    if (loops) {
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

    const next = u + 1 < U;
    if (next) unitConstants(u + 1, nxt);
    if (loops) {
      // Unit u's output; with it, the next unit's sums.
      const [prm, n] = next ? [prmBwdPair, LAYOUT_NORM_BWD_PAIR.params] : [prmBwdApply, LAYOUT_NORM_BWD_APPLY];
      writeKda(f32, prm, P, C, n, 0, s.center, cur);
      writeParam(f32, prm, P, C, n, 5, pc);
      writeParam(f32, prm, P, C, n, 6, qc);
      if (s.center) writeParam(f32, prm, P, C, n, 7, rc);
      if (next) {
        writeKda(f32, prm, P, C, n, 8, s.center, nxt);
        zeroAcc(f64, acc, P, LAYOUT_NORM_BWD_STATS.acc);
        (pairLoop as SimdLoop)(x + u * L * F32, dz + u * L * F32, dx + u * L * F32, x + (u + 1) * L * F32, dz + (u + 1) * L * F32, full, P, chunk, prm, acc);
      } else (applyLoop as SimdLoop)(x + u * L * F32, dz + u * L * F32, dx + u * L * F32, full, P, chunk, prm);
    }
    for (let e = tailStart, c = 0; e < L; e++, c = c + 1 === C ? 0 : c + 1) {
      const xc = f32[xb + e] - shift[c] - d[c];
      const pass = t[c] < xc * a[c] + b[c] ? f32[zb + e] : 0;
      f32[db + e] = pass * pc[c] + xc * qc[c] + rc[c];
    }
    [cur, nxt] = [nxt, cur];
  }
  return { dgamma, dbeta, dtau, deps };
}

/**
 * Parameters `first`..`first + 2` of a loop: a unit's `K`, `D` (centred only: the uncentred loops do not read
 * them) and `a`.
 */
function writeKda(f32: Float32Array, prm: number, P: number, C: number, nParams: number, first: number, center: boolean,
  unit: { shift: Float64Array; d: Float64Array; a: Float64Array }): void {
  if (center) {
    writeParam(f32, prm, P, C, nParams, first, unit.shift);
    writeParam(f32, prm, P, C, nParams, first + 1, unit.d);
  }
  writeParam(f32, prm, P, C, nParams, first + 2, unit.a);
}
