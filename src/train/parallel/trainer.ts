/**
 * Node-only: data-parallel training on worker threads. In Node, TF.js' `wasm` backend runs on one thread;
 * {@link createParallelTrainer} uses `workers` threads (e.g. one per core), each with its own TF.js engine and a
 * copy of the model, each computing the gradients of its shard of every batch.
 *
 * One step ({@link ParallelTrainer.step}): the main thread copies the batch into shared memory and posts a small
 * message to each worker; worker `r` computes the gradient `g_r` of the mean loss of its `n_r` images; the workers
 * average them in shared memory, `g = sum_r (n_r / B) g_r` (each worker sums one segment of the parameters, in
 * the same worker order, behind `Atomics` barriers), and every worker applies the same optimizer update to its
 * copy, so the copies stay identical (checked by a hash of the trainable weights every `checkEvery` steps).
 *
 * Equivalence: `g` is the gradient of the mean loss over the whole batch, so for batch-independent models
 * (FRN+TLU, GN, LN, Proxy Normalization, normalizer-free networks, no normalization) a step equals
 * single-thread `trainStep` up to float32 summation order (~1e-7 relative per step). BatchNorm and Batch Renorm
 * are different: each worker normalises its own shard — the papers' "images per device" (BN computed over
 * `B / workers` images, as on `workers` GPUs without synchronized BN). It equals single-thread training with BN
 * groups of `groupSize = B / workers`. Each worker also keeps its own BN moving statistics;
 * {@link ParallelTrainer.getWeights} returns their mean over the workers. Dropout and stochastic depth draw per
 * worker for its own shard (with W = 1 exactly `trainStep`'s draws; with W > 1 the same distribution, other
 * masks), so models with them equal single-thread training in distribution only. Mixup pairs images across the
 * whole batch, as `trainStep` does (each worker reads its shard's partners from the shared batch).
 *
 * Workers are started from `worker.ts` under tsx (development) or `worker.js` (compiled `dist/`).
 * @module
 */
import type { Worker } from 'node:worker_threads';
import { tf, tfl } from '../../engine.js';
import { argumentError, assertInteger, assertOneOf } from '../../ops/validate.js';
import { readValues } from '../../kernels/backend_access.js';
import type { NamedOptimizer, OptimizerStateEntry } from '../../optim/sgd.js';
import type { TrainConfig } from '../config.js';
import { DivergenceError, layerOfVariables, type StepResult, type TrainBatch, trainableParams } from '../loop.js';
import { ABORT_BY_MAIN, abortBarrier, createBarrierState } from './barrier.js';
import { siblingModule, startModuleWorker } from './spawn.js';
import {
  type FromWorker, type InputBuffers, PARALLEL_BACKENDS, type ParallelBackend, type ParallelOptimizerSpec, type StateData,
  type StepReply, type TensorData, type ToWorker, type WorkerInit, type WorkerTiming,
} from './protocol.js';

const OP = 'createParallelTrainer';

/**
 * The optimizer spec of a training run's settings: what `runTraining` builds in-process (SGD with the run's
 * momentum, Nesterov flag, weight decay and decay filter; AGC with the classifier excluded when `agc > 0`).
 */
export function parallelOptimizerSpec(config: Pick<TrainConfig, 'momentum' | 'nesterov' | 'weightDecay' | 'decayFilter' | 'agc'>): ParallelOptimizerSpec {
  const spec: ParallelOptimizerSpec = {
    sgd: { momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay, decayFilter: config.decayFilter },
  };
  if (config.agc > 0) spec.agc = { clipping: config.agc };
  return spec;
}

