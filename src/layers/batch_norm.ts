/**
 * `tf.layers` Batch Normalization with per-group training statistics and Batch Renormalization (Ioffe 2017), the
 * batch-dependent baselines. METHODS.md §2.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { BN_DEFAULT_EPSILON, batchNormInference, batchNormTraining, batchRenormClipSchedule, batchRenormTraining, movingAverage } from '../ops/batch_norm.js';
import { argumentError, assertInteger } from '../ops/validate.js';
import { ActivatedNormLayer, NormActivationArgs } from './affine_norm.js';
import { Kwargs, LayerVariable, Shape, assertInRange, channelsOf, oneTensor, opName, opt, optional, registerLayer } from './common.js';

/** Options of {@link BatchNormalization}. */
export interface BatchNormalizationArgs extends NormActivationArgs {
  /**
   * Images per normalization group in training calls (the papers' "images per GPU"): the batch is split into
   * consecutive groups of `groupSize` images, each normalised with its own statistics. Default: the whole batch.
   * The batch size of every training call must be a multiple of it.
   */
  groupSize?: number;
  /** Momentum of the moving averages: `moving = momentum * moving + (1 - momentum) * batchStat`; default 0.99. */
  momentum?: number;
}

/** BN and BRN: the moving statistics, the momentum, the group size and their update. */
abstract class MovingStatsLayer extends ActivatedNormLayer {
  readonly groupSize?: number;
  readonly momentum: number;
  protected movingMean?: LayerVariable;
  protected movingVariance?: LayerVariable;

  protected constructor(args: BatchNormalizationArgs, defaultName: string) {
    super(args, defaultName, BN_DEFAULT_EPSILON);
    const op = opName(this);
    this.groupSize = optional(args.groupSize);
    if (this.groupSize !== undefined) assertInteger(op, 'groupSize', this.groupSize);
    this.momentum = opt(args.momentum, 0.99);
    assertInRange(op, 'momentum', this.momentum, 0, 1);
  }

  /** `gamma`, `beta` (trainable) and `moving_mean` (init 0), `moving_variance` (init 1) (not trainable). */
  protected addStatsWeights(channels: number): void {
    this.addAffineWeights(channels);
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', tfl.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [channels], 'float32', tfl.initializers.ones(), undefined, false);
  }

  /** `moving <- momentum * moving + (1 - momentum) * value` for the mean and the variance (`movingAverage`). */
  protected updateMovingStats(mean: tf.Tensor, variance: tf.Tensor): void {
    tf.tidy(() => {
      for (const [v, value] of [[this.movingMean!, mean], [this.movingVariance!, variance]] as const) {
        v.write(movingAverage(v.read(), value, this.momentum));
      }
    });
  }

  /** Inference: the moving statistics (no batch dependence), ending with a ReLU when `relu`. */
  protected override normalize(x: tf.Tensor, relu: boolean): tf.Tensor {
    return batchNormInference(x, {
      ...this.affine(), movingMean: this.movingMean!.read(), movingVariance: this.movingVariance!.read(), eps: this.epsilon, relu,
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groupSize: this.groupSize ?? null, momentum: this.momentum };
  }
}

/**
 * Batch Normalization layer with normalization groups (`groupSize` images each). Training calls
 * (`kwargs.training`, as in `model.fit`) normalise each group with its own mean and biased variance over
 * (images of the group, H, W) and then update the moving averages from the group statistics averaged over the
 * groups; inference calls (`model.predict`) use the moving averages. Epsilon default 1e-3, momentum 0.99 (Keras).
 * Weights: `gamma`, `beta` `[C]`, `moving_mean`, `moving_variance` `[C]` (non-trainable).
 */
export class BatchNormalization extends MovingStatsLayer {
  static className = 'batchfree>BatchNormalization';

  constructor(args: BatchNormalizationArgs = {}) {
    super(args, 'batch_normalization');
  }

  override build(inputShape: Shape | Shape[]): void {
    this.addStatsWeights(channelsOf('BatchNormalization', inputShape));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs);
      if (kwargs?.training !== true) return this.normalize(x, this.relu);
      const { y, mean, variance } = batchNormTraining(x, { ...this.affine(), eps: this.epsilon, groupSize: this.groupSize, relu: this.relu });
      this.updateMovingStats(mean, variance);
      return y;
    });
  }
}
registerLayer(BatchNormalization);

