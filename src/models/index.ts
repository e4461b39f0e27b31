/**
 * batchfree's models, built as functional `tfl.LayersModel`s that save and load with `model.save` /
 * `tfl.loadLayersModel`: a pre-activation ResNet and a VGG-A with any normalization-activation, a normalizer-free
 * ResNet and a small NFNet, the registry that builds them by name, and the layers only the NF models need.
 * @module
 */
export { classifierLayerName, modelDefaultGroups } from './common.js';
export type { ConvKind, ModelBaseOptions, NormModelOptions } from './common.js';
export { resnetV2 } from './resnet.js';
export type { ResNetV2Options } from './resnet.js';
export { VGG_A_STAGES, VGG_NORMS, vggA } from './vgg.js';
export type { VggAOptions } from './vgg.js';
export { NF_DEFAULT_ALPHA, nfResNet } from './nf_resnet.js';
export type { NFResNetOptions, NFBaseOptions } from './nf_resnet.js';
export { NFNET_ARCHITECTURES, NFNET_VARIANTS, nfNet } from './nfnet.js';
export type { NFNetArchitecture, NFNetOptions, NFNetVariant } from './nfnet.js';
export { MODEL_NAMES, MODEL_NORMS, assertBatchCompatible, buildModel, supportsNorm } from './registry.js';
export type { ModelName, ModelOptionsByName } from './registry.js';
export { ConstantScale, GroupedConv2D, SkipGain, SqueezeExcite, StochasticDepth, groupedConv2d, nfExpectedVariances } from './nf_layers.js';
export type { ConstantScaleArgs, GroupedConv2DArgs, SkipGainArgs, SqueezeExciteArgs, StochasticDepthArgs } from './nf_layers.js';
