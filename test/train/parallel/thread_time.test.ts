import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { threadTimes, type ThreadTimes } from '../../../src/train/parallel/thread_time.js';

describe('thread times', () => {
  test('CPU time grows with work on this thread; runnable wait is non-negative (Linux), else undefined', () => {
    const a = threadTimes();
    if (a === undefined) {
      assert.notEqual(process.platform, 'linux', 'Linux reports /proc/thread-self/schedstat');
      return;
    }
    let s = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 30) s += Math.sqrt(s + 1);
    const b = threadTimes() as ThreadTimes;
    assert.ok(s > 0);
    assert.ok(b.cpuMs - a.cpuMs > 5, `cpu ${b.cpuMs - a.cpuMs} ms for a 30 ms busy loop`);
    assert.ok(b.cpuMs - a.cpuMs <= performance.now() - t0 + 5);
    assert.ok(b.runnableWaitMs >= a.runnableWaitMs);
  });
});
