/**
 * Node-only: a whole training run — data, model, optimizer and schedule from a {@link TrainConfig}, the custom
 * loop of `loop.ts`, evaluation each epoch, `<out>/metrics.jsonl`, atomic checkpoints in `<out>/checkpoint/`
 * (every `checkpointEvery` steps and at each epoch end), exact resume, divergence stop, progress bar.
 *
 * Repeatability: every random draw is a function of `(seed, counter)` — the model's initializers get `seed` (and
 * `Math.random` is seeded while the model is built), each epoch's order and augmentation come from
 * `(seed, epoch)`, each step's mixup and dropout from `(seed, step)`. A checkpoint therefore needs no generator
 * state beyond `(seed, step, epoch, batchInEpoch)`, and a resumed run makes exactly the draws of an uninterrupted
 * one: on the `cpu` backend the final weights are bit-identical.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { tfl } from '../engine.js';
import { batchCount, batches } from '../data/batches.js';
import type { Dataset, DatasetSplits } from '../data/dataset.js';
import { loadDataset } from '../data/node_datasets.js';
import { subset, trainValidationSplit } from '../data/splits.js';
import { type AugmentOptions, type ChannelStats, channelStats } from '../data/transforms.js';
import { init } from '../init.js';
import { classifierLayerName } from '../models/common.js';
import { assertBatchCompatible, buildModel, MODEL_NAMES, MODEL_NORMS, type ModelName, supportsNorm } from '../models/registry.js';
import { argumentError, assertOneOf } from '../ops/validate.js';
import { withAdaptiveGradientClipping } from '../optim/gradient_clipping.js';
import { constantSchedule, cosineDecay, type Schedule, stepDecay, warmupThen } from '../optim/schedules.js';
import { type NamedOptimizer, SGD } from '../optim/sgd.js';
import { CHECKPOINT_DIR, checkpointDir, readCheckpointState, restoreCheckpoint, saveCheckpoint } from './checkpoint.js';
import { configDifferences, RESUMABLE_SETTINGS, resolveTrainConfig, type TrainConfig } from './config.js';
import { DivergenceError, evaluate, type Evaluation, layerOfVariables, type Trainable, trainableParams, trainStep } from './loop.js';
import { type MetricsLine, MetricsLog } from './metrics.js';
import { formatRate, ProgressBar } from './progress.js';
import { streamSeed, TRAIN_STREAM, withSeededMathRandom } from './random.js';
import { createParallelTrainer, parallelOptimizerSpec, type ParallelTrainer } from './parallel/index.js';

/** What a run needs from the rest of the library; replaceable (tests build tiny models directly). */
export interface RunDependencies {
  /** Sets up the backend named in the config; returns the name of the backend in use. */
  setBackend(name: TrainConfig['backend']): Promise<string>;
  /** Loads the train/test splits of the config's dataset. */
  loadData(config: TrainConfig): DatasetSplits;
  /** Builds the model (called with `Math.random` seeded from the run's seed). */
  buildModel(config: TrainConfig, data: { inputShape: [number, number, number]; numClasses: number }): tfl.LayersModel;
}

/** Options of {@link runTraining}. */
export interface RunOptions {
  /** Continue from `<out>/checkpoint/` (the saved config is used; settings given must agree with it). */
  resume?: boolean;
  /** No progress bar and no epoch lines. */
  quiet?: boolean;
  /** Where epoch lines go; default `console.log` (nothing when `quiet`). */
  log?: (line: string) => void;
  /** Replacements for the default data/model/backend functions. */
  deps?: Partial<RunDependencies>;
}

/** The result of a finished run. */
export interface RunSummary {
  out: string;
  backend: string;
  /** Steps done in total (all sessions). */
  steps: number;
  epochs: number;
  /** Final evaluation (test set, or the validation split). */
  evaluation: Evaluation;
  /** Mean training loss of the last epoch. */
  trainLoss: number;
  /** Wall time of all sessions, ms. */
  elapsedMs: number;
  /** Training images per second in this session (training steps only, without evaluation and checkpoints). */
  imagesPerSecond: number;
  /** The step this session resumed from, when it resumed. */
  resumedFrom?: number;
}

