/**
 * `tf.layers` wrapper of EvoNorm-S0 (Liu et al. 2020), a batch-independent normalization-activation layer.
 * METHODS.md §2.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { EVONORM_DEFAULT_EPSILON, evoNormS0 } from '../ops/evo_norm.js';
import { defaultGroups } from '../ops/group_norm.js';
import { assertGroups, assertInteger } from '../ops/validate.js';
import { AffineNormArgs, AffineNormLayer } from './affine_norm.js';
import { Kwargs, LayerVariable, Shape, channelsOf, oneTensor, optional, registerLayer } from './common.js';

/** Options of {@link EvoNormS0}. */
export interface EvoNormS0Args extends AffineNormArgs {
  /** Number of groups G for the variance (divides C); default `defaultGroups(C)` (largest divisor ≤ 32). */
  groups?: number;
}

/**
 * EvoNorm-S0 layer (Liu et al. 2020): `y = x * sigmoid(v * x) / sqrt(groupVar(x) + eps) * gamma + beta`, the
 * group variance per sample as in GroupNorm. A normalization *and* activation: no activation layer follows it.
 * Epsilon default 1e-5. Weights: `gamma` `[C]` (init 1), `beta` `[C]` (init 0), `v` `[C]` (init 1).
 */
export class EvoNormS0 extends AffineNormLayer {
  static className = 'batchfree>EvoNormS0';
  /** The `groups` option as given (`undefined`: the default for the channel count). */
  readonly groups?: number;
  /** The group count in use, known once the layer is built. */
  resolvedGroups?: number;
  private v?: LayerVariable;

  constructor(args: EvoNormS0Args = {}) {
    super(args, 'evo_norm_s0', EVONORM_DEFAULT_EPSILON);
    this.groups = optional(args.groups);
    if (this.groups !== undefined) assertInteger('EvoNormS0', 'groups', this.groups);
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channelsOf('EvoNormS0', inputShape);
    this.resolvedGroups = this.groups ?? defaultGroups(c);
    assertGroups('EvoNormS0', 'groups', this.resolvedGroups, c);
    this.addAffineWeights(c);
    this.v = this.addWeight('v', [c], 'float32', tfl.initializers.ones());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => evoNormS0(oneTensor(inputs), { ...this.affine(), v: this.v!.read(), groups: this.resolvedGroups, eps: this.epsilon }));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups ?? null };
  }
}
registerLayer(EvoNormS0);
