/**
 * What every batchfree model shares: the common options (`inputShape`, `numClasses`, `name`, `seed`), their checks,
 * the classifier layer's name (so that AGC can skip it, METHODS.md §4), and small functional-API helpers.
 * @module
 */
import { tf, tfl } from '../engine.js';
import { ActivationName } from '../ops/activations.js';
import { argumentError, assertInteger } from '../ops/validate.js';
import { NormName, createNormActivation } from '../layers/factory.js';
import { Conv2D } from '../layers/conv.js';
import { ScaledWSConv2D, WSConv2D } from '../layers/ws_conv.js';

/**
 * Name of the final dense layer of every batchfree model. Adaptive gradient clipping is not applied to it
 * (it hurt in the NFNet paper's ablation, METHODS.md §4): skip the weights whose name starts with
 * `${classifierLayerName}/`.
 */
export const classifierLayerName = 'classifier';

/** Options every model builder takes. */
export interface ModelBaseOptions {
  /** Input image shape `[H, W, C]` (NHWC without the batch), e.g. `[28, 28, 1]` or `[32, 32, 3]`. */
  inputShape: [number, number, number];
  /** Number of classes: the classifier outputs `[B, numClasses]` logits (no softmax). */
  numClasses: number;
  /** Name of the `tfl.LayersModel`; default the builder's name. */
  name?: string;
  /**
   * Seed of the weight initialisers (each layer gets its own seed derived from it); omitted = random.
   * Two models built with the same options and seed start from the same weights. The random layers (stochastic
   * depth, dropout) are not seeded by it: they draw from TF.js' unseeded generator (seeded from `Math.random`), so
   * that each training step gets a fresh mask.
   */
  seed?: number;
}

/** Options of the models with a pluggable normalization-activation ({@link resnetV2}, {@link vggA}). */
export interface NormModelOptions extends ModelBaseOptions {
  /** The normalization-activation after every convolution, one of `NORM_NAMES` (each builder says which). */
  norm: NormName;
  /**
   * Groups of the grouped norms (`'gn'`, `'gn+pn'`, `'gfrn'`, `'evos0'`), must divide every width; default per layer
   * {@link modelDefaultGroups}`(C)` (≤ 32 groups of ≥ 2 channels); ignored by the other norms.
   */
  groups?: number;
  /** Images per normalization group of `'bn'` / `'brn'` (the batch must be a multiple); default the whole batch; ignored by the others. */
  groupSize?: number;
  /** Activation (also Proxy Normalization's `phi`); default `'relu'`. Not used by `'frn'` (TLU), `'gfrn'`, `'lfrn'`, `'evos0'`. */
  activation?: ActivationName;
  /** Epsilon of every normalization layer; default each layer's own. */
  epsilon?: number;
  /** Moving-average momentum of `'bn'` / `'brn'`; default the layer's (0.99, Keras). */
  bnMomentum?: number;
  /** Warm-up steps of Batch Renormalization's clips (`'brn'` only); default the layer's (1000). */
  warmupSteps?: number;
}

/**
 * The normalization-activation of a model built with `options`: `normAct(name, channels, scaleProxy = true)` is
 * `createNormActivation(options.norm, ...)` with the model's settings and, unless `options.groups` is set,
 * {@link modelDefaultGroups}`(channels)` groups. `scaleProxy: false` disables Proxy Normalization's scaling
 * (the PN paper's last activation before the pooling).
 */
export function normActivationFactory(options: NormModelOptions): (name: string, channels: number, scaleProxy?: boolean) => tfl.layers.Layer[] {
  const { norm, activation, groupSize, bnMomentum: momentum, epsilon, warmupSteps } = options;
  return (name, channels, scaleProxy = true) => createNormActivation(norm, {
    name, scaleProxy, activation, groups: options.groups ?? modelDefaultGroups(channels), groupSize, momentum, epsilon, warmupSteps,
  });
}

/** One residual block of a staged network (see {@link stagePlan}). */
export interface BlockPlan {
  /** `s{stage}b{block}`, 1-based: the prefix of the block's layer names. */
  id: string;
  /** The stage, 0-based. */
  stage: number;
  /** Channels of the block's input. */
  inWidth: number;
  /** Channels of the block's output (its stage's width). */
  width: number;
  /** 2 for the first block of every stage but the first, else 1. */
  stride: number;
  /** Whether the shortcut needs a projection: the block is strided or changes the width. */
  transition: boolean;
}

/**
 * The blocks of a CIFAR-style staged network ({@link resnetV2}, {@link nfResNet}, {@link nfNet}): `depths[s]` blocks
 * of `widths[s]` output channels in stage `s`, the first block of every stage after the first with stride 2; the
 * first block's input has `inWidth` channels.
 */
