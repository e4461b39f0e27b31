/**
 * 2-D convolution layers of batchfree: {@link Conv2D}, a plain convolution whose training gradient computes the
 * input gradient only when something needs it, and the base the standardized convolutions of `ws_conv.ts` share.
 * Layout NHWC, kernels `[kh, kw, in, filters]`.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { argumentError, assertInteger, assertOneOf } from '../ops/validate.js';
import { Initializer, Kwargs, LayerArgs, LayerVariable, Shape, assertBoolean, channelsOf, oneShape, oneTensor, opName, opt, optional, registerLayer, withDefaultName } from './common.js';

/** Kernel initializers the convolutions accept by name. */
export type KernelInitializerName = 'heNormal' | 'heUniform' | 'glorotNormal' | 'glorotUniform' | 'leCunNormal' | 'leCunUniform';
/** The accepted {@link KernelInitializerName}s. */
export const KERNEL_INITIALIZERS: readonly KernelInitializerName[] = ['heNormal', 'heUniform', 'glorotNormal', 'glorotUniform', 'leCunNormal', 'leCunUniform'];

/** Options of {@link Conv2D} and the standardized convolutions (named as in `tf.layers.conv2d`). */
export interface Conv2DArgs extends LayerArgs {
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
   * inserting zeros into the kernel (after standardization, for the WS convolutions), so that it trains (TF.js'
   * own dilated `conv2d` has no gradient).
   */
  dilationRate?: number | [number, number];
  /** Add a bias `[filters]` (init 0); default true. */
  useBias?: boolean;
  /** Initializer of the raw kernel, by name; default `'heNormal'`. */
  kernelInitializer?: KernelInitializerName;
  /** Seed of the kernel initializer (optional). */
  seed?: number;
}

/** `v` as a pair (a number means the same value on both spatial axes). */
function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Checks a whole number ≥ `min` or a pair `[h, w]` of them. */
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

/** The conv2d options, weights, call and shape logic shared by batchfree's convolutions; subclasses give the kernel convolved. */
export abstract class Conv2DBase extends tfl.layers.Layer {
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'same' | 'valid';
  readonly dilationRate: [number, number];
  readonly useBias: boolean;
  readonly kernelInitializer: KernelInitializerName;
  readonly seed?: number;
  protected kernel?: LayerVariable;
  protected bias?: LayerVariable;

  protected constructor(args: Conv2DArgs, defaultName: string) {
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

  /** The kernel actually convolved (e.g. standardized), before dilation. */
  protected abstract convolvedKernel(): tf.Tensor4D;

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs) as tf.Tensor4D;
      const w = dilateKernel(this.convolvedKernel(), this.dilationRate);
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
      padding: this.padding, dilationRate: [...this.dilationRate], useBias: this.useBias,
      kernelInitializer: this.kernelInitializer, seed: this.seed ?? null,
    };
  }
}

/**
 * A plain 2-D convolution `y = conv2d(x, kernel) + bias`, the counterpart of `tf.layers.conv2d` (same weights,
 * initializers by name, `'same'`/`'valid'` padding, strides, dilations; no fused activation) that trains faster:
 * it convolves with `tf.conv2d`, whose gradient TF.js computes per input on demand, where `tf.layers.conv2d` goes
 * through TF.js' fused convolution, whose custom gradient always computes the input gradient too. For the first
 * convolution of a network (its input is data) that input gradient is thrown away: at batch 64 on 28×28×1 images
 * it took ~2.4 ms of a ~36 ms reference-net step. Weights: `kernel` `[kh, kw, in, filters]`, `bias` `[filters]`
 * (init 0, when `useBias`).
 */
export class Conv2D extends Conv2DBase {
  static className = 'batchfree>Conv2D';

  constructor(args: Conv2DArgs) {
    super(args, 'conv2d');
  }

  override build(inputShape: Shape | Shape[]): void {
    this.addConvWeights(inputShape);
    this.built = true;
  }

  protected override convolvedKernel(): tf.Tensor4D {
    return this.kernel!.read() as tf.Tensor4D;
  }
}
registerLayer(Conv2D);