/** Options of {@link createParallelTrainer}. */
export interface ParallelTrainerOptions {
  /** Number of worker threads W ≥ 1 (one per core; `os.availableParallelism()`). Each batch must hold ≥ W images. */
  workers: number;
  /**
   * The model to train: every worker rebuilds it from `model.toJSON()` and starts from its current weights. The
   * model itself is not changed by training: copy the result back with {@link ParallelTrainer.syncTo}. Its layers
   * must be registered for serialization (batchfree's and TF.js' are; see `imports` for others).
   */
  model: tfl.LayersModel;
  /** The optimizer each worker builds; default plain `new SGD()` (momentum 0.9, no weight decay). */
  optimizer?: ParallelOptimizerSpec;
  /** Optimizer state to start from (`optimizer.getState()` of a restored checkpoint), named by `model`'s parameters. */
  optimizerState?: readonly OptimizerStateEntry[];
  /** Backend of every worker (all use the same); default `'auto'` (wasm with batchfree's kernels, else cpu). */
  backend?: ParallelBackend;
  /** Number of classes K; default: the width of the model's output. */
  numClasses?: number;
  /** The run's seed: dropout and mixup draws as in `trainStep` (omitted: unseeded dropout, mixup from seed 0). */
  seed?: number;
  /** Label smoothing in [0, 1); default 0. */
  labelSmoothing?: number;
  /** Mixup alpha; default 0 (off). */
  mixup?: number;
  /** Compare the workers' weight hashes every N steps (0 = never); default 10. A mismatch is an error. */
  checkEvery?: number;
  /**
   * How long a worker waits at a barrier for the others, and the main thread for the workers' step replies (plus
   * a second), before the step fails, ms; default 300000. Failures that throw are reported at once: this bounds
   * hangs only. (Other requests, such as {@link ParallelTrainer.getWeights}, wait at least a minute.)
   */
  timeoutMs?: number;
  /**
   * Modules every worker imports before rebuilding the model: where custom layer classes not in batchfree register
   * themselves for serialization (`file:` URLs, or paths relative to the current directory). Default none.
   */
  imports?: string[];
  /** Time allowed for the workers to start (load TF.js, the backend, the model), ms; default 120000. */
  startTimeoutMs?: number;
}

/** Options of {@link ParallelTrainer.step} (as `trainStep`'s per-step settings). */
export interface ParallelStepOptions {
  /** Learning rate of this step. */
  lr: number;
  /** The global step (0-based): selects the step's random draws with the seed. */
  step: number;
  /** Stop (before the update) when the loss is above this value; default no limit. */
  lossLimit?: number;
}

/** What a parallel step measured. */
export interface ParallelStepResult extends StepResult {
  /** Where each worker's time went. */
  timings: WorkerTiming[];
}

/** A request in flight: the replies expected from some workers. */
interface Pending {
  expect: Set<number>;
  replies: Map<number, FromWorker>;
  resolve(replies: FromWorker[]): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
}

function tensorData(t: tf.Tensor): TensorData {
  const dtype = t.dtype === 'int32' || t.dtype === 'bool' ? t.dtype : 'float32';
  const v = t.dataSync();
  const values = dtype === 'int32' ? Int32Array.from(v) : dtype === 'bool' ? Uint8Array.from(v) : Float32Array.from(v);
  return { values, shape: t.shape.slice(), dtype };
}

function inputBuffers(capacity: number, px: number): InputBuffers {
  return {
    x: new Float32Array(new SharedArrayBuffer(4 * capacity * px)),
    y: new Int32Array(new SharedArrayBuffer(4 * capacity)),
  };
}

/**
 * Starts `options.workers` training workers for `options.model` and resolves when all are ready (each has loaded
 * its backend and the model, and they hold identical weights).
 * @throws naming the option when an option is invalid; with the worker's message when a worker fails to start.
 */
