/**
 * Batch Normalization (Ioffe & Szegedy 2015) with per-group training statistics, its inference form, and
 * Batch Renormalization (Ioffe 2017). METHODS.md §2.
 *
 * The batch is split into consecutive *normalization groups* of `groupSize` images (the papers' "images per
 * GPU"), each normalised with its own statistics: this is how the FRN paper's Table 2 sweeps 32 → 2 images per
 * group on one machine. Variances are biased (divide by the count) and computed in two passes (mean, then mean
 * of squared deviations) so that inputs with a large offset and a small spread keep their accuracy.
 * @module
 */
import { tf } from '../engine.js';
import { argumentError, assertChannelParam, assertInteger, assertPositive, assertRank, backendSafeEpsilon } from './validate.js';

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

/**
 * Two-pass moments over `axes` (kept as size-1 dimensions): `mean`, the centred input `x - mean` and the biased
 * `variance = mean((x - mean)^2)`. Numerically stable for inputs with a large offset (no `E[x^2] - E[x]^2`).
 * Differentiable. @internal
 */
export function centeredMoments(x: tf.Tensor, axes: number[]): { mean: tf.Tensor; centered: tf.Tensor; variance: tf.Tensor } {
  const mean = tf.mean(x, axes, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axes, true);
  return { mean, centered, variance };
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
 * `y = gamma * (x - mu) / sqrt(var + eps) + beta` (Ioffe & Szegedy 2015, Alg. 1).
 *
 * @param x `[B,H,W,C]` (statistics over the group's images and H, W) or `[B,C]` (over the group's samples).
 * @returns `y` shaped like `x` plus the per-channel `mean` and `variance` `[C]`: the per-group statistics
 *   averaged over the groups, which a layer feeds to its moving averages (they equal the batch statistics when
 *   there is one group). Differentiable in `x`, `gamma`, `beta` through `y`.
 */
export function batchNormTraining(x: tf.Tensor, options: BatchNormOptions = {}): BatchNormTrainingResult {
  const op = 'batchNormTraining';
  const eps = options.eps ?? BN_DEFAULT_EPSILON;
  return tf.tidy(() => {
    const { view } = groupBatch(op, x, eps, options.groupSize);
    const channels = x.shape[x.rank - 1];
    assertChannelParam(op, 'gamma', options.gamma, channels);
    assertChannelParam(op, 'beta', options.beta, channels);
    const { mean, centered, variance } = centeredMoments(view, [1]);
    let scale = tf.rsqrt(tf.add(variance, tf.scalar(backendSafeEpsilon(eps))));
    if (options.gamma !== undefined) scale = tf.mul(scale, options.gamma);
    let y = tf.mul(centered, scale);
    if (options.beta !== undefined) y = tf.add(y, options.beta);
    return {
      y: tf.reshape(y, x.shape),
      mean: tf.reshape(tf.mean(mean, [0, 1]), [channels]) as tf.Tensor1D,
      variance: tf.reshape(tf.mean(variance, [0, 1]), [channels]) as tf.Tensor1D,
    };
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
    return tf.add(tf.mul(x, scale), shift);
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

    const epsilon = tf.scalar(backendSafeEpsilon(eps));
    const { mean, centered, variance } = centeredMoments(view, [1]);
    const sigmaB = tf.sqrt(tf.add(variance, epsilon));
    const sigmaMov = tf.sqrt(tf.add(options.movingVariance, epsilon));
    const r = stopGradient(tf.clipByValue(tf.div(sigmaB, sigmaMov), 1 / rMax, rMax));
    const d = stopGradient(tf.clipByValue(tf.div(tf.sub(mean, options.movingMean), sigmaMov), -dMax, dMax));
    // y = gamma * (centered * r / sigmaB + d) + beta = centered * scale + shift, with [groups,1,C] factors.
    let scale = tf.div(r, sigmaB);
    let shift = d;
    if (options.gamma !== undefined) {
      scale = tf.mul(scale, options.gamma);
      shift = tf.mul(shift, options.gamma);
    }
    if (options.beta !== undefined) shift = tf.add(shift, options.beta);
    const y = tf.add(tf.mul(centered, scale), shift);
    return {
      y: tf.reshape(y, x.shape),
      mean: tf.reshape(tf.mean(mean, [0, 1]), [channels]) as tf.Tensor1D,
      variance: tf.reshape(tf.mean(variance, [0, 1]), [channels]) as tf.Tensor1D,
      r: tf.reshape(r, [groups, channels]) as tf.Tensor2D,
      d: tf.reshape(d, [groups, channels]) as tf.Tensor2D,
    };
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
