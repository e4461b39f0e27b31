/**
 * Batch Normalization (Ioffe & Szegedy 2015) with per-group training statistics, its inference form, and
 * Batch Renormalization (Ioffe 2017). METHODS.md §2.
 *
 * The batch is split into consecutive *normalization groups* of `groupSize` images (the papers' "images per
 * GPU"), each normalised with its own statistics: this is how the FRN paper's Table 2 sweeps 32 → 2 images per
 * group on one machine. Variances are biased (divide by the count) and computed in two passes (mean, then mean
 * of squared deviations) after a shift by one of the population's own values, so that inputs with a large
 * offset and a small spread keep their accuracy even on backends that sum in float32.
 *
 * This module also holds the row primitives that GroupNorm, LayerNorm, InstanceNorm, GFRN and EvoNorm share
 * (`standardizeRows`, `inverseStdRows`, `channelAffineRows`, ...): stable moments and analytic gradients over a
 * `[P, N, C]` view, written around the slow spots of TF.js' stock kernels.
 * @module
 */
import { tf } from '../engine.js';
import { fusable, fusedKernelsActive, fusedMovingAverage, fusedNorm, fusedRowMean } from '../kernels/fused/index.js';
import { argumentError, assertChannelParam, assertInteger, assertOptionalBoolean, assertPositive, assertRank, backendSafeEpsilon } from './validate.js';

/** Default epsilon of Batch Normalization (Keras / TF.js `batchNormalization`). */
export const BN_DEFAULT_EPSILON = 1e-3;

/** Options of {@link batchNorm} and {@link batchNormTraining}. */
export interface BatchNormOptions {
  /** Per-channel scale `[C]`; omitted = 1. */
  gamma?: tf.Tensor;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor;
  /** Epsilon added to the variance inside the square root; default `1e-3` (Keras). Must be > 0. */
  eps?: number;
  /**
   * Images per normalization group: the batch `B` is split into `B / groupSize` consecutive groups, each
   * normalised with its own statistics. Default: the whole batch (one group). Must divide `B`, and a group must
   * hold at least two values per channel (`groupSize·H·W ≥ 2`).
   */
  groupSize?: number;
  /**
   * End with a ReLU, `max(y, 0)`: on the fused backends (wasm, cpu) inside the normalization's own passes (the
   * TLU slot of the fused kernel with `tau = 0`), forward and backward, instead of one more pass each way; the
   * values and gradients equal `tf.relu(y)`'s. Default false.
   */
  relu?: boolean;
}

/** Result of {@link batchNormTraining}. */
export interface BatchNormTrainingResult {
  /** The normalised output, shaped like `x`. */
  y: tf.Tensor;
  /**
   * Per-channel mean `[C]`: the mean of each normalization group, averaged over the groups (with one group,
   * the batch mean). This is what a layer feeds to its moving mean.
   */
  mean: tf.Tensor1D;
  /**
   * Per-channel biased variance `[C]`: the variance of each normalization group (around its own mean),
   * averaged over the groups. This is what a layer feeds to its moving variance.
   */
  variance: tf.Tensor1D;
}

// ---------------------------------------------------------------------------------------------------------
// Row primitives. Every normalization here works on a `[P, N, C]` view: P independent populations (normalization
// groups of BN, samples of GN), N rows (positions, images) and C channels, with statistics over the rows and,
// for GN, over groups of C/G consecutive channels. The stock `cpu` kernels are slow exactly where these ops
// live: they reduce a non-innermost axis by transposing first (~15x a matmul with a row of ones) and broadcast
// a `[P,1,C]` operand through a per-element index loop (~20x a same-shape op). So on `cpu`, reductions are
// matmuls and row broadcasts are expanded by a matmul first; other backends use `tf.sum` and broadcasting
// (batchfree's own `wasm` reductions, `src/kernels/`, replace the stock transposing ones there).
// ---------------------------------------------------------------------------------------------------------

/** True on the `cpu` backend, whose reductions and broadcasts the row primitives route through matmuls. */
function onCpu(): boolean {
  return tf.getBackend() === 'cpu';
}

