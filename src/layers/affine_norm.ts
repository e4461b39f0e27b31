/**
 * The base of batchfree's normalization layers that end with a per-channel affine transform `gamma * y + beta`
 * (GroupNorm, LayerNorm, InstanceNorm, BatchNorm, ...): the `epsilon`, `center` and `scale` options and the
 * `gamma`/`beta` weights.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { assertOneOf, assertPositive } from '../ops/validate.js';
import { LayerArgs, LayerVariable, Shape, assertBoolean, opName, opt, withDefaultName } from './common.js';

/** Options shared by the affine normalization layers. */
export interface AffineNormArgs extends LayerArgs {
  /** Epsilon added to the variance (or second moment) inside the square root; each layer documents its default. */
  epsilon?: number;
  /** Learn a per-channel shift `beta` `[C]` (init 0); default true. */
  center?: boolean;
  /**
   * Learn a per-channel scale `gamma` `[C]` (init 1); default true. Turn `center` and `scale` off when a
   * {@link ProxyNormActivation} follows (it has its own affine transform).
   */
  scale?: boolean;
}

/** The activations a normalization layer can end with itself ({@link NormActivationArgs}). */
export type NormOutputActivation = 'linear' | 'relu';

/** Options of the normalization layers that can end with a ReLU (BN, Batch Renorm, GN, LN, IN). */
export interface NormActivationArgs extends AffineNormArgs {
  /**
   * `'relu'`: the layer outputs `max(y, 0)` — where the op is fused (BN, GN, LN, IN on wasm and cpu) inside the
   * normalization's own passes, forward and backward, saving a pass each way and two kernel calls over a separate
   * ReLU layer; the values and gradients are the same. Default `'linear'` (the normalized output).
   */
  activation?: NormOutputActivation;
}

/** A shape-preserving normalization layer with optional per-channel `gamma` and `beta`. */
export abstract class AffineNormLayer extends tfl.layers.Layer {
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  protected gamma?: LayerVariable;
  protected beta?: LayerVariable;

  protected constructor(args: AffineNormArgs, defaultName: string, defaultEpsilon: number) {
    super(withDefaultName(args, defaultName));
    const op = opName(this);
    this.epsilon = opt(args.epsilon, defaultEpsilon);
    assertPositive(op, 'epsilon', this.epsilon);
    this.center = opt(args.center, true);
    this.scale = opt(args.scale, true);
    assertBoolean(op, 'center', this.center);
    assertBoolean(op, 'scale', this.scale);
  }

  /** Creates `gamma` and `beta` `[channels]` as the options ask. */
  protected addAffineWeights(channels: number): void {
    if (this.scale) this.gamma = this.addWeight('gamma', [channels], 'float32', tfl.initializers.ones());
    if (this.center) this.beta = this.addWeight('beta', [channels], 'float32', tfl.initializers.zeros());
  }

  /** `{ gamma, beta }` for an op call, each `undefined` when the option is off. */
  protected affine(): { gamma?: tf.Tensor1D; beta?: tf.Tensor1D } {
    return { gamma: this.gamma?.read() as tf.Tensor1D | undefined, beta: this.beta?.read() as tf.Tensor1D | undefined };
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon, center: this.center, scale: this.scale };
  }
}

/** An {@link AffineNormLayer} with the `activation` option of {@link NormActivationArgs}. */
export abstract class ActivatedNormLayer extends AffineNormLayer {
  readonly activation: NormOutputActivation;

  protected constructor(args: NormActivationArgs, defaultName: string, defaultEpsilon: number) {
    super(args, defaultName, defaultEpsilon);
    const activation = opt<string>(args.activation, 'linear');
    assertOneOf(opName(this), 'activation', activation, ['linear', 'relu'] as const);
    this.activation = activation;
  }

  /** Whether the output ends with a ReLU (the ops' `relu` option). */
  protected get relu(): boolean {
    return this.activation === 'relu';
  }

  /** The normalization in inference mode, ending with a ReLU when `relu`. */
  protected abstract normalize(x: tf.Tensor, relu: boolean): tf.Tensor;

  /**
   * The normalized output before the activation, in inference mode: what the power decomposition of a trained
   * network measures (`diagnostics/trained.ts`).
   */
  preActivation(x: tf.Tensor): tf.Tensor {
    return this.normalize(x, false);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), activation: this.activation };
  }
}
