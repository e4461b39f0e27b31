/**
 * EvoNorm-S0 (Liu et al. 2020, "Evolving Normalization-Activation Layers"): a sample-based
 * normalization-activation layer, batch independent. METHODS.md §2.
 * @module
 */
import { tf } from '../engine.js';
import { channelAffineRows, inverseStdRows, rowwise } from './batch_norm.js';
import { groupView } from './group_norm.js';
import { assertChannelParam, assertPositive, assertRank, backendSafeEpsilon } from './validate.js';

/** Default epsilon of EvoNorm-S0 (paper; timm). */
export const EVONORM_DEFAULT_EPSILON = 1e-5;

/** Options of {@link evoNormS0}. */
export interface EvoNormS0Options {
  /** Number of groups G for the variance; must divide C. Default: `defaultGroups(C)` (32, or fewer when C is small). */
  groups?: number;
  /** Per-channel scale `[C]`; omitted = 1. */
  gamma?: tf.Tensor;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor;
  /** Per-channel `v` `[C]` of the swish-like numerator; omitted = 1 (the paper's initial value). */
  v?: tf.Tensor;
  /** Epsilon added to the group variance inside the square root; default `1e-5`. Must be > 0. */
  eps?: number;
}

/**
 * EvoNorm-S0 (Liu et al. 2020, Table 1 / Fig. 4):
 * `y = x * sigmoid(v[c] * x) / sqrt(groupVar(x) + eps) * gamma[c] + beta[c]`, where `groupVar` is the biased
 * variance of `x` per sample over (H, W, C/G channels of the group), as in GroupNorm (two-pass).
 *
 * @param x `[B,H,W,C]` or `[B,C]`; `groups` must divide C and a group must hold at least two values per sample.
 * @returns a tensor shaped like `x`. Differentiable in `x`, `gamma`, `beta`, `v`. Batch independent.
 */
export function evoNormS0(x: tf.Tensor, options: EvoNormS0Options = {}): tf.Tensor {
  const op = 'evoNormS0';
  assertRank(op, 'x', x, [2, 4]);
  const eps = options.eps ?? EVONORM_DEFAULT_EPSILON;
  assertPositive(op, 'eps', eps);
  const channels = x.shape[x.rank - 1];
  assertChannelParam(op, 'gamma', options.gamma, channels);
  assertChannelParam(op, 'beta', options.beta, channels);
  assertChannelParam(op, 'v', options.v, channels);
  return tf.tidy(() => {
    const { view, groups } = groupView(op, x, options.groups, 'groups', true);
    const inv = inverseStdRows(view, groups, backendSafeEpsilon(eps)); // [B,1,C]
    const gate = tf.sigmoid(options.v === undefined ? view : channelAffineRows(view, options.v));
    const y = rowwise(tf.mul, tf.mul(view, gate), inv);
    return channelAffineRows(tf.reshape(y, x.shape), options.gamma, options.beta);
  });
}