export async function createParallelTrainer(options: ParallelTrainerOptions): Promise<ParallelTrainer> {
  if (options === null || typeof options !== 'object') throw argumentError(OP, 'options', options, 'an options object');
  const {
    workers, model, optimizer = {}, optimizerState = [], backend = 'auto', seed, labelSmoothing = 0, mixup = 0,
    checkEvery = 10, timeoutMs = 300_000, imports = [], startTimeoutMs = 120_000,
  } = options;
  assertInteger(OP, 'workers', workers, 1);
  if (!(model instanceof tfl.LayersModel)) throw argumentError(OP, 'model', typeof model, 'a tf.LayersModel');
  if (model.inputs.length !== 1 || model.inputs[0].shape.length !== 4 || model.inputs[0].shape.slice(1).some((d) => d === null)) {
    throw argumentError(OP, 'model', `inputs ${JSON.stringify(model.inputs.map((i) => i.shape))}`, 'one image input of shape [null, H, W, C]');
  }
  const imageShape = model.inputs[0].shape.slice(1) as [number, number, number];
  const outShape = model.outputs[0].shape;
  const numClasses = options.numClasses ?? (outShape.length === 2 && outShape[1] !== null ? outShape[1] : NaN);
  assertInteger(OP, 'numClasses', numClasses, 2);
  assertOneOf(OP, 'backend', backend, PARALLEL_BACKENDS);
  if (seed !== undefined) assertInteger(OP, 'seed', seed, 0);
  if (!(typeof labelSmoothing === 'number' && labelSmoothing >= 0 && labelSmoothing < 1)) throw argumentError(OP, 'labelSmoothing', labelSmoothing, 'a number in [0, 1)');
  if (!(typeof mixup === 'number' && Number.isFinite(mixup) && mixup >= 0)) throw argumentError(OP, 'mixup', mixup, 'an alpha >= 0 (0 = off)');
  assertInteger(OP, 'checkEvery', checkEvery, 0);
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0)) throw argumentError(OP, 'timeoutMs', timeoutMs, 'a number of milliseconds > 0');
  if (!(typeof startTimeoutMs === 'number' && startTimeoutMs > 0)) throw argumentError(OP, 'startTimeoutMs', startTimeoutMs, 'a number of milliseconds > 0');
  if (!Array.isArray(imports) || imports.some((m) => typeof m !== 'string' || m === '')) throw argumentError(OP, 'imports', imports, 'a list of module paths or URLs');
  if (optimizer === null || typeof optimizer !== 'object') throw argumentError(OP, 'optimizer', optimizer, 'an optimizer spec { sgd?, agc? }');
  if (optimizer.sgd?.decayFilter !== undefined && typeof optimizer.sgd.decayFilter !== 'string') {
    throw argumentError(OP, 'optimizer.sgd.decayFilter', typeof optimizer.sgd.decayFilter, "a preset name ('all', 'kernels-only', 'no-gains-biases'): predicates cannot cross to worker threads");
  }

  const params = trainableParams(model);
  const paramNames = params.map((p) => p.name);
  const sizes = params.map((p) => p.variable.size);
  const P = sizes.reduce((a, b) => a + b, 0);
  if (P === 0) throw argumentError(OP, 'model', 'no trainable weights', 'a model with trainable weights');
  const state = stateToData(optimizerState, paramNames);
  const importUrls = imports.map((m) => (/^[a-z]+:/i.test(m) ? m : new URL(m, `file://${process.cwd()}/`).href));

  const shared = {
    barrier: createBarrierState(workers),
    grads: new Float32Array(new SharedArrayBuffer(4 * workers * P)),
    mean: new Float32Array(new SharedArrayBuffer(4 * P)),
    stats: new Float64Array(new SharedArrayBuffer(8 * 2 * workers)),
  };
  const px = imageShape[0] * imageShape[1] * imageShape[2];
  const input = inputBuffers(Math.max(workers, 1), px);
  const base = {
    workers, topology: model.toJSON(null, false) as object, weights: model.getWeights().map(tensorData), optimizerState: state,
    optimizer, imports: importUrls, backend, imageShape, numClasses, labelSmoothing, mixup, seed, timeoutMs, shared, input,
    prod: tf.env().getBool('PROD'),
  };
  const threads: Worker[] = [];
  const entry = siblingModule(import.meta.url, 'worker');
  for (let rank = 0; rank < workers; rank++) threads.push(startModuleWorker(entry, { workerData: { ...base, rank } satisfies WorkerInit }));
  const trainer = new ParallelTrainer(threads, shared.barrier, input, {
    model, paramNames, sizes, imageShape, checkEvery, timeoutMs, layerNames: layerOfVariables(model),
  });
  try {
    await trainer.waitReady(startTimeoutMs);
  } catch (e) {
    await trainer.dispose();
    throw e;
  }
  return trainer;
}