/** Options of {@link BatchRenormalization}. */
export interface BatchRenormalizationArgs extends BatchNormalizationArgs {
  /** Final clip of `r` (`[1/rMax, rMax]`), reached after the warm-up; default 3 (paper). */
  rMax?: number;
  /** Final clip of `d` (`[-dMax, dMax]`), reached after the warm-up; default 5 (paper). */
  dMax?: number;
  /**
   * Training steps (training calls of this layer) over which `rMax` ramps linearly 1 → `rMax` and `dMax` 0 → `dMax`;
   * default 1000. (The paper held plain BN for 5k steps and relaxed the clips until 25k–40k steps of a 130k-step
   * ImageNet run: scale it to your run.)
   */
  warmupSteps?: number;
  /** Training steps of plain BN (`rMax = 1`, `dMax = 0`) before the ramp; default 0. */
  holdSteps?: number;
}

/**
 * Batch Renormalization layer (Ioffe 2017): in training calls, per normalization group,
 * `y = gamma * ((x - mu_B) / sigma_B * r + d) + beta` with `r = clip(sigma_B / sigma_mov, 1/rMax, rMax)` and
 * `d = clip((mu_B - mu_mov) / sigma_mov, -dMax, dMax)` (no gradient through r, d), computed with the moving
 * statistics as they were before the call; then the moving averages are updated as in {@link BatchNormalization}
 * and the step counter advances. The clips follow `batchRenormClipSchedule(step, {warmupSteps, holdSteps, ...})`.
 * Inference uses the moving statistics, exactly as BN.
 * Weights: `gamma`, `beta`, `moving_mean`, `moving_variance` `[C]` and `step` `[]` (non-trainable, saved with the
 * model so that a reloaded model resumes its schedule).
 */
export class BatchRenormalization extends MovingStatsLayer {
  static className = 'batchfree>BatchRenormalization';
  readonly rMax: number;
  readonly dMax: number;
  readonly warmupSteps: number;
  readonly holdSteps: number;
  private step?: LayerVariable;

  constructor(args: BatchRenormalizationArgs = {}) {
    super(args, 'batch_renormalization');
    const op = 'BatchRenormalization';
    this.rMax = opt(args.rMax, 3);
    this.dMax = opt(args.dMax, 5);
    this.warmupSteps = opt(args.warmupSteps, 1000);
    this.holdSteps = opt(args.holdSteps, 0);
    if (typeof this.rMax !== 'number' || !Number.isFinite(this.rMax) || this.rMax < 1) throw argumentError(op, 'rMax', this.rMax, 'a finite number >= 1');
    if (typeof this.dMax !== 'number' || !Number.isFinite(this.dMax) || this.dMax < 0) throw argumentError(op, 'dMax', this.dMax, 'a finite number >= 0');
    assertInteger(op, 'warmupSteps', this.warmupSteps, 0);
    assertInteger(op, 'holdSteps', this.holdSteps, 0);
  }

  override build(inputShape: Shape | Shape[]): void {
    this.addStatsWeights(channelsOf('BatchRenormalization', inputShape));
    this.step = this.addWeight('step', [], 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }

  /** Training steps taken so far (the `step` weight). */
  get steps(): number {
    return this.step === undefined ? 0 : this.step.read().dataSync()[0];
  }

  /** The clips the next training call will use. */
  clips(): { rMax: number; dMax: number } {
    return batchRenormClipSchedule(this.steps, {
      warmupSteps: this.warmupSteps, holdSteps: this.holdSteps, rMaxFinal: this.rMax, dMaxFinal: this.dMax,
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs);
      if (kwargs?.training !== true) return this.normalize(x, this.relu);
      const step = this.steps;
      const { y, mean, variance } = batchRenormTraining(x, {
        ...this.affine(), eps: this.epsilon, groupSize: this.groupSize, ...this.clips(),
        movingMean: this.movingMean!.read(), movingVariance: this.movingVariance!.read(),
      });
      this.updateMovingStats(mean, variance);
      this.step!.write(tf.scalar(step + 1));
      return this.relu ? tf.relu(y) : y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rMax: this.rMax, dMax: this.dMax, warmupSteps: this.warmupSteps, holdSteps: this.holdSteps };
  }
}
registerLayer(BatchRenormalization);
