/**
 * What the main thread and the training workers exchange: the serializable specifications (optimizer), the
 * worker's start-up data with the shared buffers, and the small control messages. Big arrays never travel in
 * per-step messages: batches and gradients live in `SharedArrayBuffer`s.
 * @module
 */
import type { DecayPreset } from '../../optim/weight_decay.js';
import type { WeightDecayMode } from '../../optim/sgd.js';

/** Backends a worker can run on: `'auto'` = `init()`'s choice (wasm with batchfree's kernels in Node, else cpu). */
export const PARALLEL_BACKENDS = ['auto', 'wasm', 'cpu'] as const;
/** One of {@link PARALLEL_BACKENDS}. */
export type ParallelBackend = (typeof PARALLEL_BACKENDS)[number];

/**
 * The optimizer every worker builds, as plain data (it crosses the thread boundary, so no predicates):
 * {@link SGD} with these options, wrapped in `withAdaptiveGradientClipping` when `agc` is given.
 */
export interface ParallelOptimizerSpec {
  /** `SGD` options (defaults: `SGD`'s own); the decay filter must be a preset name. */
  sgd?: {
    momentum?: number;
    nesterov?: boolean;
    weightDecay?: number;
    weightDecayMode?: WeightDecayMode;
    decayFilter?: DecayPreset;
  };
  /** Adaptive gradient clipping; omitted = off. */
  agc?: {
    /** AGC's lambda; default: AGC's own (0.01). */
    clipping?: number;
    /** Floor of the parameter norm; default: AGC's own. */
    eps?: number;
    /**
     * Layers whose parameters are not clipped. Default: `['classifier']` when the model has a layer of that name
     * (batchfree's models name their final dense layer so), else none. A layer not in the model is an error.
     */
    excludeLayers?: string[];
  };
}

/** A weight or state tensor as plain data. */
export interface TensorData {
  values: Float32Array | Int32Array | Uint8Array;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

/** An optimizer state tensor, keyed by the index of its parameter in the trainable parameters and its slot. */
export interface StateData extends TensorData {
  param: number;
  slot: string;
}

/** Shared buffers of one trainer (typed arrays over `SharedArrayBuffer`s; structured clone shares them). */
export interface SharedBuffers {
  /** Barrier state (`barrier.ts`). */
  barrier: Int32Array;
  /** `workers` blocks of `P` values: each worker's flat gradient of its shard. */
  grads: Float32Array;
  /** `P` values: the weighted mean gradient (each worker writes its segment, all read the whole). */
  mean: Float32Array;
  /** Per worker: `[shard loss, first non-finite index of its mean segment or -1]`. */
  stats: Float64Array;
}

/** Batch input buffers (replaced by a bigger pair when a batch does not fit). */
export interface InputBuffers {
  /** Images, NHWC, `capacity * H * W * C` values. */
  x: Float32Array;
  /** Labels, `capacity` values. */
  y: Int32Array;
}

/** The `workerData` of a training worker. */
export interface WorkerInit {
  rank: number;
  workers: number;
  /** `model.toJSON(null, false)` of the main thread's model. */
  topology: object;
  /** Initial values of `model.weights` (all, in order). */
  weights: TensorData[];
  /** Optimizer state to start from (e.g. restored from a checkpoint). */
  optimizerState: StateData[];
  optimizer: ParallelOptimizerSpec;
  /** Module URLs to import before the model is built (custom layer classes). */
  imports: string[];
  backend: ParallelBackend;
  /** `[H, W, C]` of the input images. */
  imageShape: [number, number, number];
  numClasses: number;
  labelSmoothing: number;
  mixup: number;
  seed?: number;
  timeoutMs: number;
  /** The main thread's TF.js `PROD` flag (silences TF.js' console banners in the workers too). */
  prod: boolean;
  shared: SharedBuffers;
  input: InputBuffers;
}

/** Main → worker. */
export type ToWorker =
  | { type: 'step'; id: number; step: number; lr: number; batchSize: number; lossLimit?: number; checksum: boolean }
  | { type: 'input'; input: InputBuffers }
  | { type: 'getWeights'; id: number }
  | { type: 'getState'; id: number }
  | { type: 'setState'; id: number; state: StateData[] }
  | { type: 'checksum'; id: number };

/** How a step ended on the workers (identical on every worker: decided from shared values). */
export type StepOutcome = 'applied' | 'loss' | 'gradient' | 'explosion' | 'weight';

/** Where a worker's step time went, ms. */
export interface WorkerTiming {
  /** Forward + backward of its shard and the copy of its gradients to shared memory. */
  computeMs: number;
  /** Waiting at the barriers for the other workers. */
  waitMs: number;
  /** Its segment of the gradient mean. */
  reduceMs: number;
  /** Optimizer update, weight check (and checksum). */
  updateMs: number;
  /** CPU time the worker's thread used during the step (Linux only: `/proc/thread-self/schedstat`). */
  cpuMs?: number;
  /** Time the thread was runnable but not running (other threads or processes had the cores; Linux only). */
  runnableWaitMs?: number;
}

/** A worker's report of one step. */
export interface StepReply {
  type: 'step';
  id: number;
  rank: number;
  outcome: StepOutcome;
  /** The batch's loss (weighted mean of the shard losses; the same on every worker). */
  loss: number;
  /** Correct predictions in this worker's shard. */
  correct: number;
  /** Images in this worker's shard. */
  size: number;
  /** Index of the parameter at fault (gradient or weight outcomes), when known. */
  param?: number;
  /** Hash of the trainable weights after the step, when asked for. */
  checksum?: number;
  timing: WorkerTiming;
}

/** Worker → main. */
export type FromWorker =
  | { type: 'ready'; rank: number; backend: string; paramNames: string[]; paramSizes: number[]; weightCount: number; checksum: number }
  | StepReply
  | { type: 'weights'; id: number; rank: number; weights: TensorData[] }
  | { type: 'state'; id: number; rank: number; state: StateData[] }
  | { type: 'checksum'; id: number; rank: number; checksum: number }
  | { type: 'done'; id: number; rank: number }
  | {
    type: 'error'; id: number | 'init'; rank: number; message: string; stack?: string;
    /** Set when this worker only stopped because another thread (this rank; -1 = main) aborted the step. */
    abortedBy?: number;
  };
