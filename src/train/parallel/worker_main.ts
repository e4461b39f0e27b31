/**
 * The body of a data-parallel training worker (a `node:worker_threads` thread started by `trainer.ts` on
 * `worker.ts`, which imports the caller's modules and then {@link runWorker} from here).
 *
 * At start-up it selects its own TF.js backend with batchfree's kernels (`init`), rebuilds the main thread's
 * model from its serialized topology, loads the initial weights and optimizer state it was given, and reports
 * `ready`. Each step (see `ParallelTrainer.step`):
 *
 * 1. gradients of the mean loss of its shard `[start, end)` of the batch (read from shared memory), written to
 *    its block of the shared gradient buffer; its shard loss to the shared stats;
 * 2. barrier; the weighted mean `sum_k (n_k / B) g_k` of its segment of the parameters (`reduceSegment`),
 *    with a finiteness check; barrier;
 * 3. the same decision on every worker from the shared values (non-finite loss or gradient, loss above the
 *    limit: no update), then the same optimizer update on every worker, and a check of the weights.
 *
 * Any exception aborts the barrier (the other workers stop instead of waiting) and is reported to the main thread.
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { tf, tfl } from '../../engine.js';
import '../../layers/index.js';
import '../../models/nf_layers.js';
import { init } from '../../init.js';
import { argumentError } from '../../ops/validate.js';
import { float32TensorOf, readValues } from '../../kernels/backend_access.js';
import { withAdaptiveGradientClipping } from '../../optim/gradient_clipping.js';
import type { NamedVariable } from '../../optim/params.js';
import { type NamedOptimizer, SGD } from '../../optim/sgd.js';
import { firstNonFiniteWeight, layerOfVariables, trainableParams } from '../loop.js';
import { countCorrect, sampleBeta, smoothedTargets, softmaxCrossEntropy } from '../losses.js';
import { streamRng, streamSeed, TRAIN_STREAM, withSeededMathRandom } from '../random.js';
import { abortBarrier, Barrier, BarrierAbortedError } from './barrier.js';
import type { FromWorker, InputBuffers, StateData, StepOutcome, StepReply, TensorData, ToWorker, WorkerInit, WorkerTiming } from './protocol.js';
import { checksum, reduceSegment, segmentOf, shardOf } from './reduce.js';
import { threadTimes } from './thread_time.js';

/** Stream of {@link streamSeed} giving workers 1, 2, ... their own dropout draws (worker 0 uses `trainStep`'s). */
export const RANK_STREAM = 201;
/** The layer name batchfree's models give their classifier (`classifierLayerName` of `models/common.ts`). */
const CLASSIFIER = 'classifier';

function workerPort(): NonNullable<typeof parentPort> {
  if (parentPort === null) throw new Error('batchfree parallel worker: must run in a worker thread');
  return parentPort;
}
const port = workerPort();
const post = (m: FromWorker): void => port.postMessage(m);

class TrainingWorker {
  readonly rank: number;
  readonly workers: number;
  private input: InputBuffers;
  private readonly barrier: Barrier;
  private readonly params: NamedVariable[];
  private readonly sizes: number[];
  private readonly offsets: number[];
  private readonly total: number;
  private readonly segment: { start: number; end: number };

  constructor(private readonly d: WorkerInit, private readonly model: tfl.LayersModel, private readonly optimizer: NamedOptimizer) {
    this.rank = d.rank;
    this.workers = d.workers;
    this.input = d.input;
    this.barrier = new Barrier(d.shared.barrier, d.workers, d.rank, d.timeoutMs);
    this.params = trainableParams(model);
    this.sizes = this.params.map((p) => p.variable.size);
    this.offsets = [];
    let o = 0;
    for (const s of this.sizes) {
      this.offsets.push(o);
      o += s;
    }
    this.total = o;
    if (d.shared.mean.length !== o) throw new Error(`the shared gradient buffer holds ${d.shared.mean.length} values, the model has ${o} trainable values`);
    this.segment = segmentOf(o, d.workers, d.rank);
  }

  get paramNames(): string[] {
    return this.params.map((p) => p.name);
  }

