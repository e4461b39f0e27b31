/**
 * Seeded subsets and train/validation splits, stratified by class by default. Browser-safe.
 * @module
 */
import { argumentError, assertOneOf } from '../ops/validate.js';
import { assertDataset, type Dataset, selectExamples } from './dataset.js';
import { deriveSeed, mulberry32, permutation, randomInt, STREAM } from './random.js';

/**
 * `count` distinct indices of `labels`, chosen at random from `seed`, returned in ascending order.
 * Stratified: each class gets `count * n_c / N` examples rounded by largest remainder (ties to the lower
 * class), so class proportions are kept to within one example. Not stratified: a uniform random subset.
 */
export function sampleIndices(labels: ArrayLike<number>, numClasses: number, count: number, seed: number, stratified = true): Int32Array {
  const op = 'sampleIndices';
  const N = labels.length;
  if (!Number.isInteger(count) || count < 0 || count > N) throw argumentError(op, 'count', count, `a whole number in [0, ${N}]`);
  if (!stratified) return permutation(N, seed).subarray(0, count).sort();
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < N; i++) {
    const l = labels[i];
    if (!(l >= 0 && l < numClasses)) throw argumentError(op, `labels[${i}]`, l, `a class in [0, ${numClasses - 1}]`);
    byClass[l].push(i);
  }
  const quotas = byClass.map((idx) => (count * idx.length) / N);
  const take = quotas.map(Math.floor);
  let missing = count - take.reduce((a, b) => a + b, 0);
  const byRemainder = quotas.map((q, c) => ({ c, r: q - Math.floor(q) })).sort((a, b) => b.r - a.r || a.c - b.c);
  for (const { c } of byRemainder) {
    if (missing === 0) break;
    if (take[c] < byClass[c].length) {
      take[c]++;
      missing--;
    }
  }
  const rng = mulberry32(seed);
  const out = new Int32Array(count);
  let at = 0;
  for (let c = 0; c < numClasses; c++) {
    const idx = byClass[c];
    // Partial Fisher–Yates: the first take[c] entries become a uniform sample of the class.
    for (let j = 0; j < take[c]; j++) {
      const r = j + randomInt(rng, idx.length - j);
      const t = idx[j];
      idx[j] = idx[r];
      idx[r] = t;
      out[at++] = idx[j];
    }
  }
  return out.sort();
}

/** Options of {@link subset}. */
export interface SubsetOptions {
  /** Number of examples to keep (≤ the dataset's count). */
  count: number;
  /** `'first'` (default): the first `count` examples; `'random'`: a seeded random sample. */
  mode?: 'first' | 'random';
  /** Seed of the random sample; default 0. */
  seed?: number;
  /** Keep class proportions in a random sample; default true. */
  stratified?: boolean;
}

/**
 * A smaller dataset: the first `count` examples, or a seeded (stratified) random sample kept in dataset order.
 * Named `<name>:first<count>` or `<name>:random<count>`.
 */
export function subset(ds: Dataset, options: SubsetOptions): Dataset {
  const op = 'subset';
  assertDataset(op, ds, 'dataset', false);
  const { count, mode = 'first', seed = 0, stratified = true } = options;
  if (!Number.isInteger(count) || count < 0 || count > ds.count) throw argumentError(op, 'options.count', count, `a whole number in [0, ${ds.count}] (the dataset's count)`);
  assertOneOf(op, 'options.mode', mode, ['first', 'random'] as const);
  if (mode === 'first') {
    return { ...ds, images: ds.images.slice(0, count * ds.height * ds.width * ds.channels), labels: ds.labels.slice(0, count), count, name: `${ds.name}:first${count}` };
  }
  const indices = sampleIndices(ds.labels, ds.numClasses, count, deriveSeed(seed, STREAM.subset), stratified);
  return selectExamples(ds, indices, `${ds.name}:random${count}`);
}

/** Options of {@link trainValidationSplit}. */
export interface SplitOptions {
  /** Size of the validation part: a whole number of examples (≥ 1), or a fraction in `(0, 1)`. */
  validation: number;
  /** Seed of the split; default 0. */
  seed?: number;
  /** Keep class proportions in both parts; default true. */
  stratified?: boolean;
}

/**
 * Splits `ds` into disjoint training and validation parts that together cover it, both kept in dataset
 * order, named `<name>:train` and `<name>:validation`. A fraction is rounded to the nearest whole count.
 */
export function trainValidationSplit(ds: Dataset, options: SplitOptions): { train: Dataset; validation: Dataset } {
  const op = 'trainValidationSplit';
  assertDataset(op, ds, 'dataset', false);
  const { validation, seed = 0, stratified = true } = options;
  let count: number;
  if (typeof validation === 'number' && validation > 0 && validation < 1) count = Math.round(validation * ds.count);
  else if (Number.isInteger(validation) && validation >= 1 && validation < ds.count) count = validation;
  else count = -1;
  if (count < 1 || count >= ds.count) {
    throw argumentError(op, 'options.validation', validation, `a fraction in (0, 1) or a whole number in [1, ${ds.count - 1}], leaving both parts non-empty (dataset of ${ds.count})`);
  }
  const valIdx = sampleIndices(ds.labels, ds.numClasses, count, deriveSeed(seed, STREAM.split), stratified);
  const inVal = new Uint8Array(ds.count);
  for (const i of valIdx) inVal[i] = 1;
  const trainIdx = new Int32Array(ds.count - count);
  let at = 0;
  for (let i = 0; i < ds.count; i++) if (inVal[i] === 0) trainIdx[at++] = i;
  return {
    train: selectExamples(ds, trainIdx, `${ds.name}:train`),
    validation: selectExamples(ds, valIdx, `${ds.name}:validation`),
  };
}
