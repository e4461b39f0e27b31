/**
 * A reusable barrier for worker threads over a `SharedArrayBuffer` (`Atomics.wait` / `Atomics.notify`), with a
 * timeout and an abort flag, so that a failing or stuck thread never leaves the others waiting forever.
 *
 * Layout of the shared `Int32Array` (length {@link barrierWords}`(parties)`):
 * `[count, generation, abort, arrived_0 .. arrived_{n-1}]`. A thread arrives by incrementing `count`; the last one
 * resets it and increments `generation`, which wakes the others. `arrived_r` is the generation thread `r` last
 * reached (to name the threads a timed-out wait was waiting for). `abort` is 0, or `1 + rank` of the thread that
 * failed, or {@link ABORT_BY_MAIN}; once set, every wait throws a {@link BarrierAbortedError}.
 *
 * Node-only in practice (`Atomics.wait` is not allowed on a browser's main thread).
 * @module
 */
import { argumentError, assertInteger } from '../../ops/validate.js';

const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;
const ARRIVED = 3;

/** Value of the abort word when the controlling (main) thread aborted, not a worker. */
export const ABORT_BY_MAIN = -1;

/** Number of `Int32` words a barrier for `parties` threads needs. */
export function barrierWords(parties: number): number {
  return ARRIVED + parties;
}

/** A new shared `Int32Array` holding the state of a barrier for `parties` threads (all zero). */
export function createBarrierState(parties: number): Int32Array {
  assertInteger('createBarrierState', 'parties', parties, 1);
  return new Int32Array(new SharedArrayBuffer(4 * barrierWords(parties)));
}

/** Thrown by a wait after another thread aborted the barrier. */
export class BarrierAbortedError extends Error {
  constructor(
    /** Rank of the thread that aborted, or {@link ABORT_BY_MAIN}. */
    readonly by: number,
  ) {
    super(`aborted: ${by === ABORT_BY_MAIN ? 'the main thread' : `worker ${by}`} failed or stopped the step`);
    this.name = 'BarrierAbortedError';
  }
}

/** Thrown by a wait that did not complete in time. */
export class BarrierTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    /** Ranks that had not arrived. */
    readonly missing: number[],
  ) {
    super(`barrier timed out after ${timeoutMs} ms waiting for worker(s) ${missing.join(', ')}`);
    this.name = 'BarrierTimeoutError';
  }
}

/** The rank that aborted `state` (see {@link BarrierAbortedError.by}), or `undefined` when not aborted. */
export function abortedBy(state: Int32Array): number | undefined {
  const v = Atomics.load(state, ABORT);
  return v === 0 ? undefined : v === ABORT_BY_MAIN ? ABORT_BY_MAIN : v - 1;
}

/**
 * Marks the barrier aborted by `by` (a rank, or {@link ABORT_BY_MAIN}) and wakes every waiting thread. The first
 * abort wins (later ones keep the original culprit). Safe from any thread.
 */
export function abortBarrier(state: Int32Array, by: number): void {
  Atomics.compareExchange(state, ABORT, 0, by === ABORT_BY_MAIN ? ABORT_BY_MAIN : by + 1);
  Atomics.notify(state, GENERATION);
}

/** One thread's handle on a shared barrier. */
export class Barrier {
  /**
   * @param state the shared state ({@link createBarrierState}), the same array (buffer) in every thread.
   * @param parties number of threads that meet at the barrier.
   * @param rank this thread's rank in `[0, parties)`.
   * @param timeoutMs how long {@link wait} waits for the others before throwing a {@link BarrierTimeoutError}.
   */
  constructor(readonly state: Int32Array, readonly parties: number, readonly rank: number, readonly timeoutMs: number) {
    const op = 'Barrier';
    if (!(state instanceof Int32Array) || !(state.buffer instanceof SharedArrayBuffer)) {
      throw argumentError(op, 'state', state, 'an Int32Array over a SharedArrayBuffer (createBarrierState)');
    }
    assertInteger(op, 'parties', parties, 1);
    if (state.length < barrierWords(parties)) throw argumentError(op, 'state', `length ${state.length}`, `at least ${barrierWords(parties)} words for ${parties} parties`);
    assertInteger(op, 'rank', rank, 0);
    if (rank >= parties) throw argumentError(op, 'rank', rank, `a rank < parties (${parties})`);
    if (!(typeof timeoutMs === 'number' && timeoutMs > 0)) throw argumentError(op, 'timeoutMs', timeoutMs, 'a number of milliseconds > 0');
  }

  /**
   * Blocks until all `parties` threads have called `wait` (for this round), then returns.
   * @throws {BarrierAbortedError} when the barrier is or becomes aborted (checked on entry and while waiting).
   * @throws {BarrierTimeoutError} after `timeoutMs`; the barrier is then aborted (by this rank) for the others too.
   */
  wait(): void {
    const s = this.state;
    const by = abortedBy(s);
    if (by !== undefined) throw new BarrierAbortedError(by);
    const generation = Atomics.load(s, GENERATION);
    Atomics.store(s, ARRIVED + this.rank, generation + 1);
    if (Atomics.add(s, COUNT, 1) === this.parties - 1) {
      Atomics.store(s, COUNT, 0);
      Atomics.add(s, GENERATION, 1);
      Atomics.notify(s, GENERATION);
      return;
    }
    const deadline = performance.now() + this.timeoutMs;
    while (Atomics.load(s, GENERATION) === generation) {
      const aborted = abortedBy(s);
      if (aborted !== undefined) throw new BarrierAbortedError(aborted);
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(s, GENERATION, generation, left) === 'timed-out') {
        if (Atomics.load(s, GENERATION) !== generation) return;
        const missing: number[] = [];
        for (let r = 0; r < this.parties; r++) if (Atomics.load(s, ARRIVED + r) !== generation + 1) missing.push(r);
        abortBarrier(s, this.rank);
        throw new BarrierTimeoutError(this.timeoutMs, missing);
      }
    }
  }
}
