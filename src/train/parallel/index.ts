/**
 * Node-only: data-parallel training on worker threads (see `trainer.ts`).
 * @module
 */
export { createParallelTrainer, ParallelTrainer, parallelOptimizerSpec } from './trainer.js';
export type { ParallelStepOptions, ParallelStepResult, ParallelTrainerOptions } from './trainer.js';
export { PARALLEL_BACKENDS } from './protocol.js';
export type { ParallelBackend, ParallelOptimizerSpec, WorkerTiming } from './protocol.js';
export { ABORT_BY_MAIN, Barrier, BarrierAbortedError, BarrierTimeoutError, abortBarrier, abortedBy, barrierWords, createBarrierState } from './barrier.js';
export { checksum, reduceSegment, segmentOf, shardOf } from './reduce.js';
export { siblingModule, startModuleWorker } from './spawn.js';
export { threadTimes } from './thread_time.js';
export type { ThreadTimes } from './thread_time.js';
