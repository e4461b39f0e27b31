import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  constantSchedule, cosineDecay, cosineWarmup, linearWarmup, scaleByBatchSize, Schedule, stepDecay, warmupThen,
} from '../../src/optim/schedules.js';

const close = (a: number, b: number, label: string, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${label}: ${a} != ${b}`);

/** Asserts `f` is non-decreasing (`dir` 1) or non-increasing (`dir` -1) on `0..n` (every step and half-steps). */
function assertMonotone(f: Schedule, n: number, dir: 1 | -1, label: string): void {
  let prev = f(0);
  for (let s = 0.5; s <= n; s += 0.5) {
    const v = f(s);
    assert.ok(dir * (v - prev) >= -1e-15, `${label}: not monotone at step ${s} (${prev} -> ${v})`);
    prev = v;
  }
}

describe('learning-rate schedules', () => {
  it('constantSchedule', () => {
    const f = constantSchedule(0.3);
    for (const s of [0, 1, 17.5, 1e6]) assert.equal(f(s), 0.3);
  });

  it('linearWarmup: start at 0, peak at the end of the warm-up, halfway in the middle, flat after', () => {
    const f = linearWarmup({ peak: 0.4, warmupSteps: 10 });
    close(f(0), 0, 'step 0');
    close(f(5), 0.2, 'mid');
    close(f(2.5), 0.1, 'quarter');
    close(f(10), 0.4, 'end of warm-up');
    close(f(1000), 0.4, 'after');
    assertMonotone(f, 20, 1, 'linearWarmup');
    const g = linearWarmup({ peak: 1, warmupSteps: 4, start: 0.2 });
    close(g(0), 0.2, 'start');
    close(g(2), 0.6, 'mid with start');
  });

  it("cosineWarmup (FRN's cosine ramp-up): 0, half at mid-warm-up, peak at the end; slower than linear at first", () => {
    const f = cosineWarmup({ peak: 0.4, warmupSteps: 10 });
    close(f(0), 0, 'step 0');
    close(f(5), 0.2, 'mid');
    close(f(10), 0.4, 'end of warm-up');
    close(f(11), 0.4, 'after');
    // (1 - cos(pi/4)) / 2 = 0.1464466...
    close(f(2.5), 0.4 * (1 - Math.SQRT1_2) / 2, 'quarter');
    assert.ok(f(2.5) < linearWarmup({ peak: 0.4, warmupSteps: 10 })(2.5), 'slower start than linear');
    assert.ok(f(7.5) > 0.3, 'catches up after the middle');
    assertMonotone(f, 20, 1, 'cosineWarmup');
  });

  it('cosineDecay: peak at 0, the mean of peak and final at mid, final at the end and after', () => {
    const f = cosineDecay({ peak: 0.4, totalSteps: 100, final: 0.004 });
    close(f(0), 0.4, 'step 0');
    close(f(50), 0.202, 'mid');
    close(f(100), 0.004, 'end');
    close(f(250), 0.004, 'after');
    // (1 + cos(pi/4)) / 2 of the range at a quarter
    close(f(25), 0.004 + 0.396 * (1 + Math.SQRT1_2) / 2, 'quarter');
    assertMonotone(f, 150, -1, 'cosineDecay');
    close(cosineDecay({ peak: 1, totalSteps: 10 })(10), 0, 'final defaults to 0');
  });

  it('stepDecay: multiplies by the factor at each milestone', () => {
    const f = stepDecay({ base: 0.1, milestones: [30, 60, 80] });
    close(f(0), 0.1, 'start');
    close(f(29.9), 0.1, 'before the first milestone');
    close(f(30), 0.01, 'at the first milestone');
    close(f(59), 0.01, 'between');
    close(f(60), 0.001, 'second');
    close(f(500), 1e-4, 'after the last');
    assertMonotone(f, 100, -1, 'stepDecay');
    close(stepDecay({ base: 1, milestones: [2], factor: 0.5 })(2), 0.5, 'factor');
    close(stepDecay({ base: 1, milestones: [] })(1e9), 1, 'no milestones');
  });

  it('warmupThen: ramps to the decay\'s peak, then runs the decay from the end of the warm-up', () => {
    const W = 10, T = 110;
    for (const shape of ['linear', 'cosine'] as const) {
      const f = warmupThen(cosineDecay({ peak: 0.8, totalSteps: T - W }), { warmupSteps: W, shape });
      close(f(0), 0, `${shape}: step 0`);
      close(f(W / 2), 0.4, `${shape}: mid-warm-up`);
      close(f(W), 0.8, `${shape}: end of warm-up = peak`);
      close(f(W + (T - W) / 2), 0.4, `${shape}: mid-decay`);
      close(f(T), 0, `${shape}: end`);
      assert.ok(Math.abs(f(W - 1e-6) - f(W)) < 1e-5, `${shape}: continuous at the end of the warm-up`);
      assertMonotone(f, W, 1, `${shape} warm-up part`);
      assertMonotone((s) => f(W + s), T - W + 5, -1, `${shape} decay part`);
    }
    const lin = warmupThen(cosineDecay({ peak: 0.8, totalSteps: 100 }), { warmupSteps: 10 });
    close(lin(2.5), 0.2, 'linear by default');
    // with step decay, and a non-zero start
    const g = warmupThen(stepDecay({ base: 0.1, milestones: [10] }), { warmupSteps: 5, start: 0.05 });
    close(g(0), 0.05, 'start');
    close(g(5), 0.1, 'peak');
    close(g(14), 0.1, 'before the milestone (offset by the warm-up)');
    close(g(15), 0.01, 'milestone counted from the end of the warm-up');
    // no warm-up: the decay itself
    const d = cosineDecay({ peak: 1, totalSteps: 10 });
    const h = warmupThen(d, { warmupSteps: 0 });
    for (const s of [0, 3, 10]) assert.equal(h(s), d(s));
  });

  it('is a pure function of the step (same value in any call order)', () => {
    const f = warmupThen(cosineDecay({ peak: 0.5, totalSteps: 90 }), { warmupSteps: 10, shape: 'cosine' });
    const forward = Array.from({ length: 101 }, (_, s) => f(s));
    const backward = Array.from({ length: 101 }, (_, s) => f(100 - s)).reverse();
    assert.deepEqual(backward, forward);
  });

  it('scaleByBatchSize: baseLr * batch / reference', () => {
    close(scaleByBatchSize(0.1, 1024), 0.4, 'batch 1024, reference 256');
    close(scaleByBatchSize(0.1, 4096), 1.6, 'NFNet batch 4096');
    close(scaleByBatchSize(0.1, 32), 0.0125, 'batch 32');
    close(scaleByBatchSize(0.1, 64, { referenceBatch: 128 }), 0.05, 'reference 128');
  });

  it('rejects bad arguments, naming them', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => linearWarmup({ peak: 0.1, warmupSteps: 10 })(-1), /linearWarmup: argument 'step'.*-1/],
      [() => cosineDecay({ peak: 0.1, totalSteps: 10 })(Number.NaN), /'step'/],
      [() => constantSchedule(-0.1), /constantSchedule: argument 'value'/],
      [() => linearWarmup({ peak: -0.1, warmupSteps: 10 }), /'peak'/],
      [() => cosineWarmup({ peak: 0.1, warmupSteps: 0 }), /'warmupSteps'.*>= 1/],
      [() => cosineWarmup({ peak: 0.1, warmupSteps: 2.5 }), /'warmupSteps'/],
      [() => cosineDecay({ peak: 0.1, totalSteps: 10, final: 0.2 }), /'final'.*<= peak/],
      [() => cosineDecay({ peak: 0.1, totalSteps: 0 }), /'totalSteps'/],
      [() => stepDecay({ base: 0.1, milestones: [30, 20] }), /'milestones'.*increasing/],
      [() => stepDecay({ base: 0.1, milestones: [0] }), /'milestones\[0\]'/],
      [() => stepDecay({ base: 0.1, milestones: [10], factor: 2 }), /'factor'.*\(0, 1\]/],
      [() => stepDecay({ base: 0.1, milestones: [10], factor: 0 }), /'factor'/],
      [() => warmupThen(constantSchedule(0.1), { warmupSteps: 5, shape: 'exp' as never }), /'shape'.*'exp'/],
      [() => warmupThen(0.1 as never, { warmupSteps: 5 }), /'decay'/],
      [() => warmupThen(constantSchedule(0.1), { warmupSteps: -1 }), /'warmupSteps'/],
      [() => linearWarmup({ peak: 0.1, warmup: 5 } as never), /'options'.*'warmup'/],
      [() => scaleByBatchSize(-0.1, 32), /'baseLr'/],
      [() => scaleByBatchSize(0.1, 0), /'batchSize'/],
      [() => scaleByBatchSize(0.1, 32, { referenceBatch: 0 }), /'referenceBatch'/],
      [() => scaleByBatchSize(0.1, 32, { reference: 128 } as never), /'options'.*'reference'/],
    ];
    for (const [fn, re] of bad) assert.throws(fn, re, re.source);
  });
});
