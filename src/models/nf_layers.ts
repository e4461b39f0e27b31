/**
 * Small `tf.layers` building blocks of the normalizer-free models (Brock et al. 2021; METHODS.md §4) that the
 * generic layer set does not provide: a learnable scalar residual gain (SkipInit), a constant multiplier (the
 * `1 / beta` and `alpha` factors), per-sample stochastic depth, a grouped convolution (TF.js has none) with
 * optional Scaled Weight Standardization, and NFNet's squeeze-excite gate `2 * sigmoid`.
 *
 * Every class is registered with `tf.serialization.registerClass` under a `batchfree>` class name, so a model
 * that uses them saves and loads with `tfl.loadLayersModel` once this module has been imported.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { argumentError, assertInteger, assertOneOf, assertPositive } from '../ops/validate.js';
import { scaledStandardize } from '../ops/weight_standardization.js';
import { Kwargs, LayerArgs, Shape, oneShape as singleShape, oneTensor as single, optional, registerLayer, withDefaultName } from '../layers/common.js';

// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link SkipGain}. */
export interface SkipGainArgs extends LayerArgs {
  /** Fixed multiplier of the residual branch, the `alpha` of `h + alpha * g * f(h / beta)`; default 1. */
  alpha?: number;
  /** Initial value of the learnable scalar `g`; default 0 (SkipInit: the branch contributes nothing at init). */
  initValue?: number;
}

/**
 * `y = alpha * g * x` with a learnable scalar `g` (weight `gain`, shape `[]`), the residual-branch gain of
 * NF-ResNets / NFNets (`skip_gain`, SkipInit, De & Smith 2020): `h_{i+1} = h_i + alpha * g * f_i(h_i / beta_i)`
 * (METHODS.md §4). With the default `initValue = 0` every residual block is the identity at initialisation.
 */
export class SkipGain extends tfl.layers.Layer {
  static readonly className = 'batchfree>SkipGain';
  readonly alpha: number;
  readonly initValue: number;
  private gain?: tfl.LayerVariable;

  constructor(args: SkipGainArgs = {}) {
    super(withDefaultName(args, 'skip_gain'));
    this.alpha = args.alpha ?? 1;
    this.initValue = args.initValue ?? 0;
    if (!Number.isFinite(this.alpha)) throw argumentError('SkipGain', 'alpha', this.alpha, 'a finite number');
    if (!Number.isFinite(this.initValue)) throw argumentError('SkipGain', 'initValue', this.initValue, 'a finite number');
  }

  override build(_inputShape: Shape | Shape[]): void {
    this.gain = this.addWeight('gain', [], 'float32', tfl.initializers.constant({ value: this.initValue }));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => tf.mul(single(inputs), tf.mul(this.gain!.read(), this.alpha)));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), alpha: this.alpha, initValue: this.initValue };
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link ConstantScale}. */
export interface ConstantScaleArgs extends LayerArgs {
  /** The fixed multiplier (finite). */
  scale: number;
}

/**
 * `y = scale * x` with a fixed, non-trainable `scale`: the `1 / beta_i` input scaling of a normalizer-free
 * residual block (METHODS.md §4), where `beta_i` is the square root of the expected variance of `h_i`
 * (see {@link nfExpectedVariances}).
 */
export class ConstantScale extends tfl.layers.Layer {
  static readonly className = 'batchfree>ConstantScale';
  readonly scale: number;

  constructor(args: ConstantScaleArgs) {
    super(withDefaultName(args, 'constant_scale'));
    this.scale = args.scale;
    if (typeof this.scale !== 'number' || !Number.isFinite(this.scale)) {
      throw argumentError('ConstantScale', 'scale', this.scale, 'a finite number');
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => tf.mul(single(inputs), this.scale));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale };
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link StochasticDepth}. */
export interface StochasticDepthArgs extends LayerArgs {
  /** Probability of dropping the residual branch of a sample in training, in `[0, 1)`. */
  rate: number;
  /**
   * Seed of the random draws (optional): training call `k` of this layer object draws with seed `seed + k`, so the
   * masks are repeatable yet differ from call to call (a fixed seed on a TF.js random op would draw the same mask
   * at every step). Omitted: TF.js' unseeded draws (seeded from `Math.random`).
   */
  seed?: number;
}

