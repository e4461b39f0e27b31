/**
 * Filter Response Normalization and the Thresholded Linear Unit (Singh & Krishnan, CVPR 2020), with the
 * activation variants of the paper's Table 5 ablation. METHODS.md §1.
 * @module
 */
import { tf } from '../engine.js';
import { fusable, fusedKernelsActive, fusedNorm, fusedTlu } from '../kernels/fused/index.js';
import { assertChannelParam, assertPositive, assertRank, assertScalarParam, backendSafeEpsilon } from './validate.js';

/** Options of {@link filterResponseNorm}. */
export interface FilterResponseNormOptions {
  /** Per-channel scale `[C]`; omitted = 1 (the paper's initial value). */
  gamma?: tf.Tensor1D;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor1D;
  /** Fixed epsilon added to `nu2`; default `1e-6` (paper). Must be > 0. */
  eps?: number;
  /**
   * Learned epsilon `eps_l` (a scalar tensor; the paper initialises it to 1e-4). The effective epsilon is
   * `eps + |eps_l|`. Needed for dense layers and 1x1 maps (N = 1), where FRN otherwise degenerates to sign(x).
   */
  learnedEps?: tf.Tensor;
}

/** Default epsilon of FRN (paper, §3). */
export const FRN_DEFAULT_EPSILON = 1e-6;
/** Initial value of the learned epsilon `eps_l` (paper, §3.1). */
export const FRN_LEARNED_EPSILON_INIT = 1e-4;

/**
 * Filter Response Normalization, eqs. (1)–(2):
 * `nu2[b,c] = mean_{h,w} x[b,h,w,c]^2`, `y = gamma * x * rsqrt(nu2 + eps + |eps_l|) + beta`.
 *
 * @param x `[B,H,W,C]` (statistics over H,W per sample and channel) or `[B,C]` (N = 1: use `learnedEps`).
 * @returns a tensor shaped like `x`. Differentiable in `x`, `gamma`, `beta` and `learnedEps`.
 */
export function filterResponseNorm(x: tf.Tensor, options: FilterResponseNormOptions = {}): tf.Tensor {
  const op = 'filterResponseNorm';
  const eps = options.eps ?? FRN_DEFAULT_EPSILON;
  if (checkFrnArguments(op, x, eps, options)) return fusedFrn(x, eps, options);
  return tf.tidy(() => {
    const { scaled } = secondMomentScale(op, x, [1, 2], eps, options.learnedEps);
    return channelAffine(op, scaled, options.gamma, options.beta);
  });
}

/** Options of {@link filterResponseNormTlu}: those of FRN plus the TLU threshold. */
export interface FilterResponseNormTluOptions extends FilterResponseNormOptions {
  /** TLU threshold `tau` `[C]` (init 0, as the paper); omitted = 0 (then TLU is a ReLU). */
  tau?: tf.Tensor1D;
}

/**
 * FRN followed by TLU, eqs. (1)–(3): `z = max(gamma * x * rsqrt(nu2 + eps + |eps_l|) + beta, tau)`, the same
 * values and gradients as `tlu(filterResponseNorm(x, options), tau)`. On the `wasm` and `cpu` backends it runs as
 * one fused kernel (two passes over `x` forward, two backward, FRN eq. 7 for the gradient); elsewhere it is
 * that composition.
 *
 * @param x `[B,H,W,C]` or `[B,C]` (N = 1: use `learnedEps`).
 * @returns a tensor shaped like `x`. Differentiable in `x`, `gamma`, `beta`, `tau` and `learnedEps`.
 */
export function filterResponseNormTlu(x: tf.Tensor, options: FilterResponseNormTluOptions = {}): tf.Tensor {
  const op = 'filterResponseNormTlu';
  const eps = options.eps ?? FRN_DEFAULT_EPSILON;
  assertRank(op, 'x', x, [2, 4]);
  assertChannelParam(op, 'tau', options.tau, x.shape[x.rank - 1]);
  const fused = checkFrnArguments(op, x, eps, options, options.tau);
  return tf.tidy(() => {
    const tau = options.tau ?? tf.zeros([x.shape[x.rank - 1]]);
    if (fused) return fusedFrn(x, eps, options, tau);
    const { scaled } = secondMomentScale(op, x, [1, 2], eps, options.learnedEps);
    return tlu(channelAffine(op, scaled, options.gamma, options.beta), tau);
  });
}

/**
 * Checks the arguments of FRN (as the composite path would) and tells whether the fused kernel applies:
 * enabled on the active backend and float32 tensors.
 */
function checkFrnArguments(op: string, x: tf.Tensor, eps: number, options: FilterResponseNormOptions, tau?: tf.Tensor): boolean {
  assertRank(op, 'x', x, [2, 4]);
  assertPositive(op, 'eps', eps);
  assertScalarParam(op, 'learnedEps', options.learnedEps);
  const channels = x.shape[x.rank - 1];
  assertChannelParam(op, 'gamma', options.gamma, channels);
  assertChannelParam(op, 'beta', options.beta, channels);
  return fusedKernelsActive() && fusable(x, options.gamma, options.beta, options.learnedEps, tau);
}

