/**
 * batchfree: batch-independent normalization for TensorFlow.js — Filter Response Normalization + TLU, Proxy
 * Normalization, normalizer-free networks (scaled WS, AGC), and the baselines (BN with normalization groups,
 * Batch Renorm, GN, LN, IN, WS, EvoNorm-S0) — as differentiable ops, serializable `tf.layers` classes, models,
 * training utilities and the papers' diagnostics.
 *
 * This entry is browser-safe (no Node module is imported). Node-only pieces — the file-system model IO handler,
 * dataset files, the training run driver with checkpoints, worker-thread data parallelism, sweeps — are in
 * `batchfree/node`.
 *
 * ```ts
 * import { init, ops, layers, models } from 'batchfree';
 * await init();                       // fastest backend available, with batchfree's kernels
 * const y = ops.filterResponseNorm(x, { gamma, beta });
 * const model = models.buildModel('resnet', { depth: 20, norm: 'frn', inputShape: [28, 28, 1], numClasses: 10 });
 * ```
 * @module
 */
export { tf, tfl } from './engine.js';
export { init, BACKEND_CHOICES } from './init.js';
export type { InitOptions, BackendChoice } from './init.js';
export * as ops from './ops/index.js';
export * as layers from './layers/index.js';
export * as models from './models/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as train from './train/index.js';
export * as diagnostics from './diagnostics/index.js';
export * as experiments from './experiments/index.js';