  get paramSizes(): number[] {
    return this.sizes;
  }

  handle(m: ToWorker): void {
    switch (m.type) {
      case 'input':
        this.input = m.input;
        return;
      case 'step':
        this.step(m);
        return;
      case 'getWeights':
        post({ type: 'weights', id: m.id, rank: this.rank, weights: this.model.getWeights().map(tensorData) });
        return;
      case 'getState':
        post({ type: 'state', id: m.id, rank: this.rank, state: this.getState() });
        return;
      case 'setState':
        this.setState(m.state);
        post({ type: 'done', id: m.id, rank: this.rank });
        return;
      case 'checksum':
        post({ type: 'checksum', id: m.id, rank: this.rank, checksum: this.checksum() });
        return;
    }
  }

  /** Hash of the trainable weights. */
  checksum(): number {
    return checksum(this.params.map((p) => p.variable.dataSync() as Float32Array));
  }

  private getState(): StateData[] {
    const index = new Map(this.params.map((p, i) => [p.name, i]));
    return this.optimizer.getState().map(({ name, tensor }) => {
      try {
        const { param, slot } = splitStateName(name, index);
        return { ...tensorData(tensor), param, slot };
      } finally {
        tensor.dispose();
      }
    });
  }

  setState(state: readonly StateData[]): void {
    const entries = state.map((s) => {
      const p = this.params[s.param];
      if (p === undefined) throw argumentError('ParallelTrainer', 'optimizerState', `parameter #${s.param}`, `an index < ${this.params.length}`);
      return { name: `${p.name}/${s.slot}`, tensor: tf.tensor(s.values, s.shape, s.dtype) };
    });
    try {
      this.optimizer.setState(entries);
    } finally {
      entries.forEach((e) => e.tensor.dispose());
    }
  }

