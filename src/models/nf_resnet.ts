/**
 * Normalizer-free pre-activation ResNet (Brock et al. 2021a, "Characterizing signal propagation to close the
 * performance gap in unnormalized ResNets"; METHODS.md §4), CIFAR-style basic blocks.
 * @module
 */
import { tfl } from '../engine.js';
import { ActivationName, assertActivationName } from '../ops/activations.js';
import { argumentError } from '../ops/validate.js';
import { ScaledActivation } from '../layers/activation.js';
import { ModelBaseOptions, SeedSequence, applyTo, stochasticDepthSeed, assertBaseOptions, assertWidths, classifier, convLayer, stagePlan } from './common.js';
import { ConstantScale, SkipGain, StochasticDepth, nfExpectedVariances } from './nf_layers.js';
import { blocksPerStage } from './resnet.js';

/** Default `alpha` of the NF residual blocks (paper). */
export const NF_DEFAULT_ALPHA = 0.2;

/** Options the two normalizer-free builders share ({@link nfResNet}, {@link nfNet}). */
export interface NFBaseOptions extends ModelBaseOptions {
  /** Must be `'none'` (or omitted): an NF network has no normalization layer. */
  norm?: string;
  /** Activation, used in its scaled (variance-preserving) form; default `'relu'` ({@link nfResNet}), `'gelu'` ({@link nfNet}, NFNet's). */
  activation?: ActivationName;
  /** Residual branch multiplier; default 0.2. */
  alpha?: number;
  /**
   * Stochastic depth: the drop rate of block `i` (0-based, of `N` blocks) is `stochasticDepth · i / N`
   * (DeepMind's schedule); default 0 (off) for {@link nfResNet}, 0.1 (F0) for {@link nfNet}.
   */
  stochasticDepth?: number;
  /** Dropout rate before the classifier; default 0 for {@link nfResNet}, 0.2 (F0) for {@link nfNet}. */
  dropout?: number;
  /** Initialise the classifier's kernel to zeros (DeepMind's NF-ResNets and NFNets do); default true. */
  zeroInitClassifier?: boolean;
}

/** Options of {@link nfResNet}. */
export interface NFResNetOptions extends NFBaseOptions {
  /** `6n + 2` as for {@link resnetV2} (`2·stages·n + 2`); default 20. */
  depth?: number;
  /** Channels of each stage; default `[16, 32, 64]`. The stem has `widths[0]`. */
  widths?: number[];
}

/** Checks the options the two NF builders share; returns `[alpha, stochasticDepth, dropout]`. @internal */
export function nfCommonOptions(op: string, o: NFBaseOptions, defaults: { activation: ActivationName; stochasticDepth: number; dropout: number }): { activation: ActivationName; alpha: number; stochasticDepth: number; dropout: number } {
  if (o.norm !== undefined && o.norm !== 'none') {
    throw argumentError(op, 'norm', o.norm, "'none': a normalizer-free network has no normalization layer (use resnetV2 or vggA for normalized models)");
  }
  const activation = o.activation ?? defaults.activation;
  assertActivationName(op, activation);
  const alpha = o.alpha ?? NF_DEFAULT_ALPHA;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) throw argumentError(op, 'alpha', alpha, 'a finite number > 0');
  const stochasticDepth = o.stochasticDepth ?? defaults.stochasticDepth;
  if (typeof stochasticDepth !== 'number' || !(stochasticDepth >= 0 && stochasticDepth < 1)) throw argumentError(op, 'stochasticDepth', stochasticDepth, 'a rate in [0, 1)');
  const dropout = o.dropout ?? defaults.dropout;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw argumentError(op, 'dropout', dropout, 'a rate in [0, 1)');
  return { activation, alpha, stochasticDepth, dropout };
}

/**
 * The input of NF block `id`: `act(h / beta)`, the block input divided by the square root of its expected variance,
 * then the scaled activation `act` (layers `${id}_in_scale` and `act`'s). @internal
 */
export function nfBlockInput(h: tfl.SymbolicTensor, id: string, beta: number, act: tfl.layers.Layer): tfl.SymbolicTensor {
  const x = applyTo(new ConstantScale({ name: `${id}_in_scale`, scale: 1 / beta }), h);
  return applyTo(act, x);
}

/**
 * The output of NF block `id`: `shortcut + alpha · skipGain · drop(r)`, with per-sample stochastic depth of rate
 * `dropRate` (none when 0; its masks drawn from `dropSeed` when given, so a seeded model trains repeatably) and a
 * {@link SkipGain} initialised to 0 (layers `${id}_drop`, `${id}_skip_gain`, `${id}_add`). @internal
 */
export function nfBlockOutput(shortcut: tfl.SymbolicTensor, r: tfl.SymbolicTensor, id: string, alpha: number, dropRate: number, dropSeed: number | undefined): tfl.SymbolicTensor {
  if (dropRate > 0) r = applyTo(new StochasticDepth({ name: `${id}_drop`, rate: dropRate, seed: dropSeed }), r);
  r = applyTo(new SkipGain({ name: `${id}_skip_gain`, alpha, initValue: 0 }), r);
  return applyTo(tfl.layers.add({ name: `${id}_add` }), [shortcut, r]);
}