/** FRN (+ TLU when `tau` is given) by the fused kernel: statistics per sample and channel, uncentred. */
function fusedFrn(x: tf.Tensor, eps: number, options: FilterResponseNormOptions, tau?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const channels = x.shape[x.rank - 1];
    const spatial = x.rank === 4 ? (x.shape as number[])[1] * (x.shape as number[])[2] : 1;
    return fusedNorm('BatchfreeFrnTlu', x, {
      groups: channels, unitRows: spatial, center: false, eps: backendSafeEpsilon(eps),
      gamma: options.gamma, beta: options.beta, tau, learnedEps: options.learnedEps,
    }).y;
  });
}

/**
 * `x * rsqrt(mean(x^2 over axes) + eps + |learnedEps|)`, the normalising core shared by FRN and its
 * GFRN/LFRN ablations. `axes` are those of a rank-4 input; a rank-2 input normalises each element alone.
 * @internal
 */
export function secondMomentScale(op: string, x: tf.Tensor, axes: number[], eps: number, learnedEps?: tf.Tensor): { scaled: tf.Tensor } {
  assertRank(op, 'x', x, [2, 4]);
  assertPositive(op, 'eps', eps);
  assertScalarParam(op, 'learnedEps', learnedEps);
  const nu2 = x.rank === 4 ? tf.mean(tf.square(x), axes, true) : tf.square(x);
  let epsilon: tf.Tensor = tf.scalar(backendSafeEpsilon(eps));
  if (learnedEps !== undefined) epsilon = tf.add(epsilon, tf.abs(tf.reshape(learnedEps, [])));
  return { scaled: tf.mul(x, tf.rsqrt(tf.add(nu2, epsilon))) };
}

/** `gamma * x + beta` with per-channel (last axis) parameters, each optional. @internal */
export function channelAffine(op: string, x: tf.Tensor, gamma?: tf.Tensor, beta?: tf.Tensor): tf.Tensor {
  const channels = x.shape[x.rank - 1];
  assertChannelParam(op, 'gamma', gamma, channels);
  assertChannelParam(op, 'beta', beta, channels);
  let y = x;
  if (gamma !== undefined) y = tf.mul(y, gamma);
  if (beta !== undefined) y = tf.add(y, beta);
  return y;
}

/**
 * Thresholded Linear Unit, eq. (3): `z = max(y, tau)` with a per-channel threshold `tau` `[C]` (init 0).
 *
 * On `wasm` and `cpu` one fused kernel (one pass forward, one backward); elsewhere written as
 * `relu(y - tau) + tau`, which equals `max(y, tau)` and whose gradient for a broadcast `tau` reduces correctly
 * (TF.js' `maximum` gradient does not). Either way, at `y = tau` the gradient goes to `tau`.
 */
export function tlu(x: tf.Tensor, tau: tf.Tensor): tf.Tensor {
  const op = 'tlu';
  assertRank(op, 'x', x, [2, 4]);
  assertChannelParam(op, 'tau', tau, x.shape[x.rank - 1]);
  if (fusedKernelsActive() && fusable(x, tau)) return fusedTlu(x, tau);
  return tf.tidy(() => tf.add(tf.relu(tf.sub(x, tau)), tau));
}

/**
 * Parametric ReLU of the paper's Table 5 ablation: `max(x, k * x)` with per-channel `k` `[C]`
 * (`k < 1`, e.g. init 0.25 as in PReLU).
 */
export function prelu(x: tf.Tensor, k: tf.Tensor): tf.Tensor {
  const op = 'prelu';
  assertRank(op, 'x', x, [2, 4]);
  assertChannelParam(op, 'k', k, x.shape[x.rank - 1]);
  // max(x, kx) = relu(x - kx) + kx: no broadcast maximum gradient needed.
  return tf.tidy(() => {
    const kx = tf.mul(x, k);
    return tf.add(tf.relu(tf.sub(x, kx)), kx);
  });
}

/**
 * Affine TLU of the paper's Table 5 ablation: `max(x, k * x + tau)` with per-channel `k` and `tau` `[C]`.
 */
export function affineTlu(x: tf.Tensor, k: tf.Tensor, tau: tf.Tensor): tf.Tensor {
  const op = 'affineTlu';
  assertRank(op, 'x', x, [2, 4]);
  const channels = x.shape[x.rank - 1];
  assertChannelParam(op, 'k', k, channels);
  assertChannelParam(op, 'tau', tau, channels);
  return tf.tidy(() => {
    const floor = tf.add(tf.mul(x, k), tau);
    return tf.add(tf.relu(tf.sub(x, floor)), floor);
  });
}
