/**
 * Per-sample normalizations over channel groups: Group Normalization (Wu & He 2018), the normalization papers'
 * Layer Normalization (one group) and Instance Normalization (one channel per group), and the FRN paper's
 * GFRN / LFRN ablations (Table 3: the same groups, no mean subtraction, uncentered second moment).
 * METHODS.md §1 and §2. No statistic crosses samples: all of these are batch independent.
 *
 * Each sample is a `[H·W, C]` slice of a `[B, H·W, C]` view of the NHWC input, with statistics over its rows
 * and over groups of C/G consecutive channels (no rank-5 view, whose tile gradient TF.js lacks; TFJS.md),
 * computed by the row primitives of `batch_norm.ts` (stable moments, matmul reductions, analytic gradients).
 * @module
 */
import { tf } from '../engine.js';
import { fusable, fusedKernelsActive, fusedNorm } from '../kernels/fused/index.js';
import { channelAffineRows, meanRows, rowwise, standardizeRows } from './batch_norm.js';
import { FRN_DEFAULT_EPSILON } from './filter_response_norm.js';
import { argumentError, assertChannelParam, assertGroups, assertInteger, assertOptionalBoolean, assertPositive, assertRank, assertScalarParam, backendSafeEpsilon } from './validate.js';

/** Default epsilon of GroupNorm / LayerNorm / InstanceNorm (Wu & He 2018; PyTorch). */
export const GN_DEFAULT_EPSILON = 1e-5;
/** Preferred number of groups of GroupNorm (Wu & He 2018). */
export const GN_DEFAULT_GROUPS = 32;

/**
 * The default group count for `channels`: the largest divisor of `channels` that is ≤ `preferred` (default 32,
 * the GroupNorm paper's G). E.g. 64 → 32, 48 → 24, 16 → 16 (one channel per group, i.e. InstanceNorm),
 * 100 → 25, 3 → 3. The ops below use it when `groups` is omitted.
 */