  private step(m: Extract<ToWorker, { type: 'step' }>): void {
    const { d, rank, workers } = this;
    const B = m.batchSize;
    const { start, end } = shardOf(B, workers, rank);
    const n = end - start;
    const [H, W, C] = d.imageShape;
    const px = H * W * C;
    const P = this.total;
    const { grads, mean, stats } = d.shared;
    const timing: WorkerTiming = { computeMs: 0, waitMs: 0, reduceMs: 0, updateMs: 0 };
    const sched = threadTimes();
    let t = performance.now();
    const lap = (key: 'computeMs' | 'waitMs' | 'reduceMs' | 'updateMs'): void => {
      const now = performance.now();
      timing[key] += now - t;
      t = now;
    };

    // 1. Gradients of the shard (the same random draws as trainStep on worker 0).
    const alpha = d.mixup;
    const lambda = alpha > 0 ? sampleBeta(alpha, streamRng(d.seed ?? 0, TRAIN_STREAM.mixup, m.step)) : 1;
    const { x, y } = this.input;
    let correctT: tf.Scalar | undefined;
    const compute = (): { value: tf.Scalar; grads: tf.NamedTensorMap } => tf.variableGrads(() => {
      const xs = float32TensorOf(x.subarray(start * px, end * px), [n, H, W, C]);
      const ys = tf.tensor1d(y.slice(start, end), 'int32');
      let input: tf.Tensor = xs;
      let targets: tf.Tensor = smoothedTargets(ys, d.numClasses, d.labelSmoothing);
      if (lambda !== 1) {
        // Mixup pairs image i with image B-1-i of the whole batch (as `mixup` of losses.ts does): the partners of
        // [start, end) are [B-end, B-start), reversed.
        const px2 = float32TensorOf(x.subarray((B - end) * px, (B - start) * px), [n, H, W, C]);
        const py2 = smoothedTargets(tf.tensor1d(y.slice(B - end, B - start), 'int32'), d.numClasses, d.labelSmoothing);
        input = tf.add(tf.mul(xs, lambda), tf.mul(tf.reverse(px2, 0), 1 - lambda));
        targets = tf.add(tf.mul(targets, lambda), tf.mul(tf.reverse(py2, 0), 1 - lambda));
      }
      const out = this.model.apply(input, { training: true });
      const logits = (Array.isArray(out) ? out[0] : out) as tf.Tensor;
      correctT = tf.keep(countCorrect(logits, ys));
      return softmaxCrossEntropy(logits, targets);
    }, this.params.map((p) => p.variable));
    const seed = d.seed === undefined ? undefined : rank === 0
      ? streamSeed(d.seed, TRAIN_STREAM.step, m.step)
      : streamSeed(streamSeed(d.seed, TRAIN_STREAM.step, m.step), RANK_STREAM, rank);
    const result = seed === undefined ? compute() : withSeededMathRandom(seed, compute);
    let correct: number;
    try {
      const block = rank * P;
      this.params.forEach((p, i) => {
        const g = result.grads[p.name];
        if (g === undefined) grads.fill(0, block + this.offsets[i], block + this.offsets[i] + this.sizes[i]);
        else grads.set(readValues(g), block + this.offsets[i]);
      });
      stats[2 * rank] = result.value.dataSync()[0];
      correct = Math.round((correctT as tf.Scalar).dataSync()[0]);
    } finally {
      tf.dispose([result.value, correctT as tf.Tensor]);
      tf.dispose(result.grads);
    }
    lap('computeMs');

    // 2. The weighted mean, one segment per worker.
    this.barrier.wait();
    lap('waitMs');
    const weights: number[] = [];
    for (let k = 0; k < workers; k++) {
      const s = shardOf(B, workers, k);
      weights.push((s.end - s.start) / B);
    }
    stats[2 * rank + 1] = reduceSegment(grads, weights, P, mean, this.segment.start, this.segment.end);
    lap('reduceMs');
    this.barrier.wait();
    lap('waitMs');

    // 3. The same decision and update everywhere.
    let loss = 0;
    let bad = -1;
    for (let k = 0; k < workers; k++) {
      loss += weights[k] * stats[2 * k];
      const b = stats[2 * k + 1];
      if (b >= 0 && bad < 0) bad = b;
    }
    let outcome: StepOutcome = 'applied';
    let param: number | undefined = bad >= 0 ? this.paramAt(bad) : undefined;
    if (!Number.isFinite(loss)) outcome = 'loss';
    else if (bad >= 0) outcome = 'gradient';
    else if (m.lossLimit !== undefined && loss > m.lossLimit) outcome = 'explosion';
    let sum: number | undefined;
    if (outcome === 'applied') {
      const means = this.params.map((p, i) => mean.subarray(this.offsets[i], this.offsets[i] + this.sizes[i]));
      if (this.optimizer.applyGradientValues !== undefined) {
        this.optimizer.applyGradientValues(means, this.params, m.lr); // on wasm: no gradient tensors
      } else {
        const named: tf.NamedTensorMap = {};
        this.params.forEach((p, i) => {
          named[p.name] = float32TensorOf(means[i], p.variable.shape);
        });
        try {
          this.optimizer.applyGradients(named, this.params, m.lr);
        } finally {
          tf.dispose(named);
        }
      }
      const badWeight = firstNonFiniteWeight(this.model);
      if (badWeight !== undefined) {
        outcome = 'weight';
        const i = this.params.findIndex((p) => p.name === badWeight);
        param = i >= 0 ? i : undefined;
      }
      if (m.checksum) sum = this.checksum();
    }
    lap('updateMs');
    const schedEnd = threadTimes();
    if (sched !== undefined && schedEnd !== undefined) {
      timing.cpuMs = schedEnd.cpuMs - sched.cpuMs;
      timing.runnableWaitMs = schedEnd.runnableWaitMs - sched.runnableWaitMs;
    }
    const reply: StepReply = { type: 'step', id: m.id, rank, outcome, loss, correct, size: n, timing };
    if (param !== undefined) reply.param = param;
    if (sum !== undefined) reply.checksum = sum;
    post(reply);
  }

  /** The index of the parameter holding flat position `j`. */
  private paramAt(j: number): number {
    let i = 0;
    while (i + 1 < this.offsets.length && this.offsets[i + 1] <= j) i++;
    return i;
  }
}

