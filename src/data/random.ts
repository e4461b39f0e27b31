/**
 * Seeded randomness for the input pipeline: a small generator, seed derivation for independent streams
 * (shuffle order, augmentation, splits) and permutations. Every epoch's order is a pure function of
 * `(seed, epoch)`, so a run can be resumed or replayed exactly. Browser-safe.
 * @module
 */
import { argumentError } from '../ops/validate.js';

/** A generator of uniform numbers in `[0, 1)`. */
export type Rng = () => number;

/**
 * Mulberry32 (Tommy Ettinger's 32-bit generator): period 2^32, good enough for shuffling and augmentation.
 * @param seed any number; only its low 32 bits are used.
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** MurmurHash3's 32-bit finaliser: a bijective mix of a 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit seed derived from `seed` and a list of stream identifiers (e.g. `deriveSeed(seed, epoch, STREAM)`),
 * so that neighbouring seeds and epochs give unrelated streams.
 * @param seed a whole number (its low 32 bits are used).
 * @param parts whole numbers identifying the stream.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  for (const p of parts) h = fmix32((h ^ fmix32((p >>> 0) + 0x7f4a7c15)) + 0x165667b1);
  return h;
}

/** A uniform whole number in `[0, n)`. */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Shuffles `a` in place (Fisher–Yates) and returns it. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(a: T, rng: Rng): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/**
 * A uniformly random permutation of `0..n-1` drawn from `seed`.
 * @param n a whole number ≥ 0.
 */
export function permutation(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw argumentError('permutation', 'n', n, 'a whole number >= 0');
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return shuffleInPlace(out, mulberry32(seed));
}

/** Stream identifiers of {@link deriveSeed} used inside batchfree's data pipeline. @internal */
export const STREAM = { shuffle: 1, augment: 2, split: 3, subset: 4, synthetic: 5 } as const;

/**
 * The order in which epoch `epoch` visits the `n` examples: a permutation that depends only on `(seed, epoch)`.
 * @param n number of examples.
 * @param seed the run's data seed.
 * @param epoch the epoch number (whole number ≥ 0).
 */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  if (!Number.isInteger(epoch) || epoch < 0) throw argumentError('epochOrder', 'epoch', epoch, 'a whole number >= 0');
  return permutation(n, deriveSeed(seed, STREAM.shuffle, epoch));
}
