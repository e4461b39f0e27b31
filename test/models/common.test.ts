import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stagePlan } from '../../src/models/common.js';

describe('stagePlan', () => {
  it('strides the first block of every stage after the first; a block is a transition when strided or widening', () => {
    const plan = stagePlan(8, [8, 16, 16], [2, 1, 2]);
    assert.deepEqual(plan.map((p) => [p.id, p.stage, p.inWidth, p.width, p.stride, p.transition]), [
      ['s1b1', 0, 8, 8, 1, false],
      ['s1b2', 0, 8, 8, 1, false],
      ['s2b1', 1, 8, 16, 2, true],
      ['s3b1', 2, 16, 16, 2, true],
      ['s3b2', 2, 16, 16, 1, false],
    ]);
  });

  it('makes the first block a transition when the stem width differs from the first stage', () => {
    const [first, second] = stagePlan(4, [8], [2]);
    assert.deepEqual([first.inWidth, first.stride, first.transition], [4, 1, true]);
    assert.deepEqual([second.inWidth, second.transition], [8, false]);
  });
});