export function defaultGroups(channels: number, preferred = GN_DEFAULT_GROUPS): number {
  const op = 'defaultGroups';
  assertInteger(op, 'channels', channels);
  assertInteger(op, 'preferred', preferred);
  for (let g = Math.min(preferred, channels); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

/** Options of {@link groupNorm}. */
export interface GroupNormOptions {
  /** Number of groups G; must divide C. Default: {@link defaultGroups}`(C)` (32, or fewer when C is small). */
  groups?: number;
  /** Per-channel scale `[C]`; omitted = 1. */
  gamma?: tf.Tensor;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor;
  /** Epsilon added to the variance inside the square root; default `1e-5`. Must be > 0. */
  eps?: number;
  /**
   * End with a ReLU, `max(y, 0)`: on the fused backends (wasm, cpu) inside the normalization's own passes (the
   * TLU slot of the fused kernel with `tau = 0`), forward and backward, instead of one more pass each way; the
   * values and gradients equal `tf.relu(y)`'s. Default false.
   */
  relu?: boolean;
}

/** Options of {@link layerNorm} and {@link instanceNorm}. */
export type LayerNormOptions = Omit<GroupNormOptions, 'groups'>;

/** A checked `[B, H·W, C]` view of `x` and its group count. @internal */
export interface GroupView {
  view: tf.Tensor;
  groups: number;
}

/**
 * Checks `x` (rank 2 or 4) and `groups` and reshapes `x` to `[B, H·W, C]` (`[B, 1, C]` for dense input).
 * With `requireSpread`, a group holding a single value per sample (`H·W·C/G = 1`, whose variance is
 * identically 0) is an error that names `blame`. @internal
 */
export function groupView(op: string, x: tf.Tensor, groups: number | undefined, blame: string, requireSpread: boolean): GroupView {
  assertRank(op, 'x', x, [2, 4]);
  const channels = x.shape[x.rank - 1];
  const g = groups ?? defaultGroups(channels);
  assertGroups(op, 'groups', g, channels);
  const spatial = x.rank === 4 ? (x.shape as number[])[1] * (x.shape as number[])[2] : 1;
  const perGroup = channels / g;
  if (requireSpread && spatial * perGroup < 2) {
    const given = blame === 'groups' ? g : `shape [${x.shape.join(',')}]`;
    throw argumentError(op, blame, given,
      `groups with at least 2 values per sample (H·W·C/G = ${spatial}·${perGroup} = 1 here: the variance is 0 and ` +
      'the output would be the constant beta); use fewer groups or a larger map');
  }
  return { view: tf.reshape(x, [x.shape[0], spatial, channels]), groups: g };
}

/** Centred group standardisation plus per-channel affine, shared by GN, LN and IN. */
function groupStandardize(op: string, x: tf.Tensor, groups: number | undefined, blame: string, options: GroupNormOptions): tf.Tensor {
  const eps = options.eps ?? GN_DEFAULT_EPSILON;
  assertRank(op, 'x', x, [2, 4]);
  assertPositive(op, 'eps', eps);
  assertOptionalBoolean(op, 'relu', options.relu);
  const channels = x.shape[x.rank - 1];
  assertChannelParam(op, 'gamma', options.gamma, channels);
  assertChannelParam(op, 'beta', options.beta, channels);
  return tf.tidy(() => {
    const { view, groups: g } = groupView(op, x, groups, blame, true);
    if (fusedKernelsActive() && fusable(x, options.gamma, options.beta)) {
      return fusedNorm('BatchfreeGroupNorm', x, {
        groups: g, unitRows: (view.shape as number[])[1], center: true, eps: backendSafeEpsilon(eps), gamma: options.gamma, beta: options.beta,
        tau: options.relu === true ? tf.zeros([channels]) : undefined,
      }).y;
    }
    const xhat = standardizeRows(view, g, backendSafeEpsilon(eps));
    const y = channelAffineRows(tf.reshape(xhat, x.shape), options.gamma, options.beta);
    return options.relu === true ? tf.relu(y) : y;
  });
}

/**
 * Group Normalization (Wu & He 2018, eqs. 1–3 with the group set of §3.1): per sample `b` and group `g`,
 * `mu = mean_{h,w,c in g} x`, `var = mean_{h,w,c in g} (x - mu)^2` (biased, two-pass),
 * `y = gamma[c] * (x - mu) / sqrt(var + eps) + beta[c]` (with `relu`, `max(y, 0)`).
 *
 * @param x `[B,H,W,C]` or `[B,C]` (statistics over the C/G channels of a group). `groups` must divide C, and a
 *   group must hold at least two values per sample.
 * @returns a tensor shaped like `x`. Differentiable in `x`, `gamma`, `beta`. Batch independent.
 */
export function groupNorm(x: tf.Tensor, options: GroupNormOptions = {}): tf.Tensor {
  return groupStandardize('groupNorm', x, options.groups, 'groups', options);
}

/**
 * Layer Normalization as the normalization papers use it: GroupNorm with one group, statistics over (H, W, C)
 * per sample, per-channel affine `[C]`. (Not TF.js' `layerNormalization`, which normalises the last axis only.)
 * `y = gamma[c] * (x - mean_{h,w,c} x) / sqrt(var_{h,w,c} x + eps) + beta[c]`.
 *
 * @param x `[B,H,W,C]` or `[B,C]` with at least two values per sample.
 */
export function layerNorm(x: tf.Tensor, options: LayerNormOptions = {}): tf.Tensor {
  return groupStandardize('layerNorm', x, 1, 'x', options);
}

/**
 * Instance Normalization (Ulyanov et al. 2016): GroupNorm with one channel per group (G = C), statistics over
 * (H, W) per sample and channel. `y = gamma[c] * (x - mean_{h,w} x) / sqrt(var_{h,w} x + eps) + beta[c]`.
 *
 * @param x `[B,H,W,C]` with `H·W ≥ 2` (a dense or 1x1 input has a single value per instance: an error).
 */
export function instanceNorm(x: tf.Tensor, options: LayerNormOptions = {}): tf.Tensor {
  assertRank('instanceNorm', 'x', x, [2, 4]);
  return groupStandardize('instanceNorm', x, x.shape[x.rank - 1], 'x', options);
}

/** Options of {@link groupResponseNorm}. */
export interface GroupResponseNormOptions {
  /** Number of groups G; must divide C. Default: {@link defaultGroups}`(C)`. */
  groups?: number;
  /** Per-channel scale `[C]`; omitted = 1. */
  gamma?: tf.Tensor;
  /** Per-channel shift `[C]`; omitted = 0. */
  beta?: tf.Tensor;
  /** Fixed epsilon added to the second moment; default `1e-6` (as FRN). Must be > 0. */
  eps?: number;
  /** Learned epsilon (scalar tensor), effective epsilon `eps + |learnedEps|`, as in FRN. */
  learnedEps?: tf.Tensor;
}

/** Options of {@link layerResponseNorm}. */
export type LayerResponseNormOptions = Omit<GroupResponseNormOptions, 'groups'>;

/**
 * GFRN, the FRN paper's Table 3 ablation: GroupNorm without the mean subtraction, dividing by the uncentered
 * second moment of the group (FRN's eq. 1 over the group's axes):
 * `nu2[b,g] = mean_{h,w,c in g} x^2`, `y = gamma[c] * x / sqrt(nu2 + eps + |learnedEps|) + beta[c]`.
 *
 * @param x `[B,H,W,C]` or `[B,C]`; `groups` must divide C. Batch independent.
 */
export function groupResponseNorm(x: tf.Tensor, options: GroupResponseNormOptions = {}): tf.Tensor {
  return responseNorm('groupResponseNorm', x, options.groups, options);
}

/**
 * LFRN, the FRN paper's Table 3 ablation: {@link groupResponseNorm} with one group,
 * `nu2[b] = mean_{h,w,c} x^2`, `y = gamma[c] * x / sqrt(nu2 + eps + |learnedEps|) + beta[c]`.
 */
export function layerResponseNorm(x: tf.Tensor, options: LayerResponseNormOptions = {}): tf.Tensor {
  return responseNorm('layerResponseNorm', x, 1, options);
}

function responseNorm(op: string, x: tf.Tensor, groups: number | undefined, options: LayerResponseNormOptions): tf.Tensor {
  assertRank(op, 'x', x, [2, 4]);
  const eps = options.eps ?? FRN_DEFAULT_EPSILON;
  assertPositive(op, 'eps', eps);
  assertScalarParam(op, 'learnedEps', options.learnedEps);
  const channels = x.shape[x.rank - 1];
  assertChannelParam(op, 'gamma', options.gamma, channels);
  assertChannelParam(op, 'beta', options.beta, channels);
  return tf.tidy(() => {
    const { view, groups: g } = groupView(op, x, groups, 'groups', false);
    if (fusedKernelsActive() && fusable(x, options.gamma, options.beta, options.learnedEps)) {
      return fusedNorm('BatchfreeFrnTlu', x, {
        groups: g, unitRows: (view.shape as number[])[1], center: false, eps: backendSafeEpsilon(eps),
        gamma: options.gamma, beta: options.beta, learnedEps: options.learnedEps,
      }).y;
    }
    let epsilon: tf.Tensor = tf.scalar(backendSafeEpsilon(eps));
    if (options.learnedEps !== undefined) epsilon = tf.add(epsilon, tf.abs(tf.reshape(options.learnedEps, [])));
    const inv = tf.rsqrt(tf.add(meanRows(tf.square(view), g), epsilon)); // [B,1,C], uncentered second moment
    return channelAffineRows(tf.reshape(rowwise(tf.mul, view, inv), x.shape), options.gamma, options.beta);
  });
}
