/**
 * The configuration of a training run: every hyperparameter, with defaults and checks. A config is plain JSON,
 * saved in each checkpoint (a resumed run continues with exactly the saved config). Browser-safe.
 * @module
 */
import { argumentError, assertOneOf } from '../ops/validate.js';
import { DATASET_NAMES, type DatasetName } from '../data/dataset.js';

/** Datasets `batchfree train` can load (defined in `data/dataset.ts`, shared with `loadDataset`). */
export { DATASET_NAMES, type DatasetName };
/** Learning-rate decay after the warm-up. */
export const SCHEDULE_NAMES = ['cosine', 'step', 'constant'] as const;
/** See {@link SCHEDULE_NAMES}. */
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];
/** Shape of the warm-up ramp. */
export const WARMUP_SHAPES = ['cosine', 'linear'] as const;
/** Augmentation presets. */
export const AUGMENT_NAMES = ['auto', 'none', 'crop', 'crop+flip'] as const;
/** Backends `batchfree train` can run on. */
export const BACKEND_NAMES = ['auto', 'wasm', 'cpu'] as const;
/** Weight-decay filters (see `src/optim/weight_decay.ts`). */
export const DECAY_FILTER_NAMES = ['all', 'kernels-only', 'no-gains-biases'] as const;

/** Every setting of a training run. Defaults: {@link DEFAULT_TRAIN_CONFIG}. */
export interface TrainConfig {
  /** Dataset; default `'mnist'`. */
  dataset: DatasetName;
  /** Directory of the dataset files (Fashion-MNIST IDX files, CIFAR-10 binary batches); default: the loader's. */
  dataDir?: string;
  /** Synthetic dataset only: image side (square), channels, classes, train and test counts. */
  synthetic: { size: number; channels: number; classes: number; train: number; test: number };
  /** Model name (`buildModel`'s registry): `'resnet'`, `'vgg'`, `'nf-resnet'`, `'nfnet'`; default `'resnet'`. */
  model: string;
  /** Depth (ResNets: 6n+2, e.g. 20); default 20. */
  depth: number;
  /** Stage widths (e.g. `[16, 32, 64]`); default: the model's own. */
  widths?: number[];
  /** Normalization + activation (the factory's names: 'bn', 'gn', 'frn', 'gn+pn', ...); default `'frn'`, `'none'` for the NF models. */
  norm: string;
  /** Groups of GN/EvoNorm/GN+PN; default: the layer's own. */
  groups?: number;
  /** Images per batch; default 32. */
  batchSize: number;
  /** Images per BN/BRN normalization group ("images per GPU"); must divide `batchSize`; default = `batchSize`. */
  groupSize?: number;
  /** Moving-average momentum of BN/BRN (`moving = m·moving + (1-m)·batch`); default: the layer's 0.99 (Keras). 0.9 = PyTorch's default. */
  bnMomentum?: number;
  /** Epochs; default 3. */
  epochs: number;
  /** Peak learning rate (after warm-up), used as given (not scaled by batch size); default 0.1. */
  lr: number;
  /** SGD momentum in [0, 1); default 0.9. */
  momentum: number;
  /** Nesterov momentum; default false. */
  nesterov: boolean;
  /** L2 weight decay coefficient; default 5e-4. */
  weightDecay: number;
  /** Which parameters are decayed; default `'all'`. */
  decayFilter: (typeof DECAY_FILTER_NAMES)[number];
  /** Warm-up length in epochs (may be fractional; rounded to whole steps); default 1. */
  warmupEpochs: number;
  /** Warm-up ramp; default `'cosine'` (the FRN paper's cosine ramp-up from 0). */
  warmupShape: (typeof WARMUP_SHAPES)[number];
  /** Decay after the warm-up: cosine to 0, step (x0.1 at 50% and 75% of the decay steps), constant; default `'cosine'`. */
  schedule: ScheduleName;
  /** AGC clipping factor lambda (> 0), the classifier excluded; 0 = off (default). */
  agc: number;
  /** Label smoothing in [0, 1); default 0. */
  labelSmoothing: number;
  /** Mixup strength alpha (lambda ~ Beta(alpha, alpha)); 0 = off (default). */
  mixup: number;
  /** Dropout rate before the classifier, in [0, 1) (vgg, nf-resnet, nfnet); default: the model's (0; 0.2 for nfnet). */
  dropout?: number;
  /** Stochastic depth (final drop rate), in [0, 1) (nf-resnet, nfnet); default: the model's (0; 0.1 for nfnet). */
  stochasticDepth?: number;
  /** Augmentation: `'auto'` (crop+flip for CIFAR-10, none otherwise), `'none'`, `'crop'` (pad 4), `'crop+flip'`. */
  augment: (typeof AUGMENT_NAMES)[number];
  /** Train on a seeded, class-stratified random subset of this many images; default: all. */
  trainSubset?: number;
  /** Evaluate on the first N test images; default: all. */
  testSubset?: number;
  /** Hold out this many training images (or this fraction, < 1) as the evaluation set instead of the test set. */
  validation?: number;
  /** Seed of initialization, data order, augmentation, mixup, dropout; default 0. */
  seed: number;
  /**
   * Worker threads for data-parallel training (Node; each worker computes the gradient of its `batchSize/workers`
   * images, gradients are averaged in shared memory, every worker applies the same update); default 1 (in-process).
   * Batch-independent norms train the same as with 1 (up to float32 summation order). BN/BRN normalise each worker's
   * own images: groups of `groupSize` inside a worker's shard (`groupSize` must divide `batchSize/workers`; unset, it
   * is the shard) — the papers' images per device.
   */
  workers: number;
  /** Backend; default `'auto'`. */
  backend: (typeof BACKEND_NAMES)[number];
  /** Output directory (metrics.jsonl, checkpoint/); default `'runs/train'`. */
  out: string;
  /** Checkpoint every N steps (and at each epoch end; 0 = epoch ends only); default 50. */
  checkpointEvery: number;
  /** Append a step line to metrics.jsonl every N steps (0 = epoch lines only); default 10. */
  logEvery: number;
  /** Evaluation batch size; default 256. */
  evalBatchSize: number;
  /** Stop when the loss exceeds this factor times the first step's loss; default 1000. */
  divergenceFactor: number;
  /** Stop when the loss exceeds this absolute value; default: no limit. */
  maxLoss?: number;
}

