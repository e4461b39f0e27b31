/**
 * Convolution layers with standardized kernels: {@link WSConv2D} (Weight Standardization, Qiao et al. 2019) and
 * {@link ScaledWSConv2D} (Scaled Weight Standardization of normalizer-free networks, Brock et al. 2021, in
 * DeepMind's form). METHODS.md §2 and §4. Layout NHWC, kernels `[kh, kw, in, filters]`.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { SCALED_WS_DEFAULT_EPSILON, WS_DEFAULT_EPSILON, scaledStandardize, weightStandardize } from '../ops/weight_standardization.js';
import { argumentError, assertPositive } from '../ops/validate.js';
import { LayerVariable, Shape, opName, opt, registerLayer } from './common.js';
import { Conv2DBase, type Conv2DArgs } from './conv.js';

/** Options of {@link WSConv2D} and {@link ScaledWSConv2D} (named as in `tf.layers.conv2d`). */
export interface WSConv2DArgs extends Conv2DArgs {
  /**
   * Epsilon of the standardization: added to the variance for `WSConv2D` (default 1e-5), the floor of
   * `var * fanIn` for `ScaledWSConv2D` (default 1e-4).
   */
  epsilon?: number;
}

/** The epsilon the two standardized convolutions share. */
abstract class StandardizedConv2D extends Conv2DBase {
  readonly epsilon: number;

  protected constructor(args: WSConv2DArgs, defaultName: string, defaultEpsilon: number) {
    super(args, defaultName);
    this.epsilon = opt(args.epsilon, defaultEpsilon);
    assertPositive(opName(this), 'epsilon', this.epsilon);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

/**
 * 2-D convolution with Weight Standardization (Qiao et al. 2019): the kernel is standardized per output channel,
 * `W_hat = (W - mean) / sqrt(var + eps)` over (kh, kw, in) (biased variance), then convolved. Usually followed by
 * GroupNorm. Weights: `kernel` `[kh, kw, in, filters]`, `bias` `[filters]` (init 0, when `useBias`).
 */
export class WSConv2D extends StandardizedConv2D {
  static className = 'batchfree>WSConv2D';

  constructor(args: WSConv2DArgs) {
    super(args, 'ws_conv2d', WS_DEFAULT_EPSILON);
  }

  override build(inputShape: Shape | Shape[]): void {
    this.addConvWeights(inputShape);
    this.built = true;
  }

  protected override convolvedKernel(): tf.Tensor4D {
    return weightStandardize(this.kernel!.read(), { eps: this.epsilon }) as tf.Tensor4D;
  }
}
registerLayer(WSConv2D);

/** Options of {@link ScaledWSConv2D}. */
export interface ScaledWSConv2DArgs extends WSConv2DArgs {
  /**
   * A fixed (not learned) factor on the standardized kernel, e.g. the gain of the activation that follows when it
   * is folded into the convolution (timm's `gamma`); default 1.
   */
  outputGain?: number;
}

/**
 * 2-D convolution with Scaled Weight Standardization, DeepMind's NFNet form (METHODS.md §4): per output channel,
 * `W_hat = (W - mean) * rsqrt(max(var * fanIn, eps)) * gain * outputGain`, `fanIn = kh·kw·in`, then convolved and
 * the bias added. Weights: `kernel` `[kh, kw, in, filters]`, `gain` `[filters]` (init 1), `bias` `[filters]`
 * (init 0, when `useBias`).
 */
export class ScaledWSConv2D extends StandardizedConv2D {
  static className = 'batchfree>ScaledWSConv2D';
  readonly outputGain: number;
  private gain?: LayerVariable;

  constructor(args: ScaledWSConv2DArgs) {
    super(args, 'scaled_ws_conv2d', SCALED_WS_DEFAULT_EPSILON);
    this.outputGain = opt(args.outputGain, 1);
    if (typeof this.outputGain !== 'number' || !Number.isFinite(this.outputGain)) {
      throw argumentError('ScaledWSConv2D', 'outputGain', this.outputGain, 'a finite number');
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    this.addConvWeights(inputShape);
    this.gain = this.addWeight('gain', [this.filters], 'float32', tfl.initializers.ones());
    this.built = true;
  }

  protected override convolvedKernel(): tf.Tensor4D {
    const gain = this.outputGain === 1 ? this.gain!.read() : tf.mul(this.gain!.read(), this.outputGain);
    return scaledStandardize(this.kernel!.read(), { gain: gain as tf.Tensor1D, eps: this.epsilon }) as tf.Tensor4D;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outputGain: this.outputGain };
  }
}
registerLayer(ScaledWSConv2D);
