/**
 * Pre-activation ResNet (He et al. 2016, "Identity Mappings in Deep Residual Networks", v2), CIFAR-style, with a
 * pluggable normalization-activation: the network of the FRN and PN papers' small-scale experiments
 * (PN's CIFAR-10 ResNet-20, METHODS.md §5).
 * @module
 */
import { tfl } from '../engine.js';
import { argumentError } from '../ops/validate.js';
import { NORM_NAMES, NormName, applyLayers } from '../layers/factory.js';
import { NormModelOptions, SeedSequence, applyTo, assertBaseOptions, assertWidths, classifier, convLayer, normActivationFactory, stagePlan } from './common.js';

/** Options of {@link resnetV2}. */
export interface ResNetV2Options extends NormModelOptions {
  /**
   * Number of weighted layers, `2·S·n + 2` for `S` stages of `n` basic blocks (two 3x3 convolutions each), plus the
   * stem convolution and the classifier: with the default three stages, `6n + 2` (8, 14, 20, 32, 44, 56, 110, ...).
   * Default 20 (ResNet-20, the PN paper's CIFAR-10 network).
   */
  depth?: number;
  /** Channels of each stage; default `[16, 32, 64]` (He et al.'s CIFAR ResNets). The stem has `widths[0]`. */
  widths?: number[];
  /** The normalization-activation after every convolution (pre-activation order), one of {@link NORM_NAMES}. */
  norm: NormName;
  /** Standardize the convolution kernels (Weight Standardization, {@link WSConv2D}; e.g. the PN paper's LN+WS); default false. */
  weightStandardization?: boolean;
}

/**
 * The depths {@link resnetV2} accepts for `stages` stages: `2·stages·n + 2`, n ≥ 1. @internal
 */
export function blocksPerStage(op: string, depth: number, stages: number): number {
  const n = (depth - 2) / (2 * stages);
  if (!Number.isInteger(depth) || !Number.isInteger(n) || n < 1) {
    const examples = [1, 2, 3, 5, 7, 9].map((k) => 2 * stages * k + 2).join(', ');
    throw argumentError(op, 'depth', depth, `${2 * stages}n+2 for ${stages} stages of n basic blocks (${examples}, ...)`);
  }
  return n;
}

/** Checks a norm name against a list. @internal */
export function assertNorm(op: string, norm: string, allowed: readonly string[], why = ''): asserts norm is NormName {
  if (!allowed.includes(norm)) {
    throw argumentError(op, 'norm', norm, `one of ${allowed.map((n) => `'${n}'`).join(', ')}${why}`);
  }
}

/**
 * Builds a pre-activation ResNet (v2), CIFAR-style, as a functional `tfl.LayersModel`:
 *
 * `conv3x3(widths[0])` → for each stage `s` (stride 1, then 2), `n` basic blocks
 * `h + conv3x3(normAct(conv3x3_stride(normAct(h))))`, where the first block of a stage that changes the stride or
 * the width takes its shortcut through a `1x1` convolution (stride 2 at stage transitions) of the pre-activated
 * input `normAct(h)` (He et al. v2) → final `normAct` → global average pooling → dense logits (named
 * {@link classifierLayerName}).
 *
 * `normAct` is `createNormActivation(norm, ...)`: e.g. BN → ReLU, FRN → TLU, GN → ProxyNormActivation. With the
 * Proxy Normalization names (`'gn+pn'`, `'ln+pn'`, `'in+pn'`) the final activation before the pooling has its PN
 * scaling disabled, as in the PN paper. Convolutions have no bias, except with `norm: 'none'`.
 *
 * Layer names: `stem_conv`, `s{stage}b{block}_{pre,conv1,mid,conv2,shortcut,add}` (1-based), `final`, `pool`,
 * `classifier`.
 *
 * @throws naming `depth` when it is not `6n + 2` (`2·stages·n + 2`), `norm` when unknown, and the other options
 *   when invalid.
 */
export function resnetV2(options: ResNetV2Options): tfl.LayersModel {
  const op = 'resnetV2';
  assertBaseOptions(op, options);
  const depth = options.depth ?? 20;
  const widths = options.widths ?? [16, 32, 64];
  assertWidths(op, 'widths', widths);
  const n = blocksPerStage(op, depth, widths.length);
  assertNorm(op, options.norm, NORM_NAMES);
  const seeds = new SeedSequence(options.seed);
  const norm = options.norm;
  const kind = options.weightStandardization === true ? 'ws' : 'plain';
  const useBias = norm === 'none';
  const normAct = normActivationFactory(options);
  const conv = (name: string, filters: number, kernelSize: number, strides = 1) =>
    convLayer(kind, { name, filters, kernelSize, strides, useBias, seed: seeds.take() });

  const input = tfl.input({ shape: options.inputShape, name: 'image' });
  let h = applyTo(conv('stem_conv', widths[0], 3), input);
  for (const { id, inWidth, width, stride, transition } of stagePlan(widths[0], widths, widths.map(() => n))) {
    const pre = applyLayers(normAct(`${id}_pre`, inWidth), h);
    const shortcut = transition ? applyTo(conv(`${id}_shortcut`, width, 1, stride), pre) : h;
    let r = applyTo(conv(`${id}_conv1`, width, 3, stride), pre);
    r = applyLayers(normAct(`${id}_mid`, width), r);
    r = applyTo(conv(`${id}_conv2`, width, 3), r);
    h = applyTo(tfl.layers.add({ name: `${id}_add` }), [shortcut, r]);
  }
  h = applyLayers(normAct('final', widths[widths.length - 1], false), h);
  h = applyTo(tfl.layers.globalAveragePooling2d({ name: 'pool' }), h);
  const logits = applyTo(classifier(options.numClasses, seeds.take()), h);
  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? `resnet${depth}v2_${norm.replace('+', '_')}` });
}
