/**
 * `tf.layers` wrappers of the per-sample normalizations over channel groups: GroupNorm (Wu & He 2018), the
 * normalization papers' LayerNorm over (H, W, C) and InstanceNorm, and the FRN paper's GFRN / LFRN ablations
 * (Table 3). METHODS.md §1–2. None of them uses batch statistics: training and inference compute the same thing.
 * @module
 */
import { tf } from '../engine.js';
import { FRN_DEFAULT_EPSILON, FRN_LEARNED_EPSILON_INIT } from '../ops/filter_response_norm.js';
import { GN_DEFAULT_EPSILON, defaultGroups, groupNorm, groupResponseNorm, instanceNorm, layerNorm, layerResponseNorm } from '../ops/group_norm.js';
import { argumentError, assertGroups, assertInteger } from '../ops/validate.js';
import { ActivatedNormLayer, AffineNormArgs, AffineNormLayer, NormActivationArgs } from './affine_norm.js';
import { Kwargs, LayerVariable, Shape, channelsOf, constantInit, oneShape, oneTensor, opName, opt, optional, registerLayer } from './common.js';

/** Options of {@link GroupNormalization}. */
export interface GroupNormalizationArgs extends NormActivationArgs {
  /**
   * Number of groups G; must divide the channel count C (checked when the layer is built, naming `groups`).
   * Default: `defaultGroups(C)`, the largest divisor of C that is ≤ 32 (32 for C = 64, 16 for C = 16, 24 for 48).
   */
  groups?: number;
}

/** Resolves and checks the group count of a layer built for `channels` channels. */
function resolveGroups(layer: string, groups: number | undefined, channels: number): number {
  const g = groups ?? defaultGroups(channels);
  assertGroups(layer, 'groups', g, channels);
  return g;
}

/**
 * Group Normalization layer (Wu & He 2018): per sample and group of C/G channels,
 * `y = gamma * (x - mean) / sqrt(var + eps) + beta` over (H, W, channels of the group). Input `[B,H,W,C]` or
 * `[B,C]`. Epsilon default 1e-5. Weights `gamma`, `beta` `[C]` (see `center`, `scale`).
 */
export class GroupNormalization extends ActivatedNormLayer {
  static className = 'batchfree>GroupNormalization';
  /** The `groups` option as given (`undefined`: the default for the channel count). */
  readonly groups?: number;
  /** The group count in use, known once the layer is built. */
  resolvedGroups?: number;

  constructor(args: GroupNormalizationArgs = {}) {
    super(args, 'group_normalization', GN_DEFAULT_EPSILON);
    this.groups = optional(args.groups);
    if (this.groups !== undefined) assertInteger('GroupNormalization', 'groups', this.groups);
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('GroupNormalization', inputShape);
    this.resolvedGroups = resolveGroups('GroupNormalization', this.groups, c);
    this.addAffineWeights(c);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => this.normalize(oneTensor(inputs), this.relu));
  }

  protected override normalize(x: tf.Tensor, relu: boolean): tf.Tensor {
    return groupNorm(x, { ...this.affine(), groups: this.resolvedGroups, eps: this.epsilon, relu });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups ?? null };
  }
}
registerLayer(GroupNormalization);

/**
 * Layer Normalization as the normalization papers use it (GroupNorm with one group): per sample, statistics over
 * (H, W, C), per-channel `gamma`/`beta` `[C]`. Named `...HWC` so that it cannot be confused with
 * `tf.layers.layerNormalization`, which normalises over the last axis only. Input `[B,H,W,C]` or `[B,C]`.
 * Epsilon default 1e-5.
 */
export class LayerNormalizationHWC extends ActivatedNormLayer {
  static className = 'batchfree>LayerNormalizationHWC';

  constructor(args: NormActivationArgs = {}) {
    super(args, 'layer_normalization_hwc', GN_DEFAULT_EPSILON);
  }

  override build(inputShape: Shape | Shape[]): void {
    this.addAffineWeights(channelsOf('LayerNormalizationHWC', inputShape));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => this.normalize(oneTensor(inputs), this.relu));
  }

  protected override normalize(x: tf.Tensor, relu: boolean): tf.Tensor {
    return layerNorm(x, { ...this.affine(), eps: this.epsilon, relu });
  }
}
registerLayer(LayerNormalizationHWC);

/**
 * Instance Normalization (GroupNorm with one channel per group): per sample and channel, statistics over (H, W).
 * Input `[B,H,W,C]` with `H·W ≥ 2` (a dense or 1x1 input has one value per instance: rejected at build time).
 * Epsilon default 1e-5.
 */
export class InstanceNormalization extends ActivatedNormLayer {
  static className = 'batchfree>InstanceNormalization';