/** Defaults of every {@link TrainConfig} field. */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  dataset: 'mnist',
  synthetic: Object.freeze({ size: 8, channels: 1, classes: 10, train: 512, test: 256 }) as TrainConfig['synthetic'],
  model: 'resnet',
  depth: 20,
  norm: 'frn',
  batchSize: 32,
  epochs: 3,
  lr: 0.1,
  momentum: 0.9,
  nesterov: false,
  weightDecay: 5e-4,
  decayFilter: 'all',
  warmupEpochs: 1,
  warmupShape: 'cosine',
  schedule: 'cosine',
  agc: 0,
  labelSmoothing: 0,
  mixup: 0,
  augment: 'auto',
  seed: 0,
  workers: 1,
  backend: 'auto',
  out: 'runs/train',
  checkpointEvery: 50,
  logEvery: 10,
  evalBatchSize: 256,
  divergenceFactor: 1000,
});

/** The settings without a default value (absent = "not used" or "the model's own"). */
export const OPTIONAL_SETTINGS: readonly string[] = ['dataDir', 'widths', 'groups', 'groupSize', 'bnMomentum', 'dropout', 'stochasticDepth', 'trainSubset', 'testSubset', 'validation', 'maxLoss'];

const OP = 'trainConfig';

function int(name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw argumentError(OP, name, v, `a whole number >= ${min}`);
}