/** The JSON state saved in each checkpoint. */
export interface RunState {
  /** Updates done. */
  step: number;
  /** Epoch in progress (0-based). */
  epoch: number;
  /** Batches of that epoch already trained on. */
  batchInEpoch: number;
  stepsPerEpoch: number;
  /** Counter-based RNG: every draw is a function of `seed` and the step / epoch counters above. */
  rng: { scheme: string; seed: number; step: number; epoch: number };
  config: TrainConfig;
  /** Every metrics line written up to this checkpoint. */
  metrics: MetricsLine[];
  /** Running sums of the epoch in progress. */
  epochAccum: { lossSum: number; correct: number; images: number };
  /** Loss of the run's first step (the divergence limit is a multiple of it). */
  initialLoss: number | null;
  /** Wall time of the sessions up to the checkpoint, ms. */
  elapsedMs: number;
  savedAt: string;
}

/** The default dependencies: the library's own loaders, models and backend set-up. */
export const defaultDependencies: RunDependencies = {
  async setBackend(name) {
    return (await init({ backend: name })).backend;
  },
  loadData(config) {
    const synthetic = config.dataset === 'synthetic';
    const s = config.synthetic;
    return loadDataset(config.dataset, {
      dataDir: config.dataDir,
      testLimit: synthetic ? s.test : config.testSubset,
      trainLimit: synthetic ? s.train : undefined,
      synthetic: { height: s.size, width: s.size, channels: s.channels, numClasses: s.classes, seed: config.seed },
    });
  },
  buildModel(config, data) {
    return buildModel(config.model as ModelName, modelOptions(config, data) as never);
  },
};

/**
 * The options of `buildModel(config.model, ...)` from a config: what each model takes, and an error naming the
 * setting when a config sets something its model does not have (e.g. `dropout` on 'resnet').
 *
 * No `seed` is passed: the models would hand their seeded layers a fixed seed, and a fixed-seed random op in
 * TF.js draws the same numbers at every call — the same stochastic-depth mask at every step. Unseeded, every
 * initializer and random layer draws from `Math.random`, which the run seeds from `(seed, 'init')` while the
 * model is built and from `(seed, step)` during each step: repeatable, and a fresh draw each step.
 */
export function modelOptions(config: TrainConfig, data: { inputShape: [number, number, number]; numClasses: number }): Record<string, unknown> {
  const op = 'trainConfig';
  const model = config.model as ModelName;
  assertOneOf(op, 'model', model, MODEL_NAMES);
  if (!supportsNorm(model, config.norm)) {
    throw argumentError(op, 'norm', config.norm, `one of ${MODEL_NORMS[model].map((n) => `'${n}'`).join(', ')} for model '${model}'`);
  }
  assertBatchCompatible(model, { norm: config.norm, groupSize: config.groupSize }, config.batchSize);
  const has: Record<ModelName, string[]> = {
    resnet: ['depth', 'widths', 'groups', 'groupSize', 'bnMomentum'],
    vgg: ['groups', 'groupSize', 'bnMomentum', 'dropout'],
    'nf-resnet': ['depth', 'widths', 'dropout', 'stochasticDepth'],
    nfnet: ['widths', 'dropout', 'stochasticDepth'],
  };
  const options: Record<string, unknown> = { ...data, norm: config.norm };
  for (const key of ['widths', 'groups', 'groupSize', 'bnMomentum', 'dropout', 'stochasticDepth'] as const) {
    const v = config[key];
    if (v === undefined) continue;
    if (!has[model].includes(key)) {
      if ((key === 'dropout' || key === 'stochasticDepth') && v === 0) continue;
      throw argumentError(op, key, v, `no ${key} for model '${model}' (it takes ${has[model].join(', ')})`);
    }
    options[key] = v;
  }
  if (has[model].includes('depth')) options.depth = config.depth;
  return options;
}

/** The augmentation of a config (`'auto'`: crop + flip for CIFAR-10, none for digits and synthetic data). */
export function augmentationOf(config: TrainConfig, height: number): AugmentOptions | undefined {
  const pad = height >= 32 ? 4 : Math.max(1, Math.round(height / 8));
  switch (config.augment) {
    case 'none': return undefined;
    case 'crop': return { pad };
    case 'crop+flip': return { pad, flip: true };
    case 'auto': return config.dataset === 'cifar10' ? { pad, flip: true } : undefined;
  }
}

/**
 * The learning rate at each step: a warm-up of `round(warmupEpochs * stepsPerEpoch)` steps from 0 to `lr`
 * (cosine or linear ramp), then cosine decay to 0 at the last step, or step decay (x0.1 at 50% and 75% of the
 * decay steps), or the constant `lr`.
 */
