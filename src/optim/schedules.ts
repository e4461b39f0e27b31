/**
 * Learning-rate schedules: pure functions from the step (0 = the first update) to the rate, and the linear
 * scaling of the base rate by batch size.
 *
 * The papers' recipes, in these terms:
 * - FRN (§4.1, §5): `warmupThen(cosineDecay({ peak, totalSteps: T - W }), { warmupSteps: W, shape: 'cosine' })`
 *   — a cosine ramp-up from 0 (FRN is sensitive to a high initial rate), then cosine decay; `peak` from
 *   `scaleByBatchSize(0.1, batch)`.
 * - NFNets (DeepMind's `WarmupCosineDecay`): the same with a linear ramp, `shape: 'linear'`, 5 epochs of warm-up.
 * - Step decay (`stepDecay`, factor 0.1 at fixed epochs): the classic ResNet recipe, e.g. PN's CIFAR runs.
 * @module
 */
import { argumentError, assertInteger, assertOneOf, assertPositive } from '../ops/validate.js';
import { assertKnownOptions, assertNonNegative } from './params.js';

/** A learning-rate schedule: the rate to use at `step` (0 = first update; fractional steps allowed). */
export type Schedule = (step: number) => number;

function checkStep(op: string, step: number): void {
  if (typeof step !== 'number' || !Number.isFinite(step) || step < 0) throw argumentError(op, 'step', step, 'a finite number >= 0');
}

function checkOptions(op: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw argumentError(op, 'options', typeof options, 'an options object');
  assertKnownOptions(op, options, known);
}

/** Half-cosine ease from 0 (t = 0) to 1 (t = 1). */
function cosineRamp(t: number): number {
  return 0.5 * (1 - Math.cos(Math.PI * t));
}

/** The same rate at every step. */
export function constantSchedule(value: number): Schedule {
  assertNonNegative('constantSchedule', 'value', value);
  return (step) => {
    checkStep('constantSchedule', step);
    return value;
  };
}

/** Options of {@link linearWarmup} and {@link cosineWarmup}. */
export interface WarmupOptions {
  /** Rate reached at the end of the warm-up and kept afterwards (≥ 0). */
  peak: number;
  /** Length of the warm-up in steps (whole number ≥ 1): the rate is `peak` from step `warmupSteps` on. */
  warmupSteps: number;
  /** Rate at step 0; default `0` (the papers ramp from 0, so the very first update is a no-op). */
  start?: number;
}

function warmup(op: string, options: WarmupOptions, ease: (t: number) => number): Schedule {
  checkOptions(op, options, ['peak', 'warmupSteps', 'start']);
  const { peak, warmupSteps, start = 0 } = options;
  assertNonNegative(op, 'peak', peak);
  assertInteger(op, 'warmupSteps', warmupSteps, 1);
  assertNonNegative(op, 'start', start);
  return (step) => {
    checkStep(op, step);
    return step >= warmupSteps ? peak : start + (peak - start) * ease(step / warmupSteps);
  };
}

/** Linear warm-up: `start + (peak - start) * step / warmupSteps` up to `warmupSteps`, then `peak`. */
export function linearWarmup(options: WarmupOptions): Schedule {
  return warmup('linearWarmup', options, (t) => t);
}

/**
 * Cosine warm-up (the FRN paper's "cosine ramp-up"): `start + (peak - start) * (1 - cos(pi * step / W)) / 2`
 * up to `W = warmupSteps`, then `peak`. Flat at both ends: it starts slower than the linear ramp.
 */
export function cosineWarmup(options: WarmupOptions): Schedule {
  return warmup('cosineWarmup', options, cosineRamp);
}

/** Options of {@link cosineDecay}. */
export interface CosineDecayOptions {
  /** Rate at step 0 (≥ 0). */
  peak: number;
  /** Steps of the decay (whole number ≥ 1); the rate is `final` from then on. */
  totalSteps: number;
  /** Rate at the end; default `0`. Must not exceed `peak`. */
  final?: number;
}

/** Cosine decay: `final + (peak - final) * (1 + cos(pi * min(step / totalSteps, 1))) / 2`. */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  const op = 'cosineDecay';
  checkOptions(op, options, ['peak', 'totalSteps', 'final']);
  const { peak, totalSteps, final = 0 } = options;
  assertNonNegative(op, 'peak', peak);
  assertInteger(op, 'totalSteps', totalSteps, 1);
  assertNonNegative(op, 'final', final);
  if (final > peak) throw argumentError(op, 'final', final, `a value <= peak (${peak})`);
  return (step) => {
    checkStep(op, step);
    return final + (peak - final) * (1 - cosineRamp(Math.min(step / totalSteps, 1)));
  };
}