export function stagePlan(inWidth: number, widths: readonly number[], depths: readonly number[]): BlockPlan[] {
  const plan: BlockPlan[] = [];
  let channels = inWidth;
  depths.forEach((depth, stage) => {
    const width = widths[stage];
    for (let b = 0; b < depth; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      plan.push({ id: `s${stage + 1}b${b + 1}`, stage, inWidth: channels, width, stride, transition: stride !== 1 || channels !== width });
      channels = width;
    }
  });
  return plan;
}

/** Checks `inputShape` and `numClasses`. */
export function assertBaseOptions(op: string, options: ModelBaseOptions): void {
  if (options === null || typeof options !== 'object') throw argumentError(op, 'options', options, 'an options object');
  const s = options.inputShape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d >= 1)) {
    throw argumentError(op, 'inputShape', s, '[H, W, C] with whole numbers >= 1');
  }
  assertInteger(op, 'numClasses', options.numClasses, 1);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw argumentError(op, 'seed', options.seed, 'a whole number');
}

/** Checks a list of stage widths (whole numbers >= 1), of length `length` when given. */
export function assertWidths(op: string, name: string, widths: readonly number[], length?: number): void {
  if (!Array.isArray(widths) || widths.length === 0 || !widths.every((w) => Number.isInteger(w) && w >= 1)) {
    throw argumentError(op, name, widths, 'a non-empty list of whole numbers >= 1');
  }
  if (length !== undefined && widths.length !== length) throw argumentError(op, name, widths, `${length} widths (one per stage)`);
}

/**
 * The number of groups the models give the grouped norms (`'gn'`, `'gn+pn'`, `'gfrn'`, `'evos0'`) when the caller
 * sets none: the largest divisor of `channels` that is at most 32 (GroupNorm's default) and at most `channels / 2`,
 * so that every group holds at least two channels. (The layers' own default, the largest divisor up to 32, turns
 * GN into InstanceNorm on the narrow layers of small models, and fails on 1x1 maps and dense layers where one
 * channel per group leaves a single value per statistic.) 1 when `channels < 4`.
 */
export function modelDefaultGroups(channels: number): number {
  for (let g = Math.min(32, Math.floor(channels / 2)); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

/** Hands out per-layer initialiser seeds derived from one model seed (`undefined` when the model has none). */
export class SeedSequence {
  private next = 0;
  constructor(private readonly seed?: number) {}
  /** A fresh seed, or `undefined` for random initialisation. */
  take(): number | undefined {
    if (this.seed === undefined) return undefined;
    return this.seed * 7919 + 1 + this.next++;
  }
}

/**
 * The seed of the stochastic-depth masks of residual block `block` (0-based) of a model built with `seed`, or
 * `undefined` for an unseeded model. Kept apart from {@link SeedSequence} so that adding stochastic depth does
 * not change the initial weights, and spaced so that block `b`'s call `k` (seed `+ k`) never meets another block's.
 */
export function stochasticDepthSeed(seed: number | undefined, block: number): number | undefined {
  return seed === undefined ? undefined : seed * 7919 + 500_000_000 + block * 1_000_003;
}

/** A layer (or anything with `apply`) applied to a symbolic tensor during model building. */
export function applyTo(layer: { apply(x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): unknown }, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor {
  return layer.apply(x) as tfl.SymbolicTensor;
}

/** The classifier: a dense layer named {@link classifierLayerName} producing logits. */
export function classifier(numClasses: number, seed: number | undefined, zeroInit = false): tfl.layers.Layer {
  return tfl.layers.dense({
    units: numClasses, name: classifierLayerName,
    kernelInitializer: zeroInit ? 'zeros' : tfl.initializers.glorotUniform({ seed }),
  });
}

/**
 * The convolutions the models use: `'plain'` = {@link Conv2D} (`tf.layers.conv2d`'s weights and initialization,
 * without the wasted input gradient of the first convolution), `'ws'` = {@link WSConv2D} (Weight
 * Standardization), `'scaled-ws'` = {@link ScaledWSConv2D} (NF networks). Always `'same'` padding, He-normal init.
 */
export type ConvKind = 'plain' | 'ws' | 'scaled-ws';

/** Options of {@link convLayer}. */
export interface ConvLayerOptions {
  filters: number;
  kernelSize: number;
  strides?: number;
  useBias: boolean;
  name: string;
  seed?: number;
}

/** A convolution layer of the given kind (see {@link ConvKind}). */
export function convLayer(kind: ConvKind, o: ConvLayerOptions): tfl.layers.Layer {
  const common = { filters: o.filters, kernelSize: o.kernelSize, strides: o.strides ?? 1, padding: 'same' as const, useBias: o.useBias, name: o.name };
  switch (kind) {
    case 'plain': return new Conv2D({ ...common, seed: o.seed });
    case 'ws': return new WSConv2D({ ...common, seed: o.seed });
    case 'scaled-ws': return new ScaledWSConv2D({ ...common, seed: o.seed });
  }
}

/** `tf.Tensor` type guard used by the tests and the training loop. @internal */
export function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}