export function scheduleOf(config: TrainConfig, stepsPerEpoch: number): Schedule {
  const total = config.epochs * stepsPerEpoch;
  const warmupSteps = Math.min(total, Math.round(config.warmupEpochs * stepsPerEpoch));
  const decaySteps = Math.max(1, total - warmupSteps);
  let decay: Schedule;
  if (config.schedule === 'cosine') decay = cosineDecay({ peak: config.lr, totalSteps: decaySteps });
  else if (config.schedule === 'step') {
    const milestones = [...new Set([Math.round(0.5 * decaySteps), Math.round(0.75 * decaySteps)])].filter((m) => m >= 1);
    decay = stepDecay({ base: config.lr, milestones });
  } else decay = constantSchedule(config.lr);
  return warmupThen(decay, { warmupSteps, shape: config.warmupShape });
}

/** Train/evaluation splits of a config, with the subset and validation options applied. */
export function prepareData(config: TrainConfig, splits: DatasetSplits): { train: Dataset; evaluation: Dataset; stats: ChannelStats } {
  let train = splits.train;
  let evaluation = splits.test;
  if (config.validation !== undefined) {
    const s = trainValidationSplit(train, { validation: config.validation, seed: config.seed });
    train = s.train;
    evaluation = s.validation;
  }
  if (config.trainSubset !== undefined) {
    if (config.trainSubset > train.count) throw argumentError('train', 'trainSubset', config.trainSubset, `at most the ${train.count} training images`);
    if (config.trainSubset < train.count) train = subset(train, { count: config.trainSubset, mode: 'random', seed: config.seed });
  }
  if (config.testSubset !== undefined && config.testSubset < evaluation.count) evaluation = subset(evaluation, { count: config.testSubset });
  if (train.count < config.batchSize) {
    throw argumentError('train', 'batchSize', config.batchSize, `at most the ${train.count} training images of ${train.name}`);
  }
  return { train, evaluation, stats: channelStats(train) };
}

/**
 * Runs (or resumes) the training described by `settings` (a partial {@link TrainConfig}; defaults fill the rest).
 * @throws {DivergenceError} when the loss, a gradient or a weight becomes non-finite, or the loss explodes; the
 *   last good checkpoint is kept and the message says where.
 */
