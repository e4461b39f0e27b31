/**
 * A small NFNet-F-style network for 28×28 / 32×32 inputs (Brock et al. 2021b, "High-performance large-scale image
 * recognition without normalization"; METHODS.md §4).
 * @module
 */
import { tfl } from '../engine.js';
import { argumentError, assertInteger, assertOneOf } from '../ops/validate.js';
import { ScaledActivation } from '../layers/activation.js';
import { SeedSequence, applyTo, assertBaseOptions, assertWidths, convLayer, stagePlan, stochasticDepthSeed } from './common.js';
import { GroupedConv2D, SqueezeExcite, nfExpectedVariances } from './nf_layers.js';
import { NFBaseOptions, nfBlockInput, nfBlockOutput, nfCommonOptions, nfHead } from './nf_resnet.js';

/** The predefined sizes of {@link nfNet}. */
export type NFNetVariant = 'tiny' | 'small';
/** The accepted {@link NFNetVariant}s. */
export const NFNET_VARIANTS: readonly NFNetVariant[] = ['tiny', 'small'];

/** A variant's stage layout. */
export interface NFNetArchitecture {
  /** Blocks per stage. */
  depths: number[];
  /** Output channels of each stage. */
  widths: number[];
  /** Channels per group of the grouped 3x3 convolutions. */
  groupWidth: number;
  /** Channels of the stem convolution. */
  stemWidth: number;
}

/**
 * The variants' layouts. NFNet-F0 is depths (1, 2, 6, 3), widths (256, 512, 1536, 1536), group width 128, for
 * 192–256 px ImageNet images; these keep its block design at CIFAR/MNIST scale:
 * - `tiny`: depths (1, 1, 1), widths (32, 64, 128), group width 8, stem 16 (~0.1 M parameters with 10 classes);
 * - `small`: depths (1, 2, 3), widths (64, 128, 256), group width 16, stem 32.
 */
export const NFNET_ARCHITECTURES: Readonly<Record<NFNetVariant, Readonly<NFNetArchitecture>>> = {
  tiny: { depths: [1, 1, 1], widths: [32, 64, 128], groupWidth: 8, stemWidth: 16 },
  small: { depths: [1, 2, 3], widths: [64, 128, 256], groupWidth: 16, stemWidth: 32 },
};

/** Options of {@link nfNet}. */
export interface NFNetOptions extends NFBaseOptions {
  /** Predefined layout; default `'tiny'`. `depths`, `widths`, `groupWidth`, `stemWidth` override its fields. */
  variant?: NFNetVariant;
  /** Blocks per stage (first stage stride 1, the others stride 2). */
  depths?: number[];
  /** Output channels of each stage (same length as `depths`). */
  widths?: number[];
  /** Channels per group of the grouped 3x3 convolutions; must divide every stage's bottleneck width. */
  groupWidth?: number;
  /** Channels of the stem convolution. */
  stemWidth?: number;
  /** Bottleneck width = `expansion · width` (NFNet: 0.5); default 0.5. */
  expansion?: number;
  /** Width of the final 1x1 convolution = `finalConvMultiplier · widths[last]` (NFNet: 2); default 2. */
  finalConvMultiplier?: number;
  /** Squeeze-excite hidden units = `max(1, round(seRatio · width))` (NFNet: 0.5); default 0.5. */
  seRatio?: number;
}

/**
 * Builds a small NFNet as a functional `tfl.LayersModel`:
 *
 * `ScaledWSConv2D 3x3 (stemWidth)` → stages of NFNet-F blocks → `ScaledWSConv2D 1x1 (finalConvMultiplier ·
 * last width)` → scaled activation → global average pooling → dropout → dense logits (named
 * {@link classifierLayerName}). Block `i`, with `x = act(h / beta_i)` (see {@link nfResNet} for `beta_i` and the
 * order of scaling and activation), bottleneck width `m = expansion · width`:
 *
 * `f(x) = SE(conv1x1_width(act(gconv3x3_m(act(gconv3x3_m,stride(act(conv1x1_m(x))))))))`,
 * `h_{i+1} = shortcut + alpha · skipGain · stochasticDepth(f(x))`,
 *
 * where `gconv` is a {@link GroupedConv2D} with `m / groupWidth` groups and Scaled WS, every other convolution a
 * {@link ScaledWSConv2D}, `SE` the `2·sigmoid` squeeze-excite gate ({@link SqueezeExcite}), `skipGain` init 0, and
 * the shortcut is `h` or, in a transition block (first of a stage), `conv1x1(avgPool2x2(x))` when strided or
 * `conv1x1(x)` — the activated, scaled input, which resets the expected variance.
 *
 * Layer names: `stem_conv`, `s{stage}b{block}_{in_scale,act0,pool,shortcut,conv0,act1,conv1,act2,conv1b,act3,
 * conv2,se,drop,skip_gain,add}`, `final_conv`, `final_act`, `pool`, `dropout`, `classifier`.
 *
 * @throws naming `norm` unless `'none'`/omitted, `variant` when unknown, `groupWidth` when it does not divide a
 *   bottleneck width, and any other invalid option.
 */
