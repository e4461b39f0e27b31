/**
 * Convolution layers with standardized kernels: {@link WSConv2D} (Weight Standardization, Qiao et al. 2019) and
 * {@link ScaledWSConv2D} (Scaled Weight Standardization of normalizer-free networks, Brock et al. 2021, in
 * DeepMind's form). METHODS.md §2 and §4. Layout NHWC, kernels `[kh, kw, in, filters]`.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { SCALED_WS_DEFAULT_EPSILON, WS_DEFAULT_EPSILON, scaledStandardize, weightStandardize } from '../ops/weight_standardization.js';
import { argumentError, assertInteger, assertOneOf, assertPositive } from '../ops/validate.js';
import { Initializer, Kwargs, LayerArgs, LayerVariable, Shape, assertBoolean, channelsOf, oneShape, oneTensor, opName, opt, optional, registerLayer, withDefaultName } from './common.js';

/** Kernel initializers a WS convolution accepts by name (the scale of the kernel is standardized away anyway). */
export type KernelInitializerName = 'heNormal' | 'heUniform' | 'glorotNormal' | 'glorotUniform' | 'leCunNormal' | 'leCunUniform';
/** The accepted {@link KernelInitializerName}s. */
export const KERNEL_INITIALIZERS: readonly KernelInitializerName[] = ['heNormal', 'heUniform', 'glorotNormal', 'glorotUniform', 'leCunNormal', 'leCunUniform'];

/** Options of {@link WSConv2D} and {@link ScaledWSConv2D} (named as in `tf.layers.conv2d`). */
export interface WSConv2DArgs extends LayerArgs {
  /** Number of output channels. */
  filters: number;
  /** Kernel size `k` or `[kh, kw]`. */
  kernelSize: number | [number, number];
  /** Strides `s` or `[sh, sw]`; default 1. */
  strides?: number | [number, number];
  /** `'same'` (default) or `'valid'`. */
  padding?: 'same' | 'valid';
  /**
   * Dilation `d` or `[dh, dw]`; default 1. Cannot be combined with strides > 1 (as in TF.js). Implemented by
   * inserting zeros into the standardized kernel, so that it trains (TF.js' own dilated `conv2d` has no gradient).
   */
  dilationRate?: number | [number, number];
  /** Add a bias `[filters]` (init 0); default true. */
  useBias?: boolean;
  /**
   * Epsilon of the standardization: added to the variance for `WSConv2D` (default 1e-5), the floor of
   * `var * fanIn` for `ScaledWSConv2D` (default 1e-4).
   */
  epsilon?: number;
  /** Initializer of the raw kernel, by name; default `'heNormal'`. */
  kernelInitializer?: KernelInitializerName;
  /** Seed of the kernel initializer (optional). */
  seed?: number;
}

/** `v` as a pair (a number means the same value on both spatial axes). */
function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function assertPair(op: string, name: string, v: unknown, min: number): void {
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= min;
  if (!(ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok)))) {
    throw argumentError(op, name, v, `a whole number >= ${min} or a pair [h, w] of them`);
  }
}

/**
 * The kernel of a dilated convolution with the zeros made explicit: `[kh, kw, in, out]` becomes
 * `[(kh-1)·dh + 1, (kw-1)·dw + 1, in, out]` with the taps `dh`, `dw` apart. A convolution with it equals the
 * dilated convolution (same padding rule: TF pads for the effective kernel size), and its gradient is only
 * reshapes, pads and slices.
 */
export function dilateKernel(w: tf.Tensor4D, dilation: [number, number]): tf.Tensor4D {
  const [dh, dw] = dilation;
  if (dh === 1 && dw === 1) return w;
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = w.shape;
    const rest = cin * cout;
    let k: tf.Tensor = w;
    if (dh > 1) {
      // [kh, 1, kw·rest] → pad the middle axis to dh → [kh·dh, kw·rest] → drop the trailing dh-1 rows.
      k = tf.pad(tf.reshape(k, [kh, 1, kw * rest]), [[0, 0], [0, dh - 1], [0, 0]]);
      k = tf.slice(tf.reshape(k, [kh * dh, kw * rest]), [0, 0], [(kh - 1) * dh + 1, kw * rest]);
    }
    const KH = (kh - 1) * dh + 1;
    if (dw > 1) {
      k = tf.pad(tf.reshape(k, [KH, kw, 1, rest]), [[0, 0], [0, 0], [0, dw - 1], [0, 0]]);
      k = tf.slice(tf.reshape(k, [KH, kw * dw, rest]), [0, 0, 0], [KH, (kw - 1) * dw + 1, rest]);
    }
    return tf.reshape(k, [KH, (kw - 1) * dw + 1, cin, cout]) as tf.Tensor4D;
  });
}