/** `[P,N,C] -> [P,1,C]`: sum over the rows (on `cpu`, a batched matmul with a row of ones). @internal */
export function sumRows(x: tf.Tensor): tf.Tensor {
  const [p, n] = x.shape as number[];
  if (!onCpu()) return tf.sum(x, 1, true);
  return tf.matMul(tf.ones([p, 1, n]), x);
}

/** `[..., C] -> [C]`: sum over every axis but the last (on `cpu`, a matmul with a row of ones). @internal */
export function sumToChannels(x: tf.Tensor): tf.Tensor1D {
  const c = x.shape[x.rank - 1];
  const m = x.size / c;
  const flat = tf.reshape(x, [m, c]);
  if (!onCpu()) return tf.sum(flat, 0) as tf.Tensor1D;
  return tf.reshape(tf.matMul(tf.ones([1, m]), flat), [c]);
}

/**
 * `fn(big, small)` for `big` `[P,N,C]` and a per-row-constant `small` `[P,1,C]`, broadcasting over the rows.
 * On `cpu`, whose broadcasting binary ops take a per-element index path, `small` is first expanded by a
 * matmul with a column of ones (or flattened to `[C]` when P = 1, which `cpu` broadcasts fast). @internal
 */
export function rowwise(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, big: tf.Tensor, small: tf.Tensor): tf.Tensor {
  const [p, n, c] = big.shape as number[];
  if (p === 1) return fn(big, tf.reshape(small, [c]));
  if (!onCpu() || n === 1) return fn(big, small);
  return fn(big, tf.matMul(tf.ones([p, n, 1]), small));
}

/**
 * `[P,1,C] -> [P,1,C]`: the mean of each group of `C / groups` consecutive channels, repeated over the group's
 * channels (identity when `groups = C`). @internal
 */
export function averageChannelGroups(s: tf.Tensor, groups: number): tf.Tensor {
  const [p, , c] = s.shape as number[];
  if (groups === c) return s;
  const perGroup = c / groups;
  const g = tf.mean(tf.reshape(s, [p, groups, perGroup]), 2, true);
  return tf.reshape(tf.mul(g, tf.ones([1, 1, perGroup])), [p, 1, c]);
}

/** Mean over the rows and the channel groups: `[P,N,C] -> [P,1,C]`. @internal */
export function meanRows(x: tf.Tensor, groups: number): tf.Tensor {
  return tf.div(averageChannelGroups(sumRows(x), groups), x.shape[1] as number);
}

/** Statistics of {@link standardizeRows}, computed without gradient. @internal */
export interface RowMoments {
  /** `[P,1,C]` mean of each population (per channel group, repeated over its channels). */
  mean: tf.Tensor;
  /** `[P,1,C]` biased variance, same layout. */
  variance: tf.Tensor;
}

/**
 * `xhat = (x - mean) / sqrt(var + eps)` over the rows and channel groups of a `[P,N,C]` view, with an analytic
 * gradient (`dx = rsqrt(var+eps) * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`, means as in the forward).
 *
 * Moments are computed stably: the input is first shifted by one of its own values per population (row 0,
 * averaged over the channel group), so the float32 sums see values of the size of the spread, not of the
 * offset; then the variance is the mean of squared deviations (two passes). Inputs like `1e3 + N(0, 1)` keep
 * float32 accuracy even where the backend sums in float32 (`wasm`).
 *
 * @param onMoments when given, receives the mean and variance (tensors the caller must dispose; they carry no
 *   gradient), e.g. for moving averages or Batch Renormalization's r and d.
 * @internal
 */
