/**
 * The model registry: build any batchfree model by name, and know which normalizations each accepts.
 * @module
 */
import { tfl } from '../engine.js';
import { argumentError, assertInteger, assertOneOf } from '../ops/validate.js';
import { NORM_NAMES, NormName } from '../layers/factory.js';
import { NFNetOptions, nfNet } from './nfnet.js';
import { NFResNetOptions, nfResNet } from './nf_resnet.js';
import { ResNetV2Options, resnetV2 } from './resnet.js';
import { VGG_NORMS, VggAOptions, vggA } from './vgg.js';

/** The model names {@link buildModel} accepts. */
export const MODEL_NAMES = ['resnet', 'vgg', 'nf-resnet', 'nfnet'] as const;
/** One of {@link MODEL_NAMES}. */
export type ModelName = typeof MODEL_NAMES[number];

/** The options of each model, by name. */
export interface ModelOptionsByName {
  resnet: ResNetV2Options;
  vgg: VggAOptions;
  'nf-resnet': NFResNetOptions;
  nfnet: NFNetOptions;
}

/**
 * The `norm` values each model accepts:
 * - `resnet`: every name of {@link NORM_NAMES} (`'none'` = an unnormalized ResNet with biases);
 * - `vgg`: all but `'in'` and `'in+pn'` (instance normalization of a dense layer leaves one value per statistic);
 * - `nf-resnet`, `nfnet`: only `'none'` (they are normalizer-free by construction; omitting `norm` means `'none'`).
 */
export const MODEL_NORMS: Readonly<Record<ModelName, readonly NormName[]>> = {
  resnet: NORM_NAMES,
  vgg: VGG_NORMS,
  'nf-resnet': ['none'],
  nfnet: ['none'],
};

/** Whether model `model` accepts `norm` (see {@link MODEL_NORMS}). */
export function supportsNorm(model: ModelName, norm: string): boolean {
  return (MODEL_NORMS[model] as readonly string[] | undefined)?.includes(norm) ?? false;
}

/**
 * Builds model `name` with `options` (each builder documents its options): `'resnet'` → {@link resnetV2},
 * `'vgg'` → {@link vggA}, `'nf-resnet'` → {@link nfResNet}, `'nfnet'` → {@link nfNet}.
 * Every model's final dense layer is named {@link classifierLayerName}.
 *
 * @throws naming `name` when unknown; naming `norm` when the model does not accept it ({@link MODEL_NORMS}), e.g.
 *   an NF model with a norm other than `'none'`, or VGG with instance normalization; the builders check the rest.
 */
export function buildModel<N extends ModelName>(name: N, options: ModelOptionsByName[N]): tfl.LayersModel {
  const op = 'buildModel';
  assertOneOf(op, 'name', name, MODEL_NAMES);
  if (options === null || typeof options !== 'object') throw argumentError(op, 'options', options, 'an options object');
  const norm = (options as { norm?: string }).norm ?? (name === 'nf-resnet' || name === 'nfnet' ? 'none' : undefined);
  if (norm === undefined || !supportsNorm(name, norm)) {
    const why = name === 'vgg' && (norm === 'in' || norm === 'in+pn') ? ' (instance normalization is undefined on the dense layers of VGG)'
      : name.startsWith('nf') ? ` (${name} is normalizer-free)` : '';
    throw argumentError(op, 'norm', norm, `one of ${MODEL_NORMS[name].map((n) => `'${n}'`).join(', ')} for model '${name}'${why}`);
  }
  switch (name) {
    case 'resnet': return resnetV2(options as ResNetV2Options);
    case 'vgg': return vggA(options as VggAOptions);
    case 'nf-resnet': return nfResNet(options as NFResNetOptions);
    case 'nfnet': return nfNet(options as NFNetOptions);
  }
  throw argumentError(op, 'name', name, MODEL_NAMES.join(', '));
}

/**
 * Checks that a training batch of `batchSize` images suits a model's normalization: with `'bn'` / `'brn'`, the
 * batch must be a multiple of `groupSize` (when set), and for `'vgg'`, whose dense layers are normalised, every
 * normalization group must hold at least 2 images (one image gives one value per statistic at a dense layer).
 * For the training loop, which knows the batch size; the models do not.
 *
 * @throws naming `batchSize` (or `groupSize`) when they do not fit.
 */
export function assertBatchCompatible(model: ModelName, options: { norm?: string; groupSize?: number }, batchSize: number): void {
  const op = 'assertBatchCompatible';
  assertOneOf(op, 'model', model, MODEL_NAMES);
  assertInteger(op, 'batchSize', batchSize);
  if (options.norm !== 'bn' && options.norm !== 'brn') return;
  const group = options.groupSize ?? batchSize;
  assertInteger(op, 'groupSize', group);
  if (batchSize % group !== 0) throw argumentError(op, 'batchSize', batchSize, `a multiple of groupSize ${group} (norm '${options.norm}' normalises groups of ${group} images)`);
  if (model === 'vgg' && group < 2) {
    throw argumentError(op, options.groupSize === undefined ? 'batchSize' : 'groupSize', group, `at least 2 images per normalization group for norm '${options.norm}' on the dense layers of 'vgg'`);
  }
}
