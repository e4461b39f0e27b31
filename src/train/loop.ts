/**
 * The training step and the evaluation of the custom training loop (no `model.fit`), with the divergence
 * checks. Browser-safe; the Node driver with checkpoints and files is `run.ts`.
 *
 * One step: `tf.variableGrads` of the mean softmax cross-entropy (label smoothing, optional mixup) of
 * `model.apply(x, { training: true })`, a finiteness check of the loss and of every gradient, the optimizer
 * update with the scheduled rate, and a finiteness check of every weight. Nothing non-finite is ever applied
 * silently: a {@link DivergenceError} names the step and the first layer at fault.
 * @module
 */
import { tf, tfl } from '../engine.js';
import type { Dataset } from '../data/dataset.js';
import { batches } from '../data/batches.js';
import type { ChannelStats } from '../data/transforms.js';
import { argumentError, assertInteger } from '../ops/validate.js';
import { readValues } from '../kernels/backend_access.js';
import type { NamedOptimizer } from '../optim/sgd.js';
import type { NamedVariable } from '../optim/params.js';
import { countCorrect, mixup, sampleBeta, smoothedTargets, softmaxCrossEntropy } from './losses.js';
import { streamRng, streamSeed, TRAIN_STREAM, withSeededMathRandom } from './random.js';

/** What makes a run stop as diverged. */
export type DivergenceKind = 'loss' | 'gradient' | 'weight' | 'explosion';

/**
 * Thrown when training diverges: a non-finite loss, gradient or weight, or a loss above the limit. The update
 * of the failing step is not applied when the loss or a gradient is at fault.
 */
export class DivergenceError extends Error {
  constructor(
    /** The step (0-based count of updates before it) at which divergence was detected. */
    readonly step: number,
    readonly kind: DivergenceKind,
    /** The loss of that step (may be NaN/Inf). */
    readonly loss: number,
    /**
     * The first layer (in model order) at fault, when one is found: whose gradient or weight is non-finite, or —
     * a non-finite loss with finite gradients — whose activations (outputs) are non-finite.
     */
    readonly layer?: string,
    /** The variable of that layer (gradients and weights; undefined for activations). */
    readonly variable?: string,
    detail = '',
  ) {
    super(`training diverged at step ${step}: ${describe(kind, loss, layer, variable)}${detail}`);
    this.name = 'DivergenceError';
  }
}

function describe(kind: DivergenceKind, loss: number, layer?: string, variable?: string): string {
  const where = layer === undefined ? '' : ` in layer '${layer}' (variable '${variable}')`;
  switch (kind) {
    case 'gradient': return `a gradient became non-finite (NaN or Inf)${where}; loss ${loss}`;
    case 'weight': return `a weight became non-finite (NaN or Inf) after the update${where}; loss before it ${loss}`;
    case 'loss':
      if (variable !== undefined) return `the loss is ${loss}; first non-finite gradient${where}`;
      if (layer !== undefined) return `the loss is ${loss} (gradients finite); first non-finite activations: the output of layer '${layer}'`;
      return `the loss is ${loss} (gradients and layer outputs finite)`;
    case 'explosion': return `the loss ${loss} exceeds the divergence limit`;  // detail: the limit
  }
}

/** The model, its optimizer and the parameters the optimizer updates. */
export interface Trainable {
  model: tfl.LayersModel;
  optimizer: NamedOptimizer;
  /** The trainable variables, named as `tf.variableGrads` keys them (see {@link trainableParams}). */
  params: NamedVariable[];
}

/** The model's trainable variables as `{ name, variable }` in model order, named by `variable.name`. */
export function trainableParams(model: tfl.LayersModel): NamedVariable[] {
  return model.trainableWeights.map((w) => {
    const variable = w.read() as tf.Variable;
    return { name: variable.name, variable };
  });
}

/** Map from variable name to the name of the layer owning it (for divergence messages). */
export function layerOfVariables(model: tfl.LayersModel): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (layer: tfl.layers.Layer): void => {
    for (const w of layer.weights) {
      const name = (w.read() as tf.Variable).name;
      if (!out.has(name)) out.set(name, layer.name);
    }
    const inner = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
    if (Array.isArray(inner)) inner.forEach(visit);
  };
  model.layers.forEach(visit);
  return out;
}

/** A training batch: images and int class labels. */
export interface TrainBatch {
  /** `[B,H,W,C]` images. */
  x: tf.Tensor;
  /** `[B]` class indices (int32). */
  y: tf.Tensor;
}