/** Options of {@link stepDecay}. */
export interface StepDecayOptions {
  /** Rate before the first milestone (≥ 0). */
  base: number;
  /** Steps at which the rate is multiplied by `factor`: whole numbers ≥ 1, strictly increasing. */
  milestones: readonly number[];
  /** Multiplier at each milestone, in `(0, 1]`; default `0.1`. */
  factor?: number;
}

/** Step decay: `base * factor^k`, `k` = the number of milestones `<= step`. */
export function stepDecay(options: StepDecayOptions): Schedule {
  const op = 'stepDecay';
  checkOptions(op, options, ['base', 'milestones', 'factor']);
  const { base, milestones, factor = 0.1 } = options;
  assertNonNegative(op, 'base', base);
  if (!Array.isArray(milestones)) throw argumentError(op, 'milestones', typeof milestones, 'an array of steps');
  milestones.forEach((m, i) => {
    assertInteger(op, `milestones[${i}]`, m, 1);
    if (i > 0 && m <= milestones[i - 1]) throw argumentError(op, 'milestones', [...milestones], 'strictly increasing steps');
  });
  assertPositive(op, 'factor', factor);
  if (factor > 1) throw argumentError(op, 'factor', factor, 'a number in (0, 1]');
  const ms = [...milestones];
  return (step) => {
    checkStep(op, step);
    let k = 0;
    while (k < ms.length && ms[k] <= step) k++;
    return base * factor ** k;
  };
}

/** Options of {@link warmupThen}. */
export interface WarmupThenOptions {
  /** Steps of warm-up (whole number ≥ 0; 0 = no warm-up, the decay alone). */
  warmupSteps: number;
  /** Ramp shape: `'linear'` or `'cosine'` (the FRN paper's); default `'linear'`. */
  shape?: 'linear' | 'cosine';
  /** Rate at step 0; default `0`. */
  start?: number;
}

/**
 * Warm-up, then `decay`: steps `0..W-1` ramp from `start` to `decay(0)` (the decay's peak), and step
 * `s >= W` gives `decay(s - W)` — the decay's clock starts at the end of the warm-up, so a decay of
 * `T - W` steps ends at step `T` (DeepMind's `WarmupCosineDecay` does the same). Continuous at `W`.
 */
export function warmupThen(decay: Schedule, options: WarmupThenOptions): Schedule {
  const op = 'warmupThen';
  if (typeof decay !== 'function') throw argumentError(op, 'decay', typeof decay, 'a schedule (step) => rate');
  checkOptions(op, options, ['warmupSteps', 'shape', 'start']);
  const { warmupSteps, shape = 'linear', start = 0 } = options;
  assertInteger(op, 'warmupSteps', warmupSteps, 0);
  assertOneOf(op, 'shape', shape, ['linear', 'cosine']);
  assertNonNegative(op, 'start', start);
  const peak = decay(0);
  const ease = shape === 'cosine' ? cosineRamp : (t: number) => t;
  return (step) => {
    checkStep(op, step);
    return step >= warmupSteps ? decay(step - warmupSteps) : start + (peak - start) * ease(step / warmupSteps);
  };
}

/** Options of {@link scaleByBatchSize}. */
export interface BatchScalingOptions {
  /** The batch size `baseLr` was tuned for; default `256` (Goyal et al.; the FRN and NF papers). */
  referenceBatch?: number;
}

/**
 * Linear scaling rule: `baseLr * batchSize / referenceBatch` (e.g. `0.1 * 1024 / 256 = 0.4`). Use it for the
 * peak of a schedule.
 */
export function scaleByBatchSize(baseLr: number, batchSize: number, options: BatchScalingOptions = {}): number {
  const op = 'scaleByBatchSize';
  checkOptions(op, options, ['referenceBatch']);
  const { referenceBatch = 256 } = options;
  assertNonNegative(op, 'baseLr', baseLr);
  assertInteger(op, 'batchSize', batchSize, 1);
  assertInteger(op, 'referenceBatch', referenceBatch, 1);
  return (baseLr * batchSize) / referenceBatch;
}