/** Optimizer state entries named by the main model's parameters → index-keyed data. */
function stateToData(state: readonly OptimizerStateEntry[], paramNames: string[]): StateData[] {
  if (!Array.isArray(state)) throw argumentError(OP, 'optimizerState', typeof state, 'a list of { name, tensor } (optimizer.getState())');
  const index = new Map(paramNames.map((n, i) => [n, i]));
  return state.map(({ name, tensor }) => {
    let best: string | undefined;
    for (const p of paramNames) if (name.startsWith(`${p}/`) && (best === undefined || p.length > best.length)) best = p;
    if (best === undefined) throw argumentError(OP, 'optimizerState', name, `entries named '<parameter>/<slot>' for parameters of the model (${paramNames.slice(0, 4).join(', ')}, ...)`);
    return { ...tensorData(tensor), param: index.get(best) as number, slot: name.slice(best.length + 1) };
  });
}

/** What the trainer knows of the main thread's model. */
interface ModelInfo {
  model: tfl.LayersModel;
  paramNames: string[];
  sizes: number[];
  imageShape: [number, number, number];
  checkEvery: number;
  timeoutMs: number;
  layerNames: Map<string, string>;
}

/**
 * A running set of training workers (see the module description). Create it with {@link createParallelTrainer};
 * call {@link step} once per batch (not concurrently), {@link syncTo} before evaluating or saving, and
 * {@link dispose} at the end (also after an error).
 *
 * After a worker failure, a timeout or a checksum mismatch the trainer is unusable (every call rejects with the
 * original cause); a {@link DivergenceError} is not a failure: the workers are still identical.
 */
export class ParallelTrainer {
  /** Backend the workers run on. */
  backend = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;
  private disposed = false;
  private busy = false;
  private stepsDone = 0;
  private readyWaiter: Pending | undefined;

  /** @internal use {@link createParallelTrainer}. */
  constructor(private readonly threads: Worker[], private readonly barrier: Int32Array, private input: InputBuffers, private readonly info: ModelInfo) {
    threads.forEach((w, rank) => {
      w.on('message', (m: FromWorker) => this.onMessage(m));
      w.on('error', (e: Error) => this.fail(new Error(`parallel training: worker ${rank} crashed: ${e.message}`)));
      w.on('exit', (code) => {
        if (!this.disposed) this.fail(new Error(`parallel training: worker ${rank} exited unexpectedly (code ${code})`));
      });
    });
  }

  /** Number of worker threads. */
  get workers(): number {
    return this.threads.length;
  }