/** Options of {@link trainStep}. */
export interface TrainStepOptions {
  /** Learning rate of this step (from the schedule). */
  lr: number;
  /** Number of classes K. */
  numClasses: number;
  /** The global step (0-based): with `seed`, it selects this step's random draws. */
  step: number;
  /** The run's seed. When given, `Math.random` (TF.js' source for unseeded dropout / random ops) is seeded with `(seed, step)` during the step, and so is mixup. */
  seed?: number;
  /** Label smoothing in [0, 1); default 0. */
  labelSmoothing?: number;
  /** Mixup alpha (lambda ~ Beta(alpha, alpha) drawn from `(seed, step)`); 0 = off (default). */
  mixup?: number;
  /** Stop (before the update) when the loss is above this value; default: no limit. */
  lossLimit?: number;
  /** Variable name → layer name, for messages (default: computed from the model). */
  layerNames?: Map<string, string>;
}

/** What a step measured. */
export interface StepResult {
  /** Mean training loss of the batch (before the update). */
  loss: number;
  /** Number of images whose top-1 prediction equals their label (the unmixed label under mixup). */
  correct: number;
  /** Batch size. */
  size: number;
}

/**
 * One training step (see the module description). Leaves no tensor behind except the optimizer state.
 * @throws {DivergenceError} on a non-finite loss or gradient (nothing applied), a loss above `lossLimit`
 *   (nothing applied), or a non-finite weight after the update.
 */
export function trainStep(t: Trainable, batch: TrainBatch, options: TrainStepOptions): StepResult {
  const op = 'trainStep';
  const { lr, numClasses, step, seed, labelSmoothing = 0, mixup: alpha = 0, lossLimit } = options;
  assertInteger(op, 'step', step, 0);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) throw argumentError(op, 'mixup', alpha, 'an alpha >= 0 (0 = off)');
  const B = batch.x.shape[0];
  const lambda = alpha > 0 ? sampleBeta(alpha, streamRng(seed ?? 0, TRAIN_STREAM.mixup, step)) : 1;

  let correctT: tf.Scalar | undefined;
  const compute = (): { value: tf.Scalar; grads: tf.NamedTensorMap } => tf.variableGrads(() => {
    let targets: tf.Tensor = smoothedTargets(batch.y, numClasses, labelSmoothing);
    let x = batch.x;
    if (lambda !== 1) ({ x, targets } = mixup(x, targets, lambda));
    const logits = outputOf(t.model.apply(x, { training: true }));
    correctT = tf.keep(countCorrect(logits, batch.y));
    return softmaxCrossEntropy(logits, targets);
  }, t.params.map((p) => p.variable));

  const { value, grads } = seed === undefined ? compute() : withSeededMathRandom(streamSeed(seed, TRAIN_STREAM.step, step), compute);
  try {
    const names = t.params.map((p) => p.name).filter((n) => grads[n] !== undefined);
    const loss = value.dataSync()[0];
    const correct = Math.round((correctT as tf.Scalar).dataSync()[0]);
    const badIndex = firstNonFiniteTensor(names.map((n) => grads[n]));
    const badGrad = badIndex < 0 ? undefined : names[badIndex];
    const layerNames = (): Map<string, string> => options.layerNames ?? layerOfVariables(t.model);
    if (!Number.isFinite(loss)) {
      const layer = badGrad !== undefined ? layerNames().get(badGrad) : firstNonFiniteActivation(t.model, batch.x);
      throw new DivergenceError(step, 'loss', loss, layer, badGrad);
    }
    if (badGrad !== undefined) throw new DivergenceError(step, 'gradient', loss, layerNames().get(badGrad), badGrad);
    if (lossLimit !== undefined && loss > lossLimit) throw new DivergenceError(step, 'explosion', loss, undefined, undefined, ` ${lossLimit.toPrecision(4)} (gradients and weights still finite)`);
    t.optimizer.applyGradients(grads, t.params, lr);
    const badWeight = firstNonFiniteWeight(t.model);
    if (badWeight !== undefined) throw new DivergenceError(step, 'weight', loss, layerNames().get(badWeight), badWeight);
    return { loss, correct, size: B };
  } finally {
    tf.dispose([value, correctT as tf.Tensor]);
    tf.dispose(grads);
  }
}

/** The (first) output of an eager `model.apply`. */
function outputOf(out: tf.Tensor | tf.Tensor[] | tfl.SymbolicTensor | tfl.SymbolicTensor[]): tf.Tensor {
  const t = Array.isArray(out) ? out[0] : out;
  if (!(t instanceof tf.Tensor)) throw new Error('trainStep: model.apply returned a symbolic tensor: pass a concrete tf.Tensor batch');
  return t;
}