export function nfNet(options: NFNetOptions): tfl.LayersModel {
  const op = 'nfNet';
  assertBaseOptions(op, options);
  const { activation, alpha, stochasticDepth, dropout } = nfCommonOptions(op, options, { activation: 'gelu', stochasticDepth: 0.1, dropout: 0.2 });
  const variant = options.variant ?? 'tiny';
  assertOneOf(op, 'variant', variant, NFNET_VARIANTS);
  const arch = NFNET_ARCHITECTURES[variant];
  const depths = options.depths ?? arch.depths;
  const widths = options.widths ?? arch.widths;
  const groupWidth = options.groupWidth ?? arch.groupWidth;
  const stemWidth = options.stemWidth ?? arch.stemWidth;
  assertWidths(op, 'depths', depths);
  assertWidths(op, 'widths', widths, depths.length);
  assertInteger(op, 'groupWidth', groupWidth);
  assertInteger(op, 'stemWidth', stemWidth);
  const positive = (name: string, v: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw argumentError(op, name, v, 'a finite number > 0');
    return v;
  };
  const expansion = positive('expansion', options.expansion ?? 0.5);
  const finalMult = positive('finalConvMultiplier', options.finalConvMultiplier ?? 2);
  const seRatio = positive('seRatio', options.seRatio ?? 0.5);
  const mids = widths.map((w) => Math.max(1, Math.round(w * expansion)));
  mids.forEach((m) => {
    if (m % groupWidth !== 0) throw argumentError(op, 'groupWidth', groupWidth, `a divisor of every bottleneck width (expansion · width = ${mids.join(', ')})`);
  });

  const seeds = new SeedSequence(options.seed);
  const conv = (name: string, filters: number, kernelSize: number, strides = 1) =>
    convLayer('scaled-ws', { name, filters, kernelSize, strides, useBias: true, seed: seeds.take() });
  const act = (name: string) => new ScaledActivation({ name, activation });

  const plan = stagePlan(stemWidth, widths, depths);
  const { betas } = nfExpectedVariances(plan.map((p) => p.transition), alpha);

  const input = tfl.input({ shape: options.inputShape, name: 'image' });
  let h = applyTo(conv('stem_conv', stemWidth, 3), input);
  plan.forEach(({ id, stage, width, stride, transition }, i) => {
    const mid = mids[stage];
    const x = nfBlockInput(h, id, betas[i], act(`${id}_act0`));
    let shortcut = h;
    if (transition) {
      shortcut = stride > 1 ? applyTo(tfl.layers.averagePooling2d({ poolSize: stride, strides: stride, padding: 'same', name: `${id}_pool` }), x) : x;
      shortcut = applyTo(conv(`${id}_shortcut`, width, 1), shortcut);
    }
    let r = applyTo(conv(`${id}_conv0`, mid, 1), x);
    r = applyTo(act(`${id}_act1`), r);
    r = applyTo(new GroupedConv2D({ name: `${id}_conv1`, filters: mid, kernelSize: 3, strides: stride, groupWidth, seed: seeds.take() }), r);
    r = applyTo(act(`${id}_act2`), r);
    r = applyTo(new GroupedConv2D({ name: `${id}_conv1b`, filters: mid, kernelSize: 3, groupWidth, seed: seeds.take() }), r);
    r = applyTo(act(`${id}_act3`), r);
    r = applyTo(conv(`${id}_conv2`, width, 1), r);
    r = applyTo(new SqueezeExcite({ name: `${id}_se`, hiddenUnits: Math.max(1, Math.round(seRatio * width)), seed: seeds.take() }), r);
    h = nfBlockOutput(shortcut, r, id, alpha, (stochasticDepth * i) / plan.length, stochasticDepthSeed(options.seed, i));
  });
  h = applyTo(conv('final_conv', Math.max(1, Math.round(finalMult * widths[widths.length - 1])), 1), h);
  const logits = nfHead(h, act('final_act'), dropout, options, seeds.take());
  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? `nfnet_${variant}` });
}
