/**
 * VGG-A (Simonyan & Zisserman 2015, configuration A: 8 convolutions and 3 fully connected layers), scaled down for
 * 28×28 / 32×32 inputs, with the fully connected layers normalised too: the network of the FRN paper's Table 4
 * (METHODS.md §5), where the unnormalised model diverges at a high learning rate and BN is unstable.
 * @module
 */
import { tfl } from '../engine.js';
import { argumentError, assertInteger } from '../ops/validate.js';
import { NORM_NAMES, NormName, applyLayers } from '../layers/factory.js';
import { NormModelOptions, SeedSequence, applyTo, assertBaseOptions, classifier, convLayer, normActivationFactory } from './common.js';
import { assertNorm } from './resnet.js';

/** VGG-A's convolution widths, stage by stage (a 2x2 max pooling ends each stage). */
export const VGG_A_STAGES: readonly (readonly number[])[] = [[64], [128], [256, 256], [512, 512], [512, 512]];

/**
 * The norms {@link vggA} accepts: every name of {@link NORM_NAMES} except `'in'` and `'in+pn'`. Instance
 * normalization of a dense layer `[B, C]` normalises each unit alone (one value per statistic), so its output is
 * the constant `beta` whatever the input: the FC layers would carry no information.
 */
export const VGG_NORMS: readonly NormName[] = NORM_NAMES.filter((n) => n !== 'in' && n !== 'in+pn');

/** Options of {@link vggA}. */
export interface VggAOptions extends NormModelOptions {
  /** The normalization-activation after every convolution and every hidden dense layer, one of {@link VGG_NORMS}. */
  norm: NormName;
  /** Factor on VGG-A's widths (64 … 512); default 1/8 (8 … 64 channels). Each width is `max(1, round(w·m))`. */
  widthMultiplier?: number;
  /** Units of each hidden fully connected layer (VGG: 4096); default 128. */
  denseUnits?: number;
  /** Number of hidden fully connected layers before the classifier (VGG: 2); default 2. */
  denseLayers?: number;
  /** Dropout rate after each hidden dense layer's activation (VGG: 0.5); default 0. */
  dropout?: number;
}

/**
 * Builds a small VGG-A as a functional `tfl.LayersModel`:
 * five stages of 3x3 convolutions (`VGG_A_STAGES` × `widthMultiplier`), each conv followed by `normAct`, each
 * stage ended by a 2x2/2 max pooling with `'same'` padding (so any input of at least 1×1 works: 32 → 1, 28 → 1,
 * 8 → 1) → flatten → `denseLayers` × (dense → `normAct` → dropout) → dense logits (named {@link classifierLayerName}).
 *
 * The dense layers are normalised with the same norm as the convolutions, on `[B, units]` activations: FRN there
 * learns its epsilon (the FRN layer does so automatically for dense inputs and 1x1 maps, paper §3.1); BN/BRN
 * use batch statistics per unit; GN/LN/EvoNorm/GFRN/LFRN group the units as they group channels; the PN variants
 * normalise then apply the proxy-normalized activation. Layers feeding a norm have no bias (except `'none'`).
 *
 * Layer names: `conv{s}_{i}` and `conv{s}_{i}_{norm,act,...}`, `pool{s}`, `flatten`, `fc{j}`, `fc{j}_...`,
 * `dropout{j}`, `classifier`.
 *
 * @throws naming `norm` for `'in'` / `'in+pn'` (see {@link VGG_NORMS}) or an unknown name, and any other invalid option.
 */
export function vggA(options: VggAOptions): tfl.LayersModel {
  const op = 'vggA';
  assertBaseOptions(op, options);
  assertNorm(op, options.norm, VGG_NORMS, " (instance normalization is undefined on the dense layers: one value per statistic)");
  const m = options.widthMultiplier ?? 1 / 8;
  if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) throw argumentError(op, 'widthMultiplier', m, 'a finite number > 0');
  const denseUnits = options.denseUnits ?? 128;
  assertInteger(op, 'denseUnits', denseUnits);
  const denseLayers = options.denseLayers ?? 2;
  assertInteger(op, 'denseLayers', denseLayers, 0);
  const dropout = options.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw argumentError(op, 'dropout', dropout, 'a rate in [0, 1)');

  const norm = options.norm;
  const seeds = new SeedSequence(options.seed);
  const useBias = norm === 'none';
  const normAct = normActivationFactory(options);

  const input = tfl.input({ shape: options.inputShape, name: 'image' });
  let h: tfl.SymbolicTensor = input;
  VGG_A_STAGES.forEach((stage, s) => {
    stage.forEach((w, i) => {
      const name = `conv${s + 1}_${i + 1}`;
      const filters = Math.max(1, Math.round(w * m));
      h = applyTo(convLayer('plain', { name, filters, kernelSize: 3, useBias, seed: seeds.take() }), h);
      h = applyLayers(normAct(name, filters), h);
    });
    h = applyTo(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `pool${s + 1}` }), h);
  });
  h = applyTo(tfl.layers.flatten({ name: 'flatten' }), h);
  for (let j = 1; j <= denseLayers; j++) {
    const name = `fc${j}`;
    h = applyTo(tfl.layers.dense({ units: denseUnits, useBias, name, kernelInitializer: tfl.initializers.heNormal({ seed: seeds.take() }) }), h);
    h = applyLayers(normAct(name, denseUnits), h);
    if (dropout > 0) h = applyTo(tfl.layers.dropout({ rate: dropout, name: `dropout${j}` }), h);
  }
  const logits = applyTo(classifier(options.numClasses, seeds.take()), h);
  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? `vgg_a_${norm.replace('+', '_')}` });
}
