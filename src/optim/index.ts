/**
 * Optimizers, Adaptive Gradient Clipping, weight-decay filters and learning-rate schedules for training on
 * named parameters (`Map<string, tf.Variable>` or `{ name, variable }[]`) with `tf.variableGrads`' gradients.
 * @module
 */
export { SGD, WEIGHT_DECAY_MODES } from './sgd.js';
export type { NamedOptimizer, OptimizerStateEntry, SGDOptions, WeightDecayMode } from './sgd.js';
export { clipGradients, withAdaptiveGradientClipping } from './gradient_clipping.js';
export type { GradientClippingOptions } from './gradient_clipping.js';
export { DECAY_PRESETS, decayAll, decayedNames, decayExcept, decayKernelsOnly, decayNoGainsOrBiases } from './weight_decay.js';
export type { DecayFilter, DecayPreset } from './weight_decay.js';
export { leafName, namedVariables } from './params.js';
export type { NamedParams, NamedVariable, ParamMatcher, ParamPredicate } from './params.js';
export {
  constantSchedule, cosineDecay, cosineWarmup, linearWarmup, scaleByBatchSize, stepDecay, warmupThen,
} from './schedules.js';
export type {
  BatchScalingOptions, CosineDecayOptions, Schedule, StepDecayOptions, WarmupOptions, WarmupThenOptions,
} from './schedules.js';
