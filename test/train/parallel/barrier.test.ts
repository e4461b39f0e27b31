import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { once } from 'node:events';
import {
  ABORT_BY_MAIN, abortBarrier, abortedBy, Barrier, BarrierAbortedError, BarrierTimeoutError, createBarrierState,
} from '../../../src/train/parallel/barrier.js';
import { startModuleWorker } from '../../../src/train/parallel/spawn.js';

describe('shared-memory barrier', () => {
  test('three threads (main + 2 workers) stay in lock-step for 200 rounds; an abort wakes a waiting thread', async () => {
    const parties = 3, rounds = 200;
    const state = createBarrierState(parties);
    const slots = new Int32Array(new SharedArrayBuffer(4 * parties));
    const url = new URL('./fixtures/barrier_worker.ts', import.meta.url);
    const workers = [1, 2].map((rank) => startModuleWorker(url, { workerData: { state, slots, parties, rank, rounds, abortAfterMs: rank === 2 ? 50 : undefined } }));
    const replies = workers.map((w) => once(w, 'message'));
    try {
      // The main thread is rank 0 (Node allows Atomics.wait on the main thread).
      const barrier = new Barrier(state, parties, 0, 10_000);
      let bad = 0;
      for (let i = 1; i <= rounds; i++) {
        Atomics.store(slots, 0, i);
        barrier.wait();
        for (let r = 0; r < parties; r++) if (Atomics.load(slots, r) !== i) bad++;
        barrier.wait();
      }
      assert.equal(bad, 0, 'main thread saw a slot from another round');
      assert.deepEqual((await Promise.all(replies)).map(([m]) => m), [0, 0], 'workers saw slots from another round');
      // Worker 2 aborts 50 ms after its last round: a wait already in progress must end with its rank.
      const t0 = performance.now();
      assert.throws(() => barrier.wait(), (e: unknown) => e instanceof BarrierAbortedError && e.by === 2 && /worker 2/.test(e.message));
      assert.ok(performance.now() - t0 < 5000, 'the abort did not wake the waiting thread promptly');
      assert.equal(abortedBy(state), 2);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });

  test('a wait nobody joins times out, names the missing ranks, and aborts the barrier for the others', () => {
    const state = createBarrierState(3);
    const t0 = performance.now();
    assert.throws(() => new Barrier(state, 3, 1, 60).wait(), (e: unknown) => {
      assert.ok(e instanceof BarrierTimeoutError);
      assert.deepEqual(e.missing, [0, 2]);
      assert.match(e.message, /60 ms.*worker\(s\) 0, 2/);
      return true;
    });
    const dt = performance.now() - t0;
    assert.ok(dt >= 55 && dt < 2000, `timed out after ${dt} ms`);
    assert.equal(abortedBy(state), 1);
    assert.throws(() => new Barrier(state, 3, 0, 1000).wait(), BarrierAbortedError);
  });

  test('the first abort wins; an aborted barrier fails at once; the main thread is named as such', () => {
    const state = createBarrierState(2);
    assert.equal(abortedBy(state), undefined);
    abortBarrier(state, ABORT_BY_MAIN);
    abortBarrier(state, 1);
    assert.equal(abortedBy(state), ABORT_BY_MAIN);
    const t0 = performance.now();
    assert.throws(() => new Barrier(state, 2, 0, 10_000).wait(), /aborted: the main thread/);
    assert.ok(performance.now() - t0 < 100);
  });

  test('one party never waits', () => {
    const b = new Barrier(createBarrierState(1), 1, 0, 10);
    for (let i = 0; i < 3; i++) b.wait();
  });

  test('bad arguments name the argument', () => {
    const state = createBarrierState(2);
    assert.throws(() => createBarrierState(0), /'parties'/);
    assert.throws(() => new Barrier(new Int32Array(8), 2, 0, 10), /'state'.*SharedArrayBuffer/);
    assert.throws(() => new Barrier(state, 9, 0, 10), /'state'.*9 parties/);
    assert.throws(() => new Barrier(state, 2, 2, 10), /'rank'.*got 2/);
    assert.throws(() => new Barrier(state, 2, -1, 10), /'rank'/);
    assert.throws(() => new Barrier(state, 2, 0, 0), /'timeoutMs'/);
  });
});