/**
 * The head of the NF networks: scaled activation `act` → global average pooling → dropout (when `dropout > 0`) →
 * the classifier, zero-initialised unless `options.zeroInitClassifier` is false. @internal
 */
export function nfHead(h: tfl.SymbolicTensor, act: tfl.layers.Layer, dropout: number, options: NFBaseOptions, seed: number | undefined): tfl.SymbolicTensor {
  h = applyTo(act, h);
  h = applyTo(tfl.layers.globalAveragePooling2d({ name: 'pool' }), h);
  if (dropout > 0) h = applyTo(tfl.layers.dropout({ rate: dropout, name: 'dropout' }), h);
  return applyTo(classifier(options.numClasses, seed, options.zeroInitClassifier ?? true), h);
}

/**
 * Builds a normalizer-free pre-activation ResNet as a functional `tfl.LayersModel` (METHODS.md §4):
 *
 * `ScaledWSConv2D 3x3 (widths[0])` → for each stage (stride 1, then 2) `n` residual blocks
 * `h_{i+1} = shortcut_i + alpha · skipGain_i · f_i(x_i)`, with
 * - `x_i = act(h_i / beta_i)`: the input divided by `beta_i = sqrt(expected var(h_i))` ({@link nfExpectedVariances}:
 *   1 at the stem, `+alpha^2` per block, `1 + alpha^2` after a transition block), then the scaled activation
 *   `gamma_phi · phi` ({@link ScaledActivation}), so that `x_i` has unit variance at initialisation;
 * - `f_i(x) = conv3x3(act(conv3x3_stride(x)))`, every convolution a {@link ScaledWSConv2D} (Scaled Weight
 *   Standardization, learnable gain, bias);
 * - the shortcut: `h_i` itself, or in a transition block (stride 2 or a change of width) a 1x1 stride-s
 *   ScaledWSConv2D of the activated, scaled input `x_i` — which resets the expected variance;
 * - `skipGain_i` a learnable scalar initialised to 0 ({@link SkipGain}, SkipInit): at initialisation every block
 *   outputs its shortcut;
 * - optional per-sample stochastic depth on the branch ({@link StochasticDepth});
 *
 * → scaled activation → global average pooling → dropout → dense logits (named {@link classifierLayerName}).
 *
 * Note: the paper writes the block as `h + alpha · f(h / beta)`; DeepMind's and timm's code compute
 * `act(h) / beta` (activation first). The two agree for ReLU; for other activations the order used here keeps the
 * activation's input at unit variance, which is what its gain `gamma_phi` is computed for.
 *
 * Layer names: `stem_conv`, `s{stage}b{block}_{in_scale,act1,shortcut,conv1,act2,conv2,drop,skip_gain,add}`,
 * `final_act`, `pool`, `dropout`, `classifier`.
 *
 * @throws naming `norm` unless it is `'none'`/omitted, `depth` unless `6n + 2`, and any other invalid option.
 */
export function nfResNet(options: NFResNetOptions): tfl.LayersModel {
  const op = 'nfResNet';
  assertBaseOptions(op, options);
  const depth = options.depth ?? 20;
  const { activation, alpha, stochasticDepth, dropout } = nfCommonOptions(op, options, { activation: 'relu', stochasticDepth: 0, dropout: 0 });
  const widths = options.widths ?? [16, 32, 64];
  assertWidths(op, 'widths', widths);
  const n = blocksPerStage(op, depth, widths.length);
  const seeds = new SeedSequence(options.seed);
  const conv = (name: string, filters: number, kernelSize: number, strides = 1) =>
    convLayer('scaled-ws', { name, filters, kernelSize, strides, useBias: true, seed: seeds.take() });
  const act = (name: string) => new ScaledActivation({ name, activation });

  const plan = stagePlan(widths[0], widths, widths.map(() => n));
  const { betas } = nfExpectedVariances(plan.map((p) => p.transition), alpha);

  const input = tfl.input({ shape: options.inputShape, name: 'image' });
  let h = applyTo(conv('stem_conv', widths[0], 3), input);
  plan.forEach(({ id, width, stride, transition }, i) => {
    const x = nfBlockInput(h, id, betas[i], act(`${id}_act1`));
    const shortcut = transition ? applyTo(conv(`${id}_shortcut`, width, 1, stride), x) : h;
    let r = applyTo(conv(`${id}_conv1`, width, 3, stride), x);
    r = applyTo(act(`${id}_act2`), r);
    r = applyTo(conv(`${id}_conv2`, width, 3), r);
    h = nfBlockOutput(shortcut, r, id, alpha, (stochasticDepth * i) / plan.length, stochasticDepthSeed(options.seed, i));
  });
  const logits = nfHead(h, act('final_act'), dropout, options, seeds.take());
  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? `nf_resnet${depth}` });
}