  /** @internal Resolves when every worker reported `ready` with the same parameters and weights. */
  async waitReady(timeoutMs: number): Promise<void> {
    const replies = await new Promise<FromWorker[]>((resolve, reject) => {
      const p: Pending = { expect: new Set(this.threads.map((_w, r) => r)), replies: new Map(), resolve, reject };
      p.timer = setTimeout(() => this.fail(new Error(`parallel training: the workers did not start within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiter = p;
      if (this.failure !== undefined) reject(this.failure);
    });
    const ready = replies as Extract<FromWorker, { type: 'ready' }>[];
    const backends = [...new Set(ready.map((r) => r.backend))];
    if (backends.length > 1) throw this.fail(new Error(`parallel training: the workers run on different backends (${ready.map((r) => `${r.rank}: ${r.backend}`).join(', ')})`));
    this.backend = backends[0];
    for (const r of ready) {
      if (r.paramSizes.length !== this.info.sizes.length || r.paramSizes.some((s, i) => s !== this.info.sizes[i])) {
        throw this.fail(new Error(`parallel training: worker ${r.rank} rebuilt a model with other trainable weights (sizes ${r.paramSizes.join(',')}; main: ${this.info.sizes.join(',')})`));
      }
    }
    if (new Set(ready.map((r) => r.checksum)).size > 1) throw this.fail(new Error('parallel training: the workers started from different weights'));
  }

  /**
   * One training step on `batch` (`x` `[B,H,W,C]`, `y` `[B]` int labels, B ≥ workers): the batch is split into
   * contiguous shards of `floor(B/W)` or `ceil(B/W)` images, gradients are averaged weighted by shard size, and
   * every worker applies the same update. The batch's tensors are read, not disposed.
   * @returns the batch loss (before the update), the correct count and size of the whole batch, and timings.
   * @throws {DivergenceError} as `trainStep` (non-finite loss or gradient, loss above `lossLimit`: nothing
   *   applied; non-finite weight after the update), naming the layer of the first non-finite mean gradient or
   *   weight (a non-finite loss with finite gradients names no layer: the activations are not probed); an Error
   *   with the worker's message when a worker fails, times out or exits.
   */
  async step(batch: TrainBatch, options: ParallelStepOptions): Promise<ParallelStepResult> {
    const op = 'ParallelTrainer.step';
    this.assertUsable(op);
    if (this.busy) throw new Error(`${op}: a step is already running: await each step before the next`);
    const { lr, step, lossLimit } = options;
    if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0)) throw argumentError(op, 'lr', lr, 'a finite number >= 0');
    assertInteger(op, 'step', step, 0);
    if (lossLimit !== undefined && typeof lossLimit !== 'number') throw argumentError(op, 'lossLimit', lossLimit, 'a number');
    if (batch === null || typeof batch !== 'object' || !(batch.x instanceof tf.Tensor) || !(batch.y instanceof tf.Tensor)) {
      throw argumentError(op, 'batch', batch, '{ x: [B,H,W,C] images, y: [B] labels }');
    }
    const [H, W, C] = this.info.imageShape;
    const B = batch.x.shape[0];
    if (batch.x.rank !== 4 || batch.x.shape[1] !== H || batch.x.shape[2] !== W || batch.x.shape[3] !== C) {
      throw argumentError(op, 'batch.x', `shape [${batch.x.shape.join(',')}]`, `[B,${H},${W},${C}] (the model's input)`);
    }
    if (B < this.workers) throw argumentError(op, 'batch.x', `a batch of ${B}`, `at least one image per worker (${this.workers})`);
    if (batch.y.rank !== 1 || batch.y.shape[0] !== B) throw argumentError(op, 'batch.y', `shape [${batch.y.shape.join(',')}]`, `[${B}] class indices`);

    this.busy = true;
    try {
      const px = H * W * C;
      if (this.input.y.length < B) {
        this.input = inputBuffers(B, px);
        for (const w of this.threads) w.postMessage({ type: 'input', input: this.input } satisfies ToWorker);
      }
      this.input.x.set(readValues(batch.x)); // no copy out of the wasm heap first
      this.input.y.set(readValues(batch.y));
      this.stepsDone++;
      const checksum = this.info.checkEvery > 0 && this.stepsDone % this.info.checkEvery === 0;
      const replies = (await this.request((id) => ({ type: 'step', id, step, lr, batchSize: B, lossLimit, checksum }), this.info.timeoutMs + 1000)) as StepReply[];
      replies.sort((a, b) => a.rank - b.rank);
      const first = replies[0];
      const correct = replies.reduce((s, r) => s + r.correct, 0);
      const size = replies.reduce((s, r) => s + r.size, 0);
      if (first.outcome !== 'applied') {
        const variable = first.param === undefined ? undefined : this.info.paramNames[first.param];
        const layer = variable === undefined ? undefined : this.info.layerNames.get(variable);
        const detail = first.outcome === 'explosion' ? ` (${(lossLimit as number).toPrecision(4)})` : '';
        throw new DivergenceError(step, first.outcome, first.loss, layer, variable, detail);
      }
      if (checksum) this.compareChecksums(replies.map((r) => r.checksum as number), step);
      return { loss: first.loss, correct, size, timings: replies.map((r) => r.timing) };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Hashes of each worker's trainable weights (equal when the copies are bit-identical).
   */
  async checksums(): Promise<number[]> {
    this.assertUsable('ParallelTrainer.checksums');
    const replies = await this.request((id) => ({ type: 'checksum', id }), this.requestTimeoutMs);
    return replies.map((r) => (r as Extract<FromWorker, { type: 'checksum' }>).checksum);
  }

  /**
   * The current values of `model.weights` (trainable and not, in order): the trainable ones from worker 0 (all
   * workers hold the same), the others (BN moving statistics: each worker's own) averaged over the workers
   * (int and bool ones from worker 0). The caller disposes the tensors.
   */
  async getWeights(): Promise<tf.Tensor[]> {
    this.assertUsable('ParallelTrainer.getWeights');
    const replies = (await this.request((id) => ({ type: 'getWeights', id }), this.requestTimeoutMs)) as Extract<FromWorker, { type: 'weights' }>[];
    replies.sort((a, b) => a.rank - b.rank);
    const weights = this.info.model.weights;
    return replies[0].weights.map((w0, i) => {
      if (weights[i]?.trainable !== false || w0.dtype !== 'float32' || replies.length === 1) return tf.tensor(w0.values, w0.shape, w0.dtype);
      const out = new Float32Array(w0.values.length);
      for (let j = 0; j < out.length; j++) {
        let s = 0;
        for (const r of replies) s += r.weights[i].values[j];
        out[j] = s / replies.length;
      }
      return tf.tensor(out, w0.shape, 'float32');
    });
  }

  /**
   * The optimizer state (worker 0's; all are equal), named `<parameter>/<slot>` by the parameters of `model`
   * (default: the model the trainer was created from; another model of the same architecture may have other
   * variable names). The caller disposes the tensors.
   */
  async getOptimizerState(model?: tfl.LayersModel): Promise<OptimizerStateEntry[]> {
    this.assertUsable('ParallelTrainer.getOptimizerState');
    const names = model === undefined ? this.info.paramNames : this.namesOf('ParallelTrainer.getOptimizerState', model);
    const [reply] = (await this.request((id) => ({ type: 'getState', id }), this.requestTimeoutMs, [0])) as Extract<FromWorker, { type: 'state' }>[];
    return reply.state.map((s) => ({ name: `${names[s.param]}/${s.slot}`, tensor: tf.tensor(s.values, s.shape, s.dtype) }));
  }

  /**
   * Replaces every worker's optimizer state by `state` (as `optimizer.getState()` gives), named by the parameters
   * of `model` (default: the model the trainer was created from).
   */
  async setOptimizerState(state: readonly OptimizerStateEntry[], model?: tfl.LayersModel): Promise<void> {
    const op = 'ParallelTrainer.setOptimizerState';
    this.assertUsable(op);
    const data = stateToData(state, model === undefined ? this.info.paramNames : this.namesOf(op, model));
    await this.request((id) => ({ type: 'setState', id, state: data }), this.requestTimeoutMs);
  }

  /**
   * Copies the trained weights into `model` (the main thread's copy, e.g. the one given to
   * {@link createParallelTrainer}) and, when given, the optimizer state into `optimizer`, so that the main thread
   * can evaluate and checkpoint with the usual functions.
   */
  async syncTo(model: tfl.LayersModel, optimizer?: NamedOptimizer): Promise<void> {
    this.namesOf('ParallelTrainer.syncTo', model);
    const weights = await this.getWeights();
    try {
      model.setWeights(weights);
    } finally {
      tf.dispose(weights);
    }
    if (optimizer !== undefined) {
      const state = await this.getOptimizerState(model);
      try {
        optimizer.setState(state);
      } finally {
        state.forEach((s) => s.tensor.dispose());
      }
    }
  }

  /** Stops the workers (also after a failure; pending calls reject). Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    abortBarrier(this.barrier, ABORT_BY_MAIN);
    this.rejectAll(this.failure ?? new Error('parallel training: the trainer was disposed'));
    await Promise.all(this.threads.map((w) => w.terminate()));
  }

  /** The trainable parameter names of `model`, checked to match the trainer's model. */
  private namesOf(op: string, model: tfl.LayersModel): string[] {
    if (!(model instanceof tfl.LayersModel)) throw argumentError(op, 'model', typeof model, 'a tf.LayersModel');
    const params = trainableParams(model);
    if (params.length !== this.info.sizes.length || params.some((p, i) => p.variable.size !== this.info.sizes[i])) {
      throw argumentError(op, 'model', `trainable sizes ${params.map((p) => p.variable.size).join(',')}`, `the trainer's model's (${this.info.sizes.join(',')})`);
    }
    return params.map((p) => p.name);
  }

  /** Time allowed for a reply outside a step (no barrier involved: a generous bound). */
  private get requestTimeoutMs(): number {
    return Math.max(this.info.timeoutMs, 60_000);
  }

  private assertUsable(op: string): void {
    if (this.disposed) throw new Error(`${op}: the parallel trainer was disposed`);
    if (this.failure !== undefined) throw new Error(`${op}: the parallel trainer is unusable after an earlier failure (dispose it): ${this.failure.message}`);
  }

  private compareChecksums(sums: number[], step: number): void {
    if (new Set(sums).size > 1) {
      throw this.fail(new Error(`parallel training: the workers' weights differ after step ${step} (hashes ${sums.map((s) => s.toString(16)).join(', ')})`));
    }
  }

  /** Posts a request to `ranks` (default all) and resolves with their replies, or rejects with the root cause. */
  private request(make: (id: number) => ToWorker, timeoutMs: number, ranks?: number[]): Promise<FromWorker[]> {
    const id = this.nextId++;
    const targets = ranks ?? this.threads.map((_w, r) => r);
    return new Promise<FromWorker[]>((resolve, reject) => {
      const p: Pending = { expect: new Set(targets), replies: new Map(), resolve, reject };
      p.timer = setTimeout(() => this.fail(new Error(`parallel training: no reply from worker(s) ${[...p.expect].filter((r) => !p.replies.has(r)).join(', ')} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, p);
      const msg = make(id);
      for (const r of targets) this.threads[r].postMessage(msg);
    });
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ready') {
      this.collect(this.readyWaiter, m.rank, m, () => {
        this.readyWaiter = undefined;
      });
      return;
    }
    if (m.type === 'error') {
      const where = m.id === 'init' ? 'failed to start' : 'failed';
      if (m.abortedBy === undefined) {
        this.fail(new Error(`parallel training: worker ${m.rank} ${where}: ${m.message}`));
        return;
      }
      // Stopped because another thread failed: give the culprit's own report a moment to arrive first.
      const p = this.pending.get(m.id as number);
      if (p !== undefined && p.grace === undefined) {
        p.grace = setTimeout(() => this.fail(new Error(`parallel training: worker ${m.rank} stopped: ${m.message}`)), 2000);
      }
      return;
    }
    const p = this.pending.get(m.id);
    this.collect(p, m.rank, m, () => this.pending.delete(m.id));
  }

  private collect(p: Pending | undefined, rank: number, m: FromWorker, done: () => void): void {
    if (p === undefined) return;
    p.replies.set(rank, m);
    if ([...p.expect].every((r) => p.replies.has(r))) {
      clearTimeout(p.timer);
      clearTimeout(p.grace);
      done();
      p.resolve([...p.expect].map((r) => p.replies.get(r) as FromWorker));
    }
  }

  /** Records the first failure, stops the barrier, rejects everything pending; returns the failure. */
  private fail(e: Error): Error {
    this.failure ??= e;
    abortBarrier(this.barrier, ABORT_BY_MAIN);
    this.rejectAll(this.failure);
    return this.failure;
  }

  private rejectAll(e: Error): void {
    const all = [...this.pending.values()];
    if (this.readyWaiter !== undefined) all.push(this.readyWaiter);
    this.pending.clear();
    this.readyWaiter = undefined;
    for (const p of all) {
      clearTimeout(p.timer);
      clearTimeout(p.grace);
      p.reject(e);
    }
  }
}
