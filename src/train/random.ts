/**
 * Counter-based randomness of the training loop. Every random draw of a run is a pure function of the run's seed
 * and a counter (the global step, the epoch), so the "RNG state" of a checkpoint is just `(seed, step, epoch)`
 * and a resumed run replays exactly the draws an uninterrupted run makes.
 *
 * TF.js draws from `Math.random` whenever a random op or a tfjs-layers initializer / dropout gets no seed (its
 * `UniformRandom`/`MPRandGauss` seed themselves with `Math.random()`). {@link withSeededMathRandom} swaps in a
 * seeded generator for the duration of a synchronous call (model construction, one training step), which makes
 * unseeded initializers, dropout and stochastic depth repeatable too. Browser-safe.
 * @module
 */
import { deriveSeed, mulberry32 } from '../data/random.js';

/** Stream identifiers for {@link deriveSeed} used by the training loop (the data pipeline uses 1..5). */
export const TRAIN_STREAM = { init: 101, step: 102, mixup: 103 } as const;

/** The seed of stream `stream` at counter `counter` of the run seeded `seed`. */
export function streamSeed(seed: number, stream: number, counter = 0): number {
  return deriveSeed(seed, stream, counter);
}

/** A uniform generator in `[0, 1)` for stream `stream` at counter `counter`. */
export function streamRng(seed: number, stream: number, counter = 0): () => number {
  return mulberry32(streamSeed(seed, stream, counter));
}

/**
 * Runs the synchronous `fn` with `Math.random` replaced by a generator seeded with `seed`, restoring the original
 * afterwards (also when `fn` throws). `fn` must not be async: the swap lasts only for the synchronous call.
 */
export function withSeededMathRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    const out = fn();
    if (out instanceof Promise) throw new Error('withSeededMathRandom: fn must be synchronous (it returned a Promise)');
    return out;
  } finally {
    Math.random = original;
  }
}