  constructor(args: NormActivationArgs = {}) {
    super(args, 'instance_normalization', GN_DEFAULT_EPSILON);
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('InstanceNormalization', inputShape, [4]);
    const [, h, w] = oneShape(inputShape);
    if (h !== null && w !== null && h * w < 2) {
      throw argumentError('InstanceNormalization', 'inputShape', `[${oneShape(inputShape).join(',')}]`,
        'maps with H·W >= 2 (a 1x1 map has one value per instance: its variance is 0)');
    }
    this.addAffineWeights(c);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => this.normalize(oneTensor(inputs), this.relu));
  }

  protected override normalize(x: tf.Tensor, relu: boolean): tf.Tensor {
    return instanceNorm(x, { ...this.affine(), eps: this.epsilon, relu });
  }
}
registerLayer(InstanceNormalization);

/** Options of {@link GroupResponseNormalization} and {@link LayerResponseNormalization}. */
export interface ResponseNormalizationArgs extends AffineNormArgs {
  /**
   * Learn an epsilon `eps_l` (scalar, init 1e-4; effective epsilon `eps + |eps_l|`), as FRN does. Default
   * `'auto'`: learned when a group holds a single value per sample (H·W·C/G = 1 with H, W known), where the
   * normalization degenerates to `sign(x)`; `true`/`false` force it.
   */
  learnedEpsilon?: boolean | 'auto';
}

/** Options of {@link GroupResponseNormalization}. */
export interface GroupResponseNormalizationArgs extends ResponseNormalizationArgs {
  /** Number of groups G (divides C); default `defaultGroups(C)` as in {@link GroupNormalization}. */
  groups?: number;
}

/** GFRN / LFRN: shared options, the learned epsilon and the config. */
abstract class ResponseNormLayer extends AffineNormLayer {
  readonly learnedEpsilon: boolean | 'auto';
  protected epsL?: LayerVariable;

  protected constructor(args: ResponseNormalizationArgs, defaultName: string) {
    super(args, defaultName, FRN_DEFAULT_EPSILON);
    this.learnedEpsilon = opt(args.learnedEpsilon, 'auto');
    if (this.learnedEpsilon !== 'auto' && typeof this.learnedEpsilon !== 'boolean') {
      throw argumentError(opName(this), 'learnedEpsilon', this.learnedEpsilon, "true, false or 'auto'");
    }
  }

  /** Builds `gamma`, `beta` and, when asked or needed, `learned_epsilon`, for groups of `perGroup` channels. */
  protected buildWeights(inputShape: Shape, channels: number, perGroup: number): void {
    this.addAffineWeights(channels);
    const spatial = inputShape.length === 2 ? 1 : inputShape[1] !== null && inputShape[2] !== null ? inputShape[1] * inputShape[2] : null;
    const learn = this.learnedEpsilon === 'auto' ? spatial !== null && spatial * perGroup === 1 : this.learnedEpsilon;
    if (learn) this.epsL = this.addWeight('learned_epsilon', [], 'float32', constantInit(FRN_LEARNED_EPSILON_INIT));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), learnedEpsilon: this.learnedEpsilon };
  }
}

/**
 * GFRN, the FRN paper's Table 3 ablation: GroupNorm without mean subtraction, dividing by the uncentered second
 * moment of each group, `y = gamma * x / sqrt(mean_{h,w,c in g}(x^2) + eps) + beta`. Epsilon default 1e-6 (FRN's).
 */
export class GroupResponseNormalization extends ResponseNormLayer {
  static className = 'batchfree>GroupResponseNormalization';
  /** The `groups` option as given (`undefined`: the default for the channel count). */
  readonly groups?: number;
  /** The group count in use, known once the layer is built. */
  resolvedGroups?: number;

  constructor(args: GroupResponseNormalizationArgs = {}) {
    super(args, 'group_response_normalization');
    this.groups = optional(args.groups);
    if (this.groups !== undefined) assertInteger('GroupResponseNormalization', 'groups', this.groups);
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('GroupResponseNormalization', inputShape);
    this.resolvedGroups = resolveGroups('GroupResponseNormalization', this.groups, c);
    this.buildWeights(oneShape(inputShape), c, c / this.resolvedGroups);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => groupResponseNorm(oneTensor(inputs), {
      ...this.affine(), groups: this.resolvedGroups, eps: this.epsilon, learnedEps: this.epsL?.read(),
    }));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups ?? null };
  }
}
registerLayer(GroupResponseNormalization);

/**
 * LFRN, the FRN paper's Table 3 ablation: {@link GroupResponseNormalization} with one group,
 * `y = gamma * x / sqrt(mean_{h,w,c}(x^2) + eps) + beta`. Epsilon default 1e-6.
 */
export class LayerResponseNormalization extends ResponseNormLayer {
  static className = 'batchfree>LayerResponseNormalization';

  constructor(args: ResponseNormalizationArgs = {}) {
    super(args, 'layer_response_normalization');
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('LayerResponseNormalization', inputShape);
    this.buildWeights(oneShape(inputShape), c, c);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => layerResponseNorm(oneTensor(inputs), { ...this.affine(), eps: this.epsilon, learnedEps: this.epsL?.read() }));
  }
}
registerLayer(LayerResponseNormalization);