export async function runTraining(settings: Partial<TrainConfig>, options: RunOptions = {}): Promise<RunSummary> {
  const sessionStart = performance.now();
  const deps: RunDependencies = { ...defaultDependencies, ...options.deps };
  const quiet = options.quiet === true;
  const log = quiet ? () => undefined : options.log ?? ((line: string) => console.log(line));
  const out = resolve(settings.out ?? resolveTrainConfig({}).out);

  // The config: the checkpoint's when resuming (given settings must agree), otherwise the given one.
  let config: TrainConfig;
  let saved: RunState | null = null;
  if (options.resume === true) {
    saved = await readCheckpointState<RunState>(out);
    if (saved === null) throw argumentError('train', 'resume', true, `a run directory with a ${CHECKPOINT_DIR}/ (none in '${out}')`);
    const given = resolveTrainConfig({ ...saved.config, ...settings });
    const diffs = configDifferences(saved.config, given, RESUMABLE_SETTINGS);
    if (diffs.length > 0) {
      const detail = diffs.map((k) => `${k}: checkpoint ${JSON.stringify((saved!.config as unknown as Record<string, unknown>)[k])}, given ${JSON.stringify((given as unknown as Record<string, unknown>)[k])}`).join('; ');
      throw new Error(`train: cannot resume '${out}' with different settings (${detail}); resume with the same settings or start a new --out`);
    }
    config = { ...given, out };
  } else {
    config = resolveTrainConfig({ ...settings, out });
    if ((await checkpointDir(out)) !== null) {
      throw new Error(`train: '${out}' already holds a checkpoint: pass --resume to continue that run, or choose another --out`);
    }
  }

  // Model settings are checked before the (possibly slow) data loading.
  if (deps.buildModel === defaultDependencies.buildModel) modelOptions(config, { inputShape: [1, 1, 1], numClasses: 2 });
  const backend = await deps.setBackend(config.backend);
  const splits = deps.loadData(config);
  const { train, evaluation: evalSet, stats } = prepareData(config, splits);
  const inputShape: [number, number, number] = [train.height, train.width, train.channels];
  const numClasses = train.numClasses;
  const augment = augmentationOf(config, train.height);
  const stepsPerEpoch = batchCount(train.count, config.batchSize, true);
  const totalSteps = stepsPerEpoch * config.epochs;
  const schedule = scheduleOf(config, stepsPerEpoch);

  const model = withSeededMathRandom(streamSeed(config.seed, TRAIN_STREAM.init, 1),
    () => deps.buildModel(config, { inputShape, numClasses }));
  const params = trainableParams(model);
  let optimizer: NamedOptimizer = new SGD({ momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay, decayFilter: config.decayFilter });
  if (config.agc > 0) {
    const hasClassifier = model.layers.some((l) => l.name === classifierLayerName);
    const exclude = hasClassifier ? params.filter((p) => layerOfVariables(model).get(p.name) === classifierLayerName).map((p) => p.name) : [];
    optimizer = withAdaptiveGradientClipping(optimizer, { clipping: config.agc, exclude: exclude.length > 0 ? exclude : undefined });
  }
  const trainable: Trainable = { model, optimizer, params };
  const layerNames = layerOfVariables(model);

  let state: RunState;
  if (saved !== null) {
    try {
      state = await restoreCheckpoint<RunState>(out, { model, optimizer, params });
      if (state.stepsPerEpoch !== stepsPerEpoch) throw new Error(`train: the checkpoint has ${state.stepsPerEpoch} steps per epoch, the data now gives ${stepsPerEpoch}: the dataset changed`);
    } catch (e) {
      optimizer.dispose();
      model.dispose();
      throw e;
    }
  } else {
    state = {
      step: 0, epoch: 0, batchInEpoch: 0, stepsPerEpoch,
      rng: { scheme: 'counter: deriveSeed(seed, stream, step | epoch)', seed: config.seed, step: 0, epoch: 0 },
      config, metrics: [], epochAccum: { lossSum: 0, correct: 0, images: 0 }, initialLoss: null, elapsedMs: 0, savedAt: '',
    };
  }
  mkdirSync(out, { recursive: true });
  const metrics = new MetricsLog(out, state.metrics);
  const resumedFrom = saved !== null ? state.step : undefined;
  if (saved === null) {
    metrics.append({ type: 'start', config, backend, train: train.name, trainCount: train.count, evaluation: evalSet.name, evaluationCount: evalSet.count, stepsPerEpoch, totalSteps, parameters: countParams(model) });
  } else {
    metrics.append({ type: 'resume', step: state.step, epoch: state.epoch, batchInEpoch: state.batchInEpoch, backend });
  }

  // Data parallelism: the workers hold the model and optimizer while training; the main thread's copies are
  // brought up to date before every checkpoint and evaluation.
  let parallel: ParallelTrainer | undefined;
  if (config.workers > 1) {
    const optimizerState = saved !== null ? optimizer.getState() : undefined;
    try {
      parallel = await createParallelTrainer({
        workers: config.workers, model, backend: config.backend, optimizer: parallelOptimizerSpec(config), optimizerState,
        numClasses, seed: config.seed, labelSmoothing: config.labelSmoothing, mixup: config.mixup,
      });
    } catch (e) {
      optimizer.dispose();
      model.dispose();
      throw e;
    } finally {
      if (optimizerState) for (const s of optimizerState) s.tensor.dispose();
    }
  }
  let workersAhead = false; // the workers have trained past the main thread's copies
  const syncFromWorkers = async (): Promise<void> => {
    if (parallel && workersAhead) await parallel.syncTo(model, optimizer);
    workersAhead = false;
  };

  const elapsedBefore = state.elapsedMs;
  const progress = new ProgressBar({ quiet });
  let sessionImages = 0, sessionTrainMs = 0;
  let lastEval: Evaluation | undefined;
  let final: Evaluation;
  let lastTrainLoss = NaN;
  const limit = (): number | undefined => {
    if (state.initialLoss === null) return config.maxLoss;
    const relative = config.divergenceFactor * Math.max(state.initialLoss, 1e-12);
    return config.maxLoss === undefined ? relative : Math.min(relative, config.maxLoss);
  };
  const save = async (epoch: number, batchInEpoch: number): Promise<void> => {
    state.epoch = epoch;
    state.batchInEpoch = batchInEpoch;
    state.rng = { ...state.rng, step: state.step, epoch };
    state.metrics = metrics.lines();
    state.elapsedMs = elapsedBefore + (performance.now() - sessionStart);
    state.savedAt = new Date().toISOString();
    await syncFromWorkers();
    await saveCheckpoint(out, { model, optimizer, params }, state);
  };

  try {
    for (let epoch = state.epoch; epoch < config.epochs; epoch++) {
      const skip = epoch === state.epoch ? state.batchInEpoch : 0;
      if (skip === 0) state.epochAccum = { lossSum: 0, correct: 0, images: 0 };
      progress.startEpoch(epoch + 1, config.epochs, skip, stepsPerEpoch);
      let k = 0;
      // Batches are built in sequence (the augmentation stream of the epoch is consumed in order), so the
      // batches a resumed run already trained on are built and dropped.
      for (const b of batches(train, { batchSize: config.batchSize, seed: config.seed, epoch, dropRemainder: true, labels: 'int', standardize: stats, augment })) {
        if (k < skip) {
          b.dispose();
          k++;
          continue;
        }
        const lr = schedule(state.step);
        const t0 = performance.now();
        let r;
        try {
          if (parallel) workersAhead = true;
          r = parallel
            ? await parallel.step(b, { lr, step: state.step, lossLimit: limit() })
            : trainStep(trainable, b, {
              lr, numClasses, step: state.step, seed: config.seed, labelSmoothing: config.labelSmoothing, mixup: config.mixup, lossLimit: limit(), layerNames,
            });
        } finally {
          b.dispose();
        }
        sessionTrainMs += performance.now() - t0;
        sessionImages += r.size;
        if (state.initialLoss === null) state.initialLoss = r.loss;
        state.step++;
        k++;
        const acc = state.epochAccum;
        acc.lossSum += r.loss * r.size;
        acc.correct += r.correct;
        acc.images += r.size;
        const rate = sessionImages / Math.max(sessionTrainMs, 1e-3) * 1000;
        if (config.logEvery > 0 && state.step % config.logEvery === 0) {
          metrics.append({ type: 'step', step: state.step, epoch: epoch + k / stepsPerEpoch, lr, loss: r.loss, accuracy: r.correct / r.size, imagesPerSecond: rate });
        }
        progress.update(k, rate, acc.lossSum / acc.images);
        if (config.checkpointEvery > 0 && state.step % config.checkpointEvery === 0 && k < stepsPerEpoch) await save(epoch, k);
      }
      progress.stop();
      await syncFromWorkers();
      const evalStart = performance.now();
      lastEval = evaluate(model, evalSet, { batchSize: config.evalBatchSize, standardize: stats });
      const acc = state.epochAccum;
      lastTrainLoss = acc.lossSum / acc.images;
      const rate = sessionImages / Math.max(sessionTrainMs, 1e-3) * 1000;
      metrics.append({
        type: 'epoch', epoch: epoch + 1, step: state.step, lr: schedule(Math.max(0, state.step - 1)),
        trainLoss: lastTrainLoss, trainAccuracy: acc.correct / acc.images,
        evalLoss: lastEval.loss, evalAccuracy: lastEval.accuracy, evalSet: evalSet.name, evalCount: lastEval.count,
        imagesPerSecond: rate, evalMs: performance.now() - evalStart, elapsedMs: elapsedBefore + performance.now() - sessionStart,
      });
      log(`epoch ${epoch + 1}/${config.epochs}  train loss ${lastTrainLoss.toFixed(4)} acc ${pct(acc.correct / acc.images)}  ` +
        `${evalSet.name} loss ${lastEval.loss.toFixed(4)} acc ${pct(lastEval.accuracy)}  ${formatRate(rate)} img/s`);
      await save(epoch + 1, 0);
    }
    // A resumed run that had already finished trains no more: evaluate its final state.
    final = lastEval ?? evaluate(model, evalSet, { batchSize: config.evalBatchSize, standardize: stats });
  } catch (e) {
    progress.stop();
    if (e instanceof DivergenceError) {
      const kept = await readCheckpointState<RunState>(out);
      metrics.append({ type: 'diverged', step: e.step, kind: e.kind, loss: String(e.loss), layer: e.layer, variable: e.variable, checkpointStep: kept?.step ?? null });
      e.message += kept === null
        ? '; no checkpoint had been written yet'
        : `; the last good checkpoint (step ${kept.step}) is kept in ${await checkpointDir(out)}`;
    }
    throw e;
  } finally {
    if (parallel) await parallel.dispose();
    optimizer.dispose();
    model.dispose();
  }

  const elapsedMs = elapsedBefore + (performance.now() - sessionStart);
  const imagesPerSecond = sessionImages / Math.max(sessionTrainMs, 1e-3) * 1000;
  metrics.append({ type: 'end', step: state.step, evalLoss: final.loss, evalAccuracy: final.accuracy, elapsedMs, imagesPerSecond, resumedFrom: resumedFrom ?? null });
  return { out, backend, steps: state.step, epochs: config.epochs, evaluation: final, trainLoss: lastTrainLoss, elapsedMs, imagesPerSecond, resumedFrom };
}

/** Number of trainable scalars of a model. */
function countParams(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

function pct(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}
