/**
 * batchfree's `tf.layers` classes (each registered for `model.save` / `tfl.loadLayersModel` under
 * `batchfree>ClassName` as soon as this module is imported), the normalization-activation factory, and the
 * browser-safe in-memory model store.
 * @module
 */
export { ActivationLayer, ScaledActivation } from './activation.js';
export type { ActivationLayerArgs } from './activation.js';
export { AffineNormLayer } from './affine_norm.js';
export type { AffineNormArgs } from './affine_norm.js';
export { BatchNormalization, BatchRenormalization } from './batch_norm.js';
export type { BatchNormalizationArgs, BatchRenormalizationArgs } from './batch_norm.js';
export { CLASS_PREFIX } from './common.js';
export type { LayerArgs, LayerInput } from './common.js';
export { EvoNormS0 } from './evo_norm.js';
export type { EvoNormS0Args } from './evo_norm.js';
export { NORM_NAMES, applyLayers, createNormActivation } from './factory.js';
export type { NormActivationOptions, NormName } from './factory.js';
export { FilterResponseNormalization, TLU, TLU_VARIANTS } from './filter_response_norm.js';
export type { FilterResponseNormalizationArgs, TLUArgs, TLUVariant } from './filter_response_norm.js';
export { GroupNormalization, GroupResponseNormalization, InstanceNormalization, LayerNormalizationHWC, LayerResponseNormalization } from './group_norm.js';
export type { GroupNormalizationArgs, GroupResponseNormalizationArgs, ResponseNormalizationArgs } from './group_norm.js';
export { ProxyNormActivation } from './proxy_norm.js';
export type { ProxyNormActivationArgs } from './proxy_norm.js';
export { Conv2D, KERNEL_INITIALIZERS, dilateKernel } from './conv.js';
export type { Conv2DArgs, KernelInitializerName } from './conv.js';
export { ScaledWSConv2D, WSConv2D } from './ws_conv.js';
export type { ScaledWSConv2DArgs, WSConv2DArgs } from './ws_conv.js';
export { MemoryModelStore } from '../io/memory.js';