/**
 * Stochastic depth (Huang et al. 2016) applied to a residual branch: in training, each sample's branch is
 * kept with probability `1 - rate` and then divided by `1 - rate` (so its expectation is unchanged), otherwise
 * replaced by zeros; at inference (`training` false or absent) the layer is the identity.
 */
export class StochasticDepth extends tfl.layers.Layer {
  static readonly className = 'batchfree>StochasticDepth';
  readonly rate: number;
  readonly seed?: number;
  private calls = 0;

  constructor(args: StochasticDepthArgs) {
    super(withDefaultName(args, 'stochastic_depth'));
    this.rate = args.rate;
    this.seed = optional(args.seed);
    if (typeof this.rate !== 'number' || !(this.rate >= 0 && this.rate < 1)) {
      throw argumentError('StochasticDepth', 'rate', this.rate, 'a probability in [0, 1)');
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = single(inputs);
    if (kwargs.training !== true || this.rate === 0) return tf.clone(x);
    return tf.tidy(() => {
      const keep = 1 - this.rate;
      const maskShape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
      // floor(keep + U[0,1)) is 1 with probability `keep`.
      const mask = tf.floor(tf.add(tf.randomUniform(maskShape, 0, 1, 'float32', this.seed === undefined ? undefined : this.seed + this.calls++), keep));
      return tf.mul(x, tf.div(mask, keep));
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), rate: this.rate };
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Grouped 2-D convolution, NHWC, kernel `[kh, kw, in / groups, out]` (TF.js has no grouped convolution op,
 * METHODS.md §4): the input channels and the output units are split into `groups` equal, consecutive parts and
 * part `g` of the output is `conv2d(x[..., part g], kernel[..., part g])`; the parts are concatenated.
 * `groups = 1` is the ordinary convolution, `groups = in = out` a depthwise one.
 */
export function groupedConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, groups: number,
  strides: number | [number, number] = 1, padding: 'same' | 'valid' = 'same'): tf.Tensor4D {
  const op = 'groupedConv2d';
  assertInteger(op, 'groups', groups);
  if (!(x instanceof tf.Tensor) || x.rank !== 4) throw argumentError(op, 'x', x instanceof tf.Tensor ? `shape [${x.shape.join(',')}]` : typeof x, 'a rank-4 NHWC tensor');
  if (!(kernel instanceof tf.Tensor) || kernel.rank !== 4) throw argumentError(op, 'kernel', kernel instanceof tf.Tensor ? `shape [${kernel.shape.join(',')}]` : typeof kernel, 'a rank-4 kernel [kh,kw,in/groups,out]');
  const cin = x.shape[3], out = kernel.shape[3];
  if (cin % groups !== 0 || out % groups !== 0) {
    throw argumentError(op, 'groups', groups, `a divisor of both the input channels ${cin} and the output channels ${out}`);
  }
  if (kernel.shape[2] !== cin / groups) {
    throw argumentError(op, 'kernel', `shape [${kernel.shape.join(',')}]`, `input depth ${cin / groups} (= ${cin} channels / ${groups} groups)`);
  }
  return tf.tidy(() => {
    if (groups === 1) return tf.conv2d(x, kernel, strides, padding);
    const xs = tf.split(x, groups, 3) as tf.Tensor4D[];
    const ks = tf.split(kernel, groups, 3) as tf.Tensor4D[];
    return tf.concat4d(xs.map((xg, g) => tf.conv2d(xg, ks[g], strides, padding)), 3);
  });
}

/** Options of {@link GroupedConv2D}. */
export interface GroupedConv2DArgs extends LayerArgs {
  /** Number of output channels (a multiple of `groups`). */
  filters: number;
  /** Square kernel size; default 3. */
  kernelSize?: number;
  /** Stride; default 1. */
  strides?: number;
  /** Padding; default `'same'`. */
  padding?: 'same' | 'valid';
  /** Number of groups (divides both the input and the output channels); give this or `groupWidth`. Default 1. */
  groups?: number;
  /** Channels per group (NFNet's "group width"); `groups = in / groupWidth`. Overrides `groups`. */
  groupWidth?: number;
  /** Add a bias `[filters]` (init 0); default true. */
  useBias?: boolean;
  /**
   * `'scaled'` (default): Scaled Weight Standardization with a learnable `gain` `[filters]` init 1
   * (METHODS.md §4, the NF form, fanIn = kh·kw·in/groups); `'none'`: the raw kernel.
   */
  standardization?: 'scaled' | 'none';
  /** Seed of the kernel's He-normal initialisation (optional). */
  seed?: number;
}

/**
 * A grouped convolution layer (NHWC) built on {@link groupedConv2d}, by default with Scaled Weight
 * Standardization and gain as every convolution of an NFNet (METHODS.md §4). Weights: `kernel`
 * `[k, k, in / groups, filters]` (He-normal), `gain` `[filters]` (init 1, only when standardised),
 * `bias` `[filters]` (init 0, when `useBias`).
 */
export class GroupedConv2D extends tfl.layers.Layer {
  static readonly className = 'batchfree>GroupedConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';
  readonly groupsArg?: number;
  readonly groupWidth?: number;
  readonly useBias: boolean;
  readonly standardization: 'scaled' | 'none';
  readonly seed?: number;
  /** Resolved at build time from the input depth. */
  groups = 1;
  private kernel?: tfl.LayerVariable;
  private gain?: tfl.LayerVariable;
  private bias?: tfl.LayerVariable;

  constructor(args: GroupedConv2DArgs) {
    super(withDefaultName(args, 'grouped_conv2d'));
    const op = 'GroupedConv2D';
    this.filters = args.filters;
    this.kernelSize = args.kernelSize ?? 3;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 'same';
    this.groupsArg = optional(args.groups);
    this.groupWidth = optional(args.groupWidth);
    this.useBias = args.useBias ?? true;
    this.standardization = args.standardization ?? 'scaled';
    this.seed = optional(args.seed);
    assertInteger(op, 'filters', this.filters);
    assertInteger(op, 'kernelSize', this.kernelSize);
    assertInteger(op, 'strides', this.strides);
    assertOneOf(op, 'padding', this.padding, ['same', 'valid'] as const);
    assertOneOf(op, 'standardization', this.standardization, ['scaled', 'none'] as const);
    if (this.groupsArg !== undefined) assertInteger(op, 'groups', this.groupsArg);
    if (this.groupWidth !== undefined) assertInteger(op, 'groupWidth', this.groupWidth);
  }

  override build(inputShape: Shape | Shape[]): void {
    const op = 'GroupedConv2D';
    const shape = singleShape(inputShape);
    const cin = shape[3];
    if (shape.length !== 4 || cin == null) throw argumentError(op, 'inputShape', shape, 'a rank-4 NHWC shape with a known channel count');
    if (this.groupWidth !== undefined) {
      if (cin % this.groupWidth !== 0) throw argumentError(op, 'groupWidth', this.groupWidth, `a divisor of the input channels ${cin}`);
      this.groups = cin / this.groupWidth;
    } else {
      this.groups = this.groupsArg ?? 1;
    }
    if (cin % this.groups !== 0 || this.filters % this.groups !== 0) {
      throw argumentError(op, 'groups', this.groups, `a divisor of both the input channels ${cin} and filters ${this.filters}`);
    }
    const k = this.kernelSize;
    this.kernel = this.addWeight('kernel', [k, k, cin / this.groups, this.filters], 'float32',
      tfl.initializers.heNormal({ seed: this.seed }));
    if (this.standardization === 'scaled') this.gain = this.addWeight('gain', [this.filters], 'float32', tfl.initializers.ones());
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      let kernel = this.kernel!.read() as tf.Tensor4D;
      if (this.standardization === 'scaled') kernel = scaledStandardize(kernel, { gain: this.gain!.read() as tf.Tensor1D }) as tf.Tensor4D;
      const y = groupedConv2d(x, kernel, this.groups, this.strides, this.padding);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [b, h, w] = singleShape(inputShape);
    const s = this.strides, k = this.kernelSize;
    const size = (n: number | null) => n == null ? null : this.padding === 'same' ? Math.ceil(n / s) : Math.ceil((n - k + 1) / s);
    return [b, size(h), size(w), this.filters];
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(), filters: this.filters, kernelSize: this.kernelSize, strides: this.strides,
      padding: this.padding, useBias: this.useBias, standardization: this.standardization,
    };
    if (this.groupsArg !== undefined) config.groups = this.groupsArg;
    if (this.groupWidth !== undefined) config.groupWidth = this.groupWidth;
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link SqueezeExcite}. */
export interface SqueezeExciteArgs extends LayerArgs {
  /** Units of the hidden (bottleneck) dense layer; default `max(1, round(C / 2))` (NFNet's ratio 0.5). */
  hiddenUnits?: number;
  /** Multiplier of the sigmoid gate; default 2 (NFNet's `2 * sigmoid`, identity-like gate at init). */
  gateScale?: number;
  /** Seed of the dense kernels' initialisation (optional). */
  seed?: number;
}

/**
 * Squeeze-and-excitation gate (Hu et al. 2018) in NFNet's form: `s = mean_{h,w} x`, `u = relu(s W1 + b1)`,
 * `y = x * gateScale * sigmoid(u W2 + b2)` (per sample and channel; `gateScale = 2`). Weights `w1` `[C, hidden]`,
 * `b1` `[hidden]`, `w2` `[hidden, C]`, `b2` `[C]` (Glorot-uniform kernels, zero biases).
 */
export class SqueezeExcite extends tfl.layers.Layer {
  static readonly className = 'batchfree>SqueezeExcite';
  readonly hiddenUnits?: number;
  readonly gateScale: number;
  readonly seed?: number;
  private w1?: tfl.LayerVariable;
  private b1?: tfl.LayerVariable;
  private w2?: tfl.LayerVariable;
  private b2?: tfl.LayerVariable;

  constructor(args: SqueezeExciteArgs = {}) {
    super(withDefaultName(args, 'squeeze_excite'));
    this.hiddenUnits = optional(args.hiddenUnits);
    this.gateScale = args.gateScale ?? 2;
    this.seed = optional(args.seed);
    if (this.hiddenUnits !== undefined) assertInteger('SqueezeExcite', 'hiddenUnits', this.hiddenUnits);
    assertPositive('SqueezeExcite', 'gateScale', this.gateScale);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const c = shape[3];
    if (shape.length !== 4 || c == null) throw argumentError('SqueezeExcite', 'inputShape', shape, 'a rank-4 NHWC shape with a known channel count');
    const hidden = this.hiddenUnits ?? Math.max(1, Math.round(c / 2));
    const init = (k: number) => tfl.initializers.glorotUniform({ seed: this.seed === undefined ? undefined : this.seed + k });
    this.w1 = this.addWeight('w1', [c, hidden], 'float32', init(0));
    this.b1 = this.addWeight('b1', [hidden], 'float32', tfl.initializers.zeros());
    this.w2 = this.addWeight('w2', [hidden, c], 'float32', init(1));
    this.b2 = this.addWeight('b2', [c], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      const s = tf.mean(x, [1, 2]);
      const u = tf.relu(tf.add(tf.matMul(s as tf.Tensor2D, this.w1!.read() as tf.Tensor2D), this.b1!.read()));
      const gate = tf.mul(tf.sigmoid(tf.add(tf.matMul(u, this.w2!.read() as tf.Tensor2D), this.b2!.read())), this.gateScale);
      return tf.mul(x, tf.reshape(gate, [x.shape[0], 1, 1, x.shape[3]]));
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), gateScale: this.gateScale };
    if (this.hiddenUnits !== undefined) config.hiddenUnits = this.hiddenUnits;
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Expected-variance bookkeeping of a normalizer-free residual network (METHODS.md §4). Block `i` computes
 * `h_{i+1} = h_i + alpha * f_i(h_i / beta_i)` with `beta_i = sqrt(variances[i])`: the expected variance starts at 1
 * and grows by `alpha^2` per block, except after a transition block (`transitions[i]` true: its shortcut is taken
 * from the activated, scaled input, whose variance is 1), after which it is `1 + alpha^2`.
 *
 * @param transitions one flag per residual block, in order.
 * @returns `variances[i]` = expected variance of the input of block `i` (`variances[n]` that of the output of
 *   the last block) and `betas[i] = sqrt(variances[i])` for `i < n`.
 */
export function nfExpectedVariances(transitions: readonly boolean[], alpha: number): { variances: number[]; betas: number[] } {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) throw argumentError('nfExpectedVariances', 'alpha', alpha, 'a finite number >= 0');
  const variances = [1];
  for (const t of transitions) {
    const v = variances[variances.length - 1];
    variances.push((t ? 1 : v) + alpha * alpha);
  }
  return { variances, betas: variances.slice(0, transitions.length).map(Math.sqrt) };
}

for (const cls of [SkipGain, ConstantScale, StochasticDepth, GroupedConv2D, SqueezeExcite]) registerLayer(cls);