function num(name: string, v: unknown, lo: number, hi: number, hiOpen: boolean, what?: string): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && v >= lo && (hiOpen ? v < hi : v <= hi);
  if (!ok) throw argumentError(OP, name, v, what ?? `a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}`);
}

/**
 * `DEFAULT_TRAIN_CONFIG` overridden by `partial`, checked: every field's type and range, and the
 * combinations (`groupSize` divides `batchSize`; the batch fits the training set). Unknown fields are errors
 * (a misspelt option would otherwise be ignored). Errors name the field, what was given and what was expected.
 */
export function resolveTrainConfig(partial: Partial<TrainConfig> = {}): TrainConfig {
  if (partial === null || typeof partial !== 'object') throw argumentError(OP, 'config', typeof partial, 'an object');
  const known = Object.keys(DEFAULT_TRAIN_CONFIG).concat(OPTIONAL_SETTINGS);
  for (const key of Object.keys(partial)) {
    if (!known.includes(key)) throw argumentError(OP, key, 'an unknown setting', `one of ${known.join(', ')}`);
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<TrainConfig>;
  const c: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    ...defined,
    norm: defined.norm ?? (typeof defined.model === 'string' && defined.model.startsWith('nf') ? 'none' : DEFAULT_TRAIN_CONFIG.norm),
    synthetic: { ...DEFAULT_TRAIN_CONFIG.synthetic, ...(defined.synthetic ?? {}) },
  };
  assertOneOf(OP, 'dataset', c.dataset, DATASET_NAMES);
  if (c.dataDir !== undefined && (typeof c.dataDir !== 'string' || c.dataDir === '')) throw argumentError(OP, 'dataDir', c.dataDir, 'a directory path');
  int('synthetic.size', c.synthetic.size, 1);
  int('synthetic.channels', c.synthetic.channels, 1);
  int('synthetic.classes', c.synthetic.classes, 2);
  int('synthetic.train', c.synthetic.train, 1);
  int('synthetic.test', c.synthetic.test, 1);
  if (typeof c.model !== 'string' || c.model === '') throw argumentError(OP, 'model', c.model, 'a model name');
  int('depth', c.depth, 1);
  if (c.widths !== undefined) {
    if (!Array.isArray(c.widths) || c.widths.length === 0) throw argumentError(OP, 'widths', c.widths, 'a non-empty list of whole numbers >= 1');
    c.widths.forEach((w, i) => int(`widths[${i}]`, w, 1));
  }
  if (typeof c.norm !== 'string' || c.norm === '') throw argumentError(OP, 'norm', c.norm, 'a normalization name');
  if (c.groups !== undefined) int('groups', c.groups, 1);
  int('batchSize', c.batchSize, 1);
  int('workers', c.workers, 1);
  if (c.batchSize % c.workers !== 0) throw argumentError(OP, 'workers', c.workers, `a divisor of the batch size ${c.batchSize} (each worker takes batchSize/workers images)`);
  if (c.workers > 1 && c.groupSize !== undefined && (c.batchSize / c.workers) % c.groupSize !== 0) {
    throw argumentError(OP, 'groupSize', c.groupSize, `a divisor of the ${c.batchSize / c.workers} images each of the ${c.workers} workers normalises`);
  }
  if (c.bnMomentum !== undefined) num('bnMomentum', c.bnMomentum, 0, 1, true);
  if (c.bnMomentum !== undefined && c.norm !== 'bn' && c.norm !== 'brn') throw argumentError(OP, 'bnMomentum', c.bnMomentum, `no value: norm '${c.norm}' has no moving statistics (only 'bn' and 'brn')`);
  if (c.groupSize !== undefined) {
    int('groupSize', c.groupSize, 1);
    if (c.batchSize % c.groupSize !== 0) throw argumentError(OP, 'groupSize', c.groupSize, `a divisor of the batch size ${c.batchSize}`);
  }
  int('epochs', c.epochs, 1);
  num('lr', c.lr, 0, Infinity, true, 'a finite number >= 0');
  num('momentum', c.momentum, 0, 1, true);
  if (typeof c.nesterov !== 'boolean') throw argumentError(OP, 'nesterov', c.nesterov, 'true or false');
  if (c.nesterov && c.momentum === 0) throw argumentError(OP, 'momentum', 0, 'a momentum > 0 when nesterov is on');
  num('weightDecay', c.weightDecay, 0, Infinity, true, 'a finite number >= 0');
  assertOneOf(OP, 'decayFilter', c.decayFilter, DECAY_FILTER_NAMES);
  num('warmupEpochs', c.warmupEpochs, 0, c.epochs, false, `a number of epochs in [0, epochs = ${c.epochs}]`);
  assertOneOf(OP, 'warmupShape', c.warmupShape, WARMUP_SHAPES);
  assertOneOf(OP, 'schedule', c.schedule, SCHEDULE_NAMES);
  num('agc', c.agc, 0, Infinity, true, 'a clipping factor > 0, or 0 for off');
  num('labelSmoothing', c.labelSmoothing, 0, 1, true);
  num('mixup', c.mixup, 0, Infinity, true, 'an alpha > 0, or 0 for off');
  if (c.dropout !== undefined) num('dropout', c.dropout, 0, 1, true);
  if (c.stochasticDepth !== undefined) num('stochasticDepth', c.stochasticDepth, 0, 1, true);
  assertOneOf(OP, 'augment', c.augment, AUGMENT_NAMES);
  if (c.trainSubset !== undefined) int('trainSubset', c.trainSubset, 1);
  if (c.testSubset !== undefined) int('testSubset', c.testSubset, 1);
  if (c.validation !== undefined) {
    const v = c.validation;
    if (!(typeof v === 'number' && ((v > 0 && v < 1) || (Number.isInteger(v) && v >= 1)))) {
      throw argumentError(OP, 'validation', v, 'a fraction in (0, 1) or a whole number of images >= 1');
    }
  }
  if (c.trainSubset !== undefined && c.trainSubset < c.batchSize) {
    throw argumentError(OP, 'trainSubset', c.trainSubset, `at least one batch (batchSize ${c.batchSize})`);
  }
  int('seed', c.seed, 0);
  assertOneOf(OP, 'backend', c.backend, BACKEND_NAMES);
  if (typeof c.out !== 'string' || c.out === '') throw argumentError(OP, 'out', c.out, 'a directory path');
  int('checkpointEvery', c.checkpointEvery, 0);
  int('logEvery', c.logEvery, 0);
  int('evalBatchSize', c.evalBatchSize, 1);
  num('divergenceFactor', c.divergenceFactor, 1, Infinity, true, 'a finite number > 1');
  if (c.divergenceFactor <= 1) throw argumentError(OP, 'divergenceFactor', c.divergenceFactor, 'a finite number > 1');
  if (c.maxLoss !== undefined) num('maxLoss', c.maxLoss, 0, Infinity, true, 'a finite number > 0');
  return c;
}

/**
 * The settings in which two configs differ (deep comparison of the JSON values), ignoring `ignore`. Used by
 * `--resume` to refuse a resume that would change the run.
 */
export function configDifferences(a: TrainConfig, b: TrainConfig, ignore: readonly string[] = []): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const k of keys) {
    if (ignore.includes(k)) continue;
    const va = JSON.stringify((a as unknown as Record<string, unknown>)[k]);
    const vb = JSON.stringify((b as unknown as Record<string, unknown>)[k]);
    if (va !== vb) out.push(k);
  }
  return out.sort();
}

/** Settings that may change on `--resume` without changing the computation. */
export const RESUMABLE_SETTINGS: readonly string[] = ['out', 'backend', 'checkpointEvery', 'dataDir', 'evalBatchSize'];