export function standardizeRows(x: tf.Tensor, groups: number, eps: number, onMoments?: (m: RowMoments) => void): tf.Tensor {
  const f = tf.customGrad((...args: unknown[]) => {
    const a = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const { mean, centered } = stableCenter(a, groups);
    const variance = meanRows(tf.square(centered), groups);
    const inv = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
    const xhat = rowwise(tf.mul, centered, inv);
    save([xhat, inv]);
    if (onMoments) onMoments({ mean: tf.keep(mean), variance: tf.keep(variance) });
    return {
      value: xhat,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, iv] = saved;
        const dyMean = meanRows(dy, groups);
        const dyXhatMean = meanRows(tf.mul(dy, xh), groups);
        const centeredDy = tf.sub(rowwise(tf.sub, dy, dyMean), rowwise(tf.mul, xh, dyXhatMean));
        return rowwise(tf.mul, centeredDy, iv);
      },
    };
  });
  return f(x);
}

/**
 * `1 / sqrt(var + eps)` `[P,1,C]` of a `[P,N,C]` view (variance over the rows and channel groups, computed as in
 * {@link standardizeRows}), with an analytic gradient: `dx = -x_c * inv^3 * sum_g(dinv) / (N C/G)`, `x_c` the
 * centred input. @internal
 */
export function inverseStdRows(x: tf.Tensor, groups: number, eps: number): tf.Tensor {
  const rows = x.shape[1] as number;
  const f = tf.customGrad((...args: unknown[]) => {
    const a = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const { centered } = stableCenter(a, groups);
    const inv = tf.rsqrt(tf.add(meanRows(tf.square(centered), groups), tf.scalar(eps)));
    save([centered, inv]);
    return {
      value: inv,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xc, iv] = saved;
        // d var_g / dx = 2 x_c / count; d inv / d var = -inv^3 / 2; the group's var feeds its C/G channels.
        const k = tf.div(tf.mul(averageChannelGroups(dy, groups), tf.pow(iv, 3)), -rows);
        return rowwise(tf.mul, xc, k);
      },
    };
  });
  return f(x);
}

/**
 * Mean and centred input of a `[P,N,C]` view over the rows and channel groups, shifted first by one value
 * per population and channel group (row 0, averaged over the group) so that float32 sums see values of the
 * size of the spread, not of the offset. Untaped use only (inside a custom gradient's forward pass).
 */
function stableCenter(a: tf.Tensor, groups: number): { mean: tf.Tensor; centered: tf.Tensor } {
  const [p, , c] = a.shape as number[];
  const shift = averageChannelGroups(tf.slice(a, [0, 0, 0], [p, 1, c]), groups);
  const shifted = rowwise(tf.sub, a, shift);
  const shiftedMean = meanRows(shifted, groups);
  return { mean: tf.add(shift, shiftedMean), centered: rowwise(tf.sub, shifted, shiftedMean) };
}

/**
 * `x * gamma + beta` with per-channel (last axis) parameters, each optional, whose parameter gradients are
 * reduced by matmuls (TF.js' broadcast gradients reduce with a transpose). @internal
 */
export function channelAffineRows(x: tf.Tensor, gamma?: tf.Tensor, beta?: tf.Tensor): tf.Tensor {
  if (gamma === undefined && beta === undefined) return x;
  const inputs: tf.Tensor[] = [x];
  if (gamma !== undefined) inputs.push(gamma);
  if (beta !== undefined) inputs.push(beta);
  const f = tf.customGrad((...args: unknown[]) => {
    const save = args[inputs.length] as tf.GradSaveFunc;
    const a = args[0] as tf.Tensor;
    const g = gamma !== undefined ? args[1] as tf.Tensor : undefined;
    const b = beta !== undefined ? args[inputs.length - 1] as tf.Tensor : undefined;
    let y = g !== undefined ? tf.mul(a, g) : a;
    if (b !== undefined) y = tf.add(y, b);
    save(g !== undefined ? [a, g] : []);
    return {
      value: y === a ? tf.clone(a) : y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const grads: tf.Tensor[] = [];
        if (g !== undefined) {
          const [xs, gs] = saved;
          grads.push(tf.mul(dy, gs), sumToChannels(tf.mul(dy, xs)));
        } else {
          grads.push(dy);
        }
        if (b !== undefined) grads.push(sumToChannels(dy));
        return grads;
      },
    };
  });
  return f(...inputs);
}

