/**
 * Weight standardization of convolution and dense kernels: the Scaled Weight Standardization of normalizer-free
 * networks (Brock et al. 2021, METHODS.md §4) and the plain Weight Standardization of Qiao et al. (METHODS.md §2).
 * Statistics are per output unit (the last axis) over every other axis.
 * @module
 */
import { tf } from '../engine.js';
import { argumentError, assertChannelParam, assertPositive } from './validate.js';

/** Default floor of `var * fanIn` in {@link scaledStandardize} (DeepMind's NFNets). */
export const SCALED_WS_DEFAULT_EPSILON = 1e-4;
/** Default epsilon of {@link weightStandardize}. */
export const WS_DEFAULT_EPSILON = 1e-5;

/** Options of {@link scaledStandardize}. */
export interface ScaledStandardizeOptions {
  /** Learnable gain `[out]` (init 1); omitted = 1. */
  gain?: tf.Tensor1D;
  /** Floor of `var * fanIn` (not an additive term: the result stays scale-invariant); default 1e-4. Must be > 0. */
  eps?: number;
}

/** Options of {@link weightStandardize}. */
export interface WeightStandardizeOptions {
  /** Added to the variance inside the square root; default 1e-5. Must be > 0. */
  eps?: number;
}

/** Checks a kernel: a tensor of rank >= 2 whose last axis indexes the output units. */
function assertKernel(op: string, w: tf.Tensor): void {
  if (!(w instanceof tf.Tensor)) throw argumentError(op, 'w', typeof w, 'a tf.Tensor');
  if (w.rank < 2) {
    throw argumentError(op, 'w', `rank ${w.rank} (shape [${w.shape.join(',')}])`,
      'a kernel of rank >= 2 with output units on the last axis: [in,out] (dense) or [kh,kw,in,out] (conv)');
  }
}

/** Mean and biased variance per output unit (kept dims, shape `[1,...,1,out]`). Must run inside a tidy. */
function unitMoments(w: tf.Tensor): { mean: tf.Tensor; variance: tf.Tensor } {
  const axes = Array.from({ length: w.rank - 1 }, (_, i) => i);
  const mean = tf.mean(w, axes, true);
  const variance = tf.mean(tf.square(tf.sub(w, mean)), axes, true);
  return { mean, variance };
}

/**
 * Scaled Weight Standardization, DeepMind's form (METHODS.md §4): per output unit,
 * `fanIn = product of the non-output dims` (`kh*kw*in` for a conv kernel, `in` for a dense one),
 * `scale = rsqrt(max(var * fanIn, eps)) * gain`, `W_hat = (W - mean) * scale` (biased variance).
 * The `max` keeps it exactly invariant to `W -> a*W` (a > 0) while a constant kernel maps to 0, not NaN.
 *
 * @param w `[kh,kw,in,out]`, `[in,out]` or any rank >= 2 with output units last.
 * @returns the standardized kernel, shaped like `w`; differentiable in `w` and `gain`.
 */
export function scaledStandardize(w: tf.Tensor, options: ScaledStandardizeOptions = {}): tf.Tensor {
  const op = 'scaledStandardize';
  const eps = options.eps ?? SCALED_WS_DEFAULT_EPSILON;
  assertKernel(op, w);
  assertPositive(op, 'eps', eps);
  assertChannelParam(op, 'gain', options.gain, w.shape[w.rank - 1]);
  const fanIn = w.size / w.shape[w.rank - 1];
  return tf.tidy(() => {
    const { mean, variance } = unitMoments(w);
    let scale = tf.rsqrt(tf.maximum(tf.mul(variance, fanIn), eps));
    if (options.gain !== undefined) scale = tf.mul(scale, options.gain);
    return tf.mul(tf.sub(w, mean), scale);
  });
}

/**
 * Weight Standardization (Qiao et al. 2019; METHODS.md §2): per output unit, over every other axis,
 * `W_hat = (W - mean) / sqrt(var + eps)` with the biased variance.
 *
 * @param w `[kh,kw,in,out]`, `[in,out]` or any rank >= 2 with output units last.
 * @returns the standardized kernel, shaped like `w`; differentiable in `w`.
 */
export function weightStandardize(w: tf.Tensor, options: WeightStandardizeOptions = {}): tf.Tensor {
  const op = 'weightStandardize';
  const eps = options.eps ?? WS_DEFAULT_EPSILON;
  assertKernel(op, w);
  assertPositive(op, 'eps', eps);
  return tf.tidy(() => {
    const { mean, variance } = unitMoments(w);
    return tf.mul(tf.sub(w, mean), tf.rsqrt(tf.add(variance, eps)));
  });
}
