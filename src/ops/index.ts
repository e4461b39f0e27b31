/**
 * batchfree's functional ops (`import { ops } from 'batchfree'`): pure, differentiable functions of `tf.Tensor`s in
 * NHWC layout, one method family per module, each citing the equation it implements (METHODS.md).
 * @module
 */
export { filterResponseNorm, filterResponseNormTlu, tlu, prelu, affineTlu, FRN_DEFAULT_EPSILON, FRN_LEARNED_EPSILON_INIT } from './filter_response_norm.js';
export type { FilterResponseNormOptions, FilterResponseNormTluOptions } from './filter_response_norm.js';
export {
  batchNorm, batchNormTraining, batchNormInference, batchRenormTraining, batchRenormClipSchedule, BN_DEFAULT_EPSILON,
} from './batch_norm.js';
export type {
  BatchNormOptions, BatchNormTrainingResult, BatchNormInferenceOptions, BatchRenormOptions, BatchRenormTrainingResult,
  BatchRenormClipScheduleOptions,
} from './batch_norm.js';
export {
  groupNorm, layerNorm, instanceNorm, groupResponseNorm, layerResponseNorm, defaultGroups, GN_DEFAULT_EPSILON, GN_DEFAULT_GROUPS,
} from './group_norm.js';
export type { GroupNormOptions, LayerNormOptions, GroupResponseNormOptions, LayerResponseNormOptions } from './group_norm.js';
export { evoNormS0, EVONORM_DEFAULT_EPSILON } from './evo_norm.js';
export type { EvoNormS0Options } from './evo_norm.js';
export {
  proxyNormActivation, proxyStatistics, proxySamples, inverseNormalCdf, PROXY_NORM_DEFAULT_EPSILON, PROXY_NORM_DEFAULT_SAMPLES,
} from './proxy_norm.js';
export type { ProxyNormOptions, ProxyStatisticsOptions, ProxyStatistics, ProxyParameters } from './proxy_norm.js';
export { activate, scaledActivation, scaledActivationGain, ACTIVATION_NAMES } from './activations.js';
export type { ActivationName } from './activations.js';
export { scaledStandardize, weightStandardize, SCALED_WS_DEFAULT_EPSILON, WS_DEFAULT_EPSILON } from './weight_standardization.js';
export type { ScaledStandardizeOptions, WeightStandardizeOptions } from './weight_standardization.js';
export { adaptiveGradientClip, unitwiseNorm, AGC_DEFAULT_CLIPPING, AGC_DEFAULT_EPSILON } from './agc.js';
export type { AdaptiveGradientClipOptions } from './agc.js';
