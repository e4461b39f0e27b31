/**
 * The arithmetic of the gradient all-reduce: a weighted mean of the workers' flat gradients, computed one
 * segment per worker (reduce-scatter) into one shared result that every worker then reads (all-gather by
 * shared memory). Pure functions on typed arrays; the threads and barriers are in `worker.ts`.
 * @module
 */
import { argumentError, assertInteger } from '../../ops/validate.js';

/**
 * The shard of a global batch of `batchSize` images that worker `rank` of `workers` computes: images
 * `[start, end)`, sizes differing by at most one (the first `batchSize % workers` workers take one more).
 */
export function shardOf(batchSize: number, workers: number, rank: number): { start: number; end: number } {
  const op = 'shardOf';
  assertInteger(op, 'workers', workers, 1);
  assertInteger(op, 'batchSize', batchSize, workers);
  assertInteger(op, 'rank', rank, 0);
  if (rank >= workers) throw argumentError(op, 'rank', rank, `a rank < workers (${workers})`);
  const base = Math.floor(batchSize / workers);
  const extra = batchSize % workers;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/** The part `[start, end)` of `length` values that worker `rank` of `workers` reduces. */
export function segmentOf(length: number, workers: number, rank: number): { start: number; end: number } {
  return { start: Math.floor((length * rank) / workers), end: Math.floor((length * (rank + 1)) / workers) };
}

/**
 * `out[j] = fround(sum_k weights[k] * grads[k * length + j])` for `j` in `[start, end)`, summed in float64 in
 * worker order `k = 0, 1, ...`: the same result whichever worker computes a given `j`, so all workers read
 * bit-identical means. With one worker of weight 1 it is an exact copy.
 * @param grads the workers' flat gradients, one block of `length` values per worker.
 * @param weights each worker's weight (its shard size over the batch size; they sum to 1).
 * @returns the index of the first non-finite mean in `[start, end)`, or -1 when all are finite.
 */
export function reduceSegment(grads: Float32Array, weights: readonly number[], length: number, out: Float32Array, start: number, end: number): number {
  const workers = weights.length;
  if (grads.length < workers * length) throw argumentError('reduceSegment', 'grads', `length ${grads.length}`, `at least ${workers} x ${length} values`);
  let firstBad = -1;
  if (workers === 1 && weights[0] === 1) {
    out.set(grads.subarray(start, end), start);
    for (let j = start; j < end; j++) {
      if (!Number.isFinite(out[j])) {
        firstBad = j;
        break;
      }
    }
    return firstBad;
  }
  for (let j = start; j < end; j++) {
    let s = 0;
    for (let k = 0; k < workers; k++) s += weights[k] * grads[k * length + j];
    out[j] = s;
    if (firstBad < 0 && !Number.isFinite(out[j])) firstBad = j;
  }
  return firstBad;
}

/**
 * A 32-bit hash (FNV-1a over 32-bit words, with a shift to mix the high bits down) of the bit patterns of float32 arrays, in order: equal iff (up to collisions) the arrays
 * hold bit-identical values. Used to check that the workers' parameters stay identical.
 */
export function checksum(arrays: readonly Float32Array[]): number {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const words = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < words.length; i++) {
      h = Math.imul(h ^ words[i], 0x01000193);
      h ^= h >>> 13;
    }
  }
  return h >>> 0;
}