/**
 * Identity in the forward pass, zero gradient in the backward pass (TensorFlow's `stop_gradient`, which TF.js
 * lacks). Returns a new tensor.
 */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = (() => {
  const f = tf.customGrad((...args: unknown[]) => {
    const a = args[0] as tf.Tensor;
    return { value: tf.clone(a), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return (x: tf.Tensor) => f(x);
})();

/** The batch split into normalization groups: `[groups, groupSize·H·W, C]`, with the sizes it was checked against. */
interface GroupedBatch { view: tf.Tensor; groups: number; groupSize: number }

function divisorsOf(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

/** Validates `x`, `eps` and `groupSize` and reshapes `x` to `[groups, groupSize·H·W, C]`. */
function groupBatch(op: string, x: tf.Tensor, eps: number, groupSize: number | undefined): GroupedBatch {
  assertRank(op, 'x', x, [2, 4]);
  assertPositive(op, 'eps', eps);
  const batch = x.shape[0];
  const channels = x.shape[x.rank - 1];
  const spatial = x.rank === 4 ? (x.shape as number[])[1] * (x.shape as number[])[2] : 1;
  const size = groupSize ?? batch;
  assertInteger(op, 'groupSize', size);
  if (batch % size !== 0) {
    throw argumentError(op, 'groupSize', size, `a divisor of the batch size ${batch} (e.g. ${divisorsOf(batch).join(', ')})`);
  }
  if (size * spatial < 2) {
    const where = x.rank === 4 ? `${size} image(s) of ${x.shape[1]}x${x.shape[2]}` : `${size} dense sample(s)`;
    throw argumentError(op, 'groupSize', size,
      `a normalization group with at least 2 values per channel (${where} give 1 value: its variance is 0); ` +
      'use more images per group or a batch-independent normalization');
  }
  const groups = batch / size;
  return { view: tf.reshape(x, [groups, size * spatial, channels]), groups, groupSize: size };
}

/**
 * Training-mode Batch Normalization with per-group statistics:
 * for each normalization group `n` of `groupSize` consecutive images and channel `c`,
 * `mu[n,c] = mean_{b in n, h, w} x`, `var[n,c] = mean_{b in n, h, w} (x - mu)^2` (biased),
 * `y = gamma * (x - mu) / sqrt(var + eps) + beta` (Ioffe & Szegedy 2015, Alg. 1); with `relu`, `max(y, 0)`.
 *
 * @param x `[B,H,W,C]` (statistics over the group's images and H, W) or `[B,C]` (over the group's samples).
 * @returns `y` shaped like `x` plus the per-channel `mean` and `variance` `[C]`: the per-group statistics
 *   averaged over the groups, which a layer feeds to its moving averages (they equal the batch statistics when
 *   there is one group). Differentiable in `x`, `gamma`, `beta` through `y`.
 */
export function batchNormTraining(x: tf.Tensor, options: BatchNormOptions = {}): BatchNormTrainingResult {
  const op = 'batchNormTraining';
  const eps = options.eps ?? BN_DEFAULT_EPSILON;
  assertOptionalBoolean(op, 'relu', options.relu);
  return tf.tidy(() => {
    const { view } = groupBatch(op, x, eps, options.groupSize);
    const channels = x.shape[x.rank - 1];
    assertChannelParam(op, 'gamma', options.gamma, channels);
    assertChannelParam(op, 'beta', options.beta, channels);
    if (fusedKernelsActive() && fusable(x, options.gamma, options.beta)) {
      // One fused kernel (src/kernels/fused): statistics per normalization group and channel, [groups, C].
      const r = fusedNorm('BatchfreeBatchNorm', x, {
        groups: channels, unitRows: (view.shape as number[])[1], center: true, eps: backendSafeEpsilon(eps),
        gamma: options.gamma, beta: options.beta, tau: options.relu === true ? tf.zeros([channels]) : undefined,
      });
      // The statistics for the moving averages carry no gradient (one constant-gradient kernel call each).
      return { y: r.y, mean: fusedRowMean(r.mean) as tf.Tensor1D, variance: fusedRowMean(r.variance) as tf.Tensor1D };
    }
    let moments: RowMoments | undefined;
    const xhat = standardizeRows(view, channels, backendSafeEpsilon(eps), (m) => { moments = m; });
    const { mean, variance } = moments as RowMoments;
    try {
      const y = channelAffineRows(tf.reshape(xhat, x.shape), options.gamma, options.beta);
      return {
        y: options.relu === true ? tf.relu(y) : y,
        mean: tf.reshape(tf.mean(mean, [0, 1]), [channels]) as tf.Tensor1D,
        variance: tf.reshape(tf.mean(variance, [0, 1]), [channels]) as tf.Tensor1D,
      };
    } finally {
      tf.dispose([mean, variance]);
    }
  });
}

/**
 * Training-mode Batch Normalization, `y` only: see {@link batchNormTraining} (Ioffe & Szegedy 2015, Alg. 1,
 * with per-group statistics).
 */
export function batchNorm(x: tf.Tensor, options: BatchNormOptions = {}): tf.Tensor {
  const { y, mean, variance } = batchNormTraining(x, options);
  tf.dispose([mean, variance]);
  return y;
}

/**
 * The moving-average update of BatchNorm's statistics, `moving · momentum + value · (1 - momentum)`, with no
 * gradient: one kernel call on the fused backends (wasm, cpu), the composite ops elsewhere.
 * @param moving `[C]`, @param value `[C]`, @param momentum in [0, 1].
 */
export function movingAverage(moving: tf.Tensor, value: tf.Tensor, momentum: number): tf.Tensor {
  if (fusedKernelsActive() && fusable(moving, value)) return fusedMovingAverage(moving, value, momentum);
  return tf.tidy(() => stopGradient(tf.add(tf.mul(moving, momentum), tf.mul(value, 1 - momentum))));
}

/** Options of {@link batchNormInference}. */
export interface BatchNormInferenceOptions {
  /** Moving (population) mean `[C]`. Required. */
  movingMean: tf.Tensor;
  /** Moving (population) variance `[C]`. Required. */
  movingVariance: tf.Tensor;
  /** Per-channel scale `[C]`; omitted = 1. */
  gamma?: tf.Tensor;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor;
  /** Epsilon added to the moving variance inside the square root; default `1e-3`. Must be > 0. */
  eps?: number;
  /** End with a ReLU, `max(y, 0)`; default false. */
  relu?: boolean;
}

/**
 * Inference-mode Batch Normalization (Ioffe & Szegedy 2015, Alg. 2):
 * `y = gamma * (x - movingMean) / sqrt(movingVariance + eps) + beta`, computed as `x * s + (beta - movingMean * s)`
 * with `s = gamma / sqrt(movingVariance + eps)`. No batch dependence.
 *
 * @param x `[B,H,W,C]` or `[B,C]`.
 */
export function batchNormInference(x: tf.Tensor, options: BatchNormInferenceOptions): tf.Tensor {
  const op = 'batchNormInference';
  assertRank(op, 'x', x, [2, 4]);
  requireOptions(op, options, '{ movingMean, movingVariance, gamma?, beta?, eps? }');
  const eps = options.eps ?? BN_DEFAULT_EPSILON;
  assertPositive(op, 'eps', eps);
  assertOptionalBoolean(op, 'relu', options.relu);
  const channels = x.shape[x.rank - 1];
  requireChannelParam(op, 'movingMean', options.movingMean, channels);
  requireChannelParam(op, 'movingVariance', options.movingVariance, channels);
  assertChannelParam(op, 'gamma', options.gamma, channels);
  assertChannelParam(op, 'beta', options.beta, channels);
  return tf.tidy(() => {
    let scale = tf.rsqrt(tf.add(options.movingVariance, tf.scalar(backendSafeEpsilon(eps))));
    if (options.gamma !== undefined) scale = tf.mul(scale, options.gamma);
    let shift = tf.neg(tf.mul(options.movingMean, scale));
    if (options.beta !== undefined) shift = tf.add(shift, options.beta);
    const y = channelAffineRows(x, scale, shift);
    return options.relu === true ? tf.relu(y) : y;
  });
}

function requireOptions(op: string, options: unknown, expected: string): void {
  if (typeof options !== 'object' || options === null) throw argumentError(op, 'options', options, `an options object ${expected}`);
}

function requireChannelParam(op: string, name: string, p: tf.Tensor | undefined, channels: number): void {
  if (p === undefined) throw argumentError(op, name, 'undefined', `a tf.Tensor of shape [${channels}] (required)`);
  assertChannelParam(op, name, p, channels);
}

/** Options of {@link batchRenormTraining}. */
export interface BatchRenormOptions extends BatchNormOptions {
  /** Moving mean `[C]` (`mu_mov`). Required. */
  movingMean: tf.Tensor;
  /** Moving variance `[C]`; `sigma_mov = sqrt(movingVariance + eps)`. Required. */
  movingVariance: tf.Tensor;
  /** Clip of `r` to `[1/rMax, rMax]`; a number ≥ 1 (1 = plain BN). See {@link batchRenormClipSchedule}. */
  rMax: number;
  /** Clip of `d` to `[-dMax, dMax]`; a number ≥ 0 (0 = plain BN). See {@link batchRenormClipSchedule}. */
  dMax: number;
}

/** Result of {@link batchRenormTraining}. */
export interface BatchRenormTrainingResult extends BatchNormTrainingResult {
  /** `r` per normalization group and channel, `[B/groupSize, C]` (no gradient flows through it). */
  r: tf.Tensor2D;
  /** `d` per normalization group and channel, `[B/groupSize, C]` (no gradient flows through it). */
  d: tf.Tensor2D;
}

/**
 * Batch Renormalization (Ioffe 2017, Alg. 1), per normalization group `n` and channel `c`:
 * `sigma_B = sqrt(var_B + eps)`, `sigma_mov = sqrt(movingVariance + eps)`,
 * `r = clip(sigma_B / sigma_mov, 1/rMax, rMax)`, `d = clip((mu_B - movingMean) / sigma_mov, -dMax, dMax)`,
 * both treated as constants by the gradient (`stop_gradient`), and
 * `y = gamma * ((x - mu_B) / sigma_B * r + d) + beta`.
 * With `rMax = 1, dMax = 0` this is {@link batchNorm}; with the clips inactive its forward pass equals
 * {@link batchNormInference} with the moving statistics (while its gradient still uses the batch statistics).
 *
 * @param x `[B,H,W,C]` or `[B,C]`.
 * @returns `y`, the group-averaged batch `mean` and `variance` `[C]` (for the moving averages, as in
 *   {@link batchNormTraining}), and `r`, `d` `[B/groupSize, C]`.
 */
export function batchRenormTraining(x: tf.Tensor, options: BatchRenormOptions): BatchRenormTrainingResult {
  const op = 'batchRenormTraining';
  requireOptions(op, options, '{ movingMean, movingVariance, rMax, dMax, gamma?, beta?, eps?, groupSize? }');
  const eps = options.eps ?? BN_DEFAULT_EPSILON;
  return tf.tidy(() => {
    const { view, groups } = groupBatch(op, x, eps, options.groupSize);
    const channels = x.shape[x.rank - 1];
    requireChannelParam(op, 'movingMean', options.movingMean, channels);
    requireChannelParam(op, 'movingVariance', options.movingVariance, channels);
    assertChannelParam(op, 'gamma', options.gamma, channels);
    assertChannelParam(op, 'beta', options.beta, channels);
    const { rMax, dMax } = options;
    if (typeof rMax !== 'number' || !Number.isFinite(rMax) || rMax < 1) throw argumentError(op, 'rMax', rMax, 'a finite number >= 1');
    if (typeof dMax !== 'number' || !Number.isFinite(dMax) || dMax < 0) throw argumentError(op, 'dMax', dMax, 'a finite number >= 0');

    const epsilon = backendSafeEpsilon(eps);
    let moments: RowMoments | undefined;
    const xhat = standardizeRows(view, channels, epsilon, (m) => { moments = m; });
    const { mean, variance } = moments as RowMoments;
    try {
      // r and d: from moments computed off the tape, and cut from the moving statistics' gradient.
      const sigmaMov = tf.sqrt(tf.add(options.movingVariance, epsilon));
      const r = stopGradient(tf.clipByValue(tf.div(tf.sqrt(tf.add(variance, epsilon)), sigmaMov), 1 / rMax, rMax)); // [G,1,C]
      const d = stopGradient(tf.clipByValue(tf.div(tf.sub(mean, options.movingMean), sigmaMov), -dMax, dMax));
      const renormed = rowwise(tf.add, rowwise(tf.mul, xhat, r), d);
      return {
        y: channelAffineRows(tf.reshape(renormed, x.shape), options.gamma, options.beta),
        mean: tf.reshape(tf.mean(mean, [0, 1]), [channels]) as tf.Tensor1D,
        variance: tf.reshape(tf.mean(variance, [0, 1]), [channels]) as tf.Tensor1D,
        r: tf.reshape(r, [groups, channels]) as tf.Tensor2D,
        d: tf.reshape(d, [groups, channels]) as tf.Tensor2D,
      };
    } finally {
      tf.dispose([mean, variance]);
    }
  });
}

/** Options of {@link batchRenormClipSchedule}. */
export interface BatchRenormClipScheduleOptions {
  /** Steps over which the clips ramp linearly from (1, 0) to their final values; a whole number ≥ 0. */
  warmupSteps: number;
  /** Steps of plain BN (`rMax = 1, dMax = 0`) before the ramp starts; default 0 (the paper held 5k steps). */
  holdSteps?: number;
  /** Final `rMax`; default 3 (paper). */
  rMaxFinal?: number;
  /** Final `dMax`; default 5 (paper). */
  dMaxFinal?: number;
}

/**
 * The Batch Renormalization clip ramp (Ioffe 2017, §4): `rMax` goes from 1 to `rMaxFinal` (default 3) and `dMax`
 * from 0 to `dMaxFinal` (default 5), linearly in `t = clamp((step - holdSteps) / warmupSteps, 0, 1)`:
 * `rMax = 1 + (rMaxFinal - 1) t`, `dMax = dMaxFinal t`. (The paper relaxes the two clips over slightly
 * different spans; one span is used here.) `warmupSteps = 0` gives the final values after the hold.
 */
export function batchRenormClipSchedule(step: number, options: BatchRenormClipScheduleOptions): { rMax: number; dMax: number } {
  const op = 'batchRenormClipSchedule';
  requireOptions(op, options, '{ warmupSteps, holdSteps?, rMaxFinal?, dMaxFinal? }');
  if (typeof step !== 'number' || !Number.isFinite(step) || step < 0) throw argumentError(op, 'step', step, 'a finite number >= 0');
  const warmupSteps = options.warmupSteps;
  assertInteger(op, 'warmupSteps', warmupSteps, 0);
  const holdSteps = options.holdSteps ?? 0;
  assertInteger(op, 'holdSteps', holdSteps, 0);
  const rMaxFinal = options.rMaxFinal ?? 3;
  const dMaxFinal = options.dMaxFinal ?? 5;
  if (typeof rMaxFinal !== 'number' || !Number.isFinite(rMaxFinal) || rMaxFinal < 1) throw argumentError(op, 'rMaxFinal', rMaxFinal, 'a finite number >= 1');
  if (typeof dMaxFinal !== 'number' || !Number.isFinite(dMaxFinal) || dMaxFinal < 0) throw argumentError(op, 'dMaxFinal', dMaxFinal, 'a finite number >= 0');
  const elapsed = step - holdSteps;
  const t = warmupSteps === 0 ? (elapsed >= 0 ? 1 : 0) : Math.min(Math.max(elapsed / warmupSteps, 0), 1);
  return { rMax: 1 + (rMaxFinal - 1) * t, dMax: dMaxFinal * t };
}