/** `<param name>/<slot>` → parameter index and slot (the longest parameter name that prefixes it). */
export function splitStateName(name: string, index: ReadonlyMap<string, number>): { param: number; slot: string } {
  let best: string | undefined;
  for (const p of index.keys()) {
    if (name.startsWith(`${p}/`) && (best === undefined || p.length > best.length)) best = p;
  }
  if (best === undefined) throw new Error(`optimizer state entry '${name}' belongs to no trainable parameter`);
  return { param: index.get(best) as number, slot: name.slice(best.length + 1) };
}

function tensorData(t: tf.Tensor): TensorData {
  const dtype = t.dtype === 'int32' || t.dtype === 'bool' ? t.dtype : 'float32';
  const v = t.dataSync();
  const values = dtype === 'int32' ? Int32Array.from(v) : dtype === 'bool' ? Uint8Array.from(v) : Float32Array.from(v);
  return { values, shape: t.shape.slice(), dtype };
}

function buildOptimizer(d: WorkerInit, model: tfl.LayersModel, params: NamedVariable[]): NamedOptimizer {
  let optimizer: NamedOptimizer = new SGD(d.optimizer.sgd ?? {});
  const agc = d.optimizer.agc;
  if (agc !== undefined) {
    const layerNames = model.layers.map((l) => l.name);
    const excludeLayers = agc.excludeLayers ?? (layerNames.includes(CLASSIFIER) ? [CLASSIFIER] : []);
    for (const l of excludeLayers) {
      if (!layerNames.includes(l)) throw argumentError('ParallelTrainer', 'optimizer.agc.excludeLayers', l, `a layer of the model (${layerNames.slice(0, 8).join(', ')}${layerNames.length > 8 ? ', ...' : ''})`);
    }
    const owner = layerOfVariables(model);
    const exclude = params.filter((p) => excludeLayers.includes(owner.get(p.name) ?? '')).map((p) => p.name);
    optimizer = withAdaptiveGradientClipping(optimizer, { clipping: agc.clipping, eps: agc.eps, exclude: exclude.length > 0 ? exclude : undefined });
  }
  return optimizer;
}

async function start(d: WorkerInit): Promise<TrainingWorker> {
  if (d.prod) tf.env().set('PROD', true);
  const { backend } = await init({ backend: d.backend });
  const model = await tfl.models.modelFromJSON({ modelTopology: d.topology } as Parameters<typeof tfl.models.modelFromJSON>[0]);
  if (model.weights.length !== d.weights.length) {
    throw new Error(`the rebuilt model has ${model.weights.length} weights, the main thread's ${d.weights.length}`);
  }
  const initial = d.weights.map((w) => tf.tensor(w.values, w.shape, w.dtype));
  try {
    model.setWeights(initial);
  } finally {
    tf.dispose(initial);
  }
  const optimizer = buildOptimizer(d, model, trainableParams(model));
  const w = new TrainingWorker(d, model, optimizer);
  if (d.optimizerState.length > 0) w.setState(d.optimizerState);
  post({ type: 'ready', rank: d.rank, backend, paramNames: w.paramNames, paramSizes: w.paramSizes, weightCount: model.weights.length, checksum: w.checksum() });
  return w;
}

function reportError(id: number | 'init', rank: number, e: unknown, barrier: Int32Array): void {
  const err = e instanceof Error ? e : new Error(String(e));
  const m: FromWorker = { type: 'error', id, rank, message: err.message, stack: err.stack };
  if (e instanceof BarrierAbortedError) m.abortedBy = e.by;
  post(m);
  if (!(e instanceof BarrierAbortedError)) abortBarrier(barrier, rank);
}

/**
 * Starts the worker described by `data` (the thread's `workerData`): reports `ready` (or the start-up error) to
 * the main thread, then serves its requests.
 */
export function runWorker(data: WorkerInit): void {
  const ready = start(data);
  ready.catch((e: unknown) => {
    reportError('init', data.rank, e, data.shared.barrier);
    port.close();
  });
  port.on('message', (m: ToWorker) => {
    void ready.then((w) => {
      try {
        w.handle(m);
      } catch (e) {
        reportError('id' in m ? m.id : 'init', data.rank, e, data.shared.barrier);
      }
    }, () => undefined);
  });
}