/** Backends whose tensors live in host memory: reading one is a copy, cheaper than a reduction op per tensor. */
const HOST_MEMORY_BACKENDS: ReadonlySet<string> = new Set(['cpu', 'wasm', 'tensorflow']);

/**
 * The index of the first tensor holding a NaN or Inf, or -1. On host-memory backends (`cpu`, `wasm`, tfjs-node)
 * the values are read and scanned (no TF.js op: a training step's bookkeeping stays out of the engine); elsewhere
 * (GPU backends) one sum per tensor, stacked and downloaded once (any NaN/Inf makes its sum non-finite).
 * `hostMemory` forces one way or the other (tests).
 */
export function firstNonFiniteTensor(tensors: readonly tf.Tensor[], hostMemory = HOST_MEMORY_BACKENDS.has(tf.getBackend())): number {
  if (tensors.length === 0) return -1;
  if (hostMemory) {
    for (let i = 0; i < tensors.length; i++) {
      const v = readValues(tensors[i]); // no copy on wasm
      for (let j = 0; j < v.length; j++) if (!(v[j] - v[j] === 0)) return i; // NaN and ±Inf give NaN
    }
    return -1;
  }
  const sums = tf.tidy(() => tf.stack(tensors.map((v) => tf.sum(tf.cast(v, 'float32')))));
  const s = sums.dataSync();
  sums.dispose();
  return Array.from(s).findIndex((v) => !Number.isFinite(v));
}

/** The name of the first variable of `model.weights` (trainable or not) holding a NaN or Inf, if any. */
export function firstNonFiniteWeight(model: tfl.LayersModel): string | undefined {
  const vars = model.weights.map((w) => w.read() as tf.Variable);
  const i = firstNonFiniteTensor(vars);
  return i < 0 ? undefined : vars[i].name;
}

/**
 * The name of the first layer (in model order) whose output on `x` (training mode) holds a NaN or Inf, if any:
 * where activations overflow when the weights are finite but huge. Functional models only (layers with one
 * output); `undefined` when none is found or the model cannot be probed. Leaves no tensor behind.
 */
export function firstNonFiniteActivation(model: tfl.LayersModel, x: tf.Tensor): string | undefined {
  try {
    const layers = model.layers.filter((l) => l.inboundNodes.length > 0 && l.getClassName() !== 'InputLayer' && !Array.isArray(l.output));
    if (layers.length === 0) return undefined;
    const probe = tfl.model({ inputs: model.inputs, outputs: layers.map((l) => l.output as tfl.SymbolicTensor) });
    const sums = tf.tidy(() => {
      const outs = probe.apply(x, { training: true });
      return tf.stack((Array.isArray(outs) ? outs : [outs]).map((o) => tf.sum(tf.cast(o as tf.Tensor, 'float32'))));
    });
    const s = sums.dataSync();
    sums.dispose();
    const i = Array.from(s).findIndex((v) => !Number.isFinite(v));
    return i < 0 ? undefined : layers[i].name;
  } catch {
    return undefined;
  }
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Images per inference batch; default 256. */
  batchSize?: number;
  /** Per-channel statistics to standardize with (the training split's). */
  standardize?: ChannelStats;
}

/** Evaluation result. */
export interface Evaluation {
  /** Mean softmax cross-entropy (no smoothing). */
  loss: number;
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** Number of images evaluated. */
  count: number;
}

/**
 * Top-1 accuracy and mean cross-entropy of `model` on `ds` in inference mode (`training: false`: BN uses its
 * moving statistics, dropout is off), in dataset order. Leaves no tensor behind.
 */
export function evaluate(model: tfl.LayersModel, ds: Dataset, options: EvaluateOptions = {}): Evaluation {
  const batchSize = options.batchSize ?? 256;
  assertInteger('evaluate', 'batchSize', batchSize, 1);
  let lossSum = 0, correct = 0, count = 0;
  for (const b of batches(ds, { batchSize, shuffle: false, labels: 'int', standardize: options.standardize })) {
    try {
      const r = tf.tidy(() => {
        const logits = outputOf(model.apply(b.x, { training: false }));
        const targets = smoothedTargets(b.y, ds.numClasses, 0);
        return tf.stack([tf.mul(softmaxCrossEntropy(logits, targets), b.size), countCorrect(logits, b.y)]);
      });
      const v = r.dataSync();
      r.dispose();
      lossSum += v[0];
      correct += Math.round(v[1]);
      count += b.size;
    } finally {
      b.dispose();
    }
  }
  return { loss: count > 0 ? lossSum / count : NaN, accuracy: count > 0 ? correct / count : NaN, count };
}
