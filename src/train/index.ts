/**
 * The browser-safe part of training: losses, the training step with divergence checks, evaluation, the run
 * configuration and the counter-based seeding. The run driver, checkpoints and metrics files are Node-only
 * (`batchfree/node`).
 * @module
 */
export { smoothedTargets, softmaxCrossEntropy, mixup, countCorrect, sampleBeta } from './losses.js';
export {
  DivergenceError, trainableParams, layerOfVariables, trainStep, firstNonFiniteWeight, firstNonFiniteActivation, evaluate,
} from './loop.js';
export type { DivergenceKind, Trainable, TrainBatch, TrainStepOptions, StepResult, EvaluateOptions, Evaluation } from './loop.js';
export {
  SCHEDULE_NAMES, WARMUP_SHAPES, AUGMENT_NAMES, BACKEND_NAMES, DECAY_FILTER_NAMES, DEFAULT_TRAIN_CONFIG, OPTIONAL_SETTINGS,
  RESUMABLE_SETTINGS, resolveTrainConfig, configDifferences,
} from './config.js';
export type { TrainConfig, ScheduleName } from './config.js';
export { TRAIN_STREAM, streamSeed, streamRng, withSeededMathRandom } from './random.js';