/** The conv2d options, weights and shape logic shared by the two WS convolutions. */
abstract class StandardizedConv2D extends tfl.layers.Layer {
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'same' | 'valid';
  readonly dilationRate: [number, number];
  readonly useBias: boolean;
  readonly epsilon: number;
  readonly kernelInitializer: KernelInitializerName;
  readonly seed?: number;
  protected kernel?: LayerVariable;
  protected bias?: LayerVariable;

  protected constructor(args: WSConv2DArgs, defaultName: string, defaultEpsilon: number) {
    super(withDefaultName(args, defaultName));
    const op = opName(this);
    if (typeof args !== 'object' || args === null) throw argumentError(op, 'args', args, 'an options object with filters and kernelSize');
    assertInteger(op, 'filters', args.filters);
    this.filters = args.filters;
    assertPair(op, 'kernelSize', args.kernelSize, 1);
    this.kernelSize = pair(args.kernelSize);
    const strides = opt<number | [number, number]>(args.strides, 1);
    assertPair(op, 'strides', strides, 1);
    this.strides = pair(strides);
    const dilation = opt<number | [number, number]>(args.dilationRate, 1);
    assertPair(op, 'dilationRate', dilation, 1);
    this.dilationRate = pair(dilation);
    if (this.dilationRate.some((d) => d > 1) && this.strides.some((s) => s > 1)) {
      throw argumentError(op, 'dilationRate', args.dilationRate, `1 when strides > 1 (strides are [${this.strides.join(',')}])`);
    }
    const padding = opt<string>(args.padding, 'same');
    assertOneOf(op, 'padding', padding, ['same', 'valid'] as const);
    this.padding = padding;
    this.useBias = opt(args.useBias, true);
    assertBoolean(op, 'useBias', this.useBias);
    this.epsilon = opt(args.epsilon, defaultEpsilon);
    assertPositive(op, 'epsilon', this.epsilon);
    const init = opt<string>(args.kernelInitializer, 'heNormal');
    assertOneOf(op, 'kernelInitializer', init, KERNEL_INITIALIZERS);
    this.kernelInitializer = init;
    this.seed = optional(args.seed);
  }

  private initializer(): Initializer {
    return tfl.initializers[this.kernelInitializer]({ seed: this.seed });
  }

  /** Creates `kernel` `[kh, kw, in, filters]` and `bias` `[filters]`; returns the input depth. */
  protected addConvWeights(inputShape: Shape | Shape[]): number {
    const cin = channelsOf(opName(this), inputShape, [4]);
    this.kernel = this.addWeight('kernel', [...this.kernelSize, cin, this.filters], 'float32', this.initializer());
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', tfl.initializers.zeros());
    return cin;
  }

  /** The kernel actually convolved (standardized), before dilation. */
  protected abstract standardizedKernel(): tf.Tensor4D;

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs) as tf.Tensor4D;
      const w = dilateKernel(this.standardizedKernel(), this.dilationRate);
      const y = tf.conv2d(x, w, this.strides, this.padding);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [b, h, w] = oneShape(inputShape);
    const size = (n: number | null, axis: 0 | 1): number | null => {
      if (n === null) return null;
      const s = this.strides[axis];
      const k = (this.kernelSize[axis] - 1) * this.dilationRate[axis] + 1;
      return this.padding === 'same' ? Math.ceil(n / s) : Math.ceil((n - k + 1) / s);
    };
    return [b, size(h, 0), size(w, 1), this.filters];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(), filters: this.filters, kernelSize: [...this.kernelSize], strides: [...this.strides],
      padding: this.padding, dilationRate: [...this.dilationRate], useBias: this.useBias, epsilon: this.epsilon,
      kernelInitializer: this.kernelInitializer, seed: this.seed ?? null,
    };
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

  protected override standardizedKernel(): tf.Tensor4D {
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

  protected override standardizedKernel(): tf.Tensor4D {
    const gain = this.outputGain === 1 ? this.gain!.read() : tf.mul(this.gain!.read(), this.outputGain);
    return scaledStandardize(this.kernel!.read(), { gain: gain as tf.Tensor1D, eps: this.epsilon }) as tf.Tensor4D;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outputGain: this.outputGain };
  }
}
registerLayer(ScaledWSConv2D);
