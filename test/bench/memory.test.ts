import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { retainedGrowth } from '../../src/bench/memory.js';

/** A garbage collector's sawtooth: rises by `rise` per step, drops back to the floor every `period` steps. */
function sawtooth(n: number, period: number, rise: number, floor: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => floor(i) + (i % period) * rise);
}

describe('retainedGrowth', () => {
  it('ignores where the sawtooth happens to stand at the first and last sample', () => {
    // Flat: the floor stays at 200; the last sample sits at the top of a tooth, the first at the bottom.
    const flat = sawtooth(500, 37, 0.5, () => 200);
    assert.ok(flat[flat.length - 1] - flat[0] > 8, 'the naive last - first would call it growing');
    assert.equal(retainedGrowth(flat), 0);
  });

  it('measures the growth of the floor (a leak)', () => {
    const leaking = sawtooth(500, 37, 0.5, (i) => 200 + 0.02 * i);
    // Lowest of the last 125 samples minus lowest of the first 125: floors at the first drop of each quarter.
    const q = 125;
    const lowLast = Math.min(...leaking.slice(500 - q)), lowFirst = Math.min(...leaking.slice(0, q));
    assert.equal(retainedGrowth(leaking), lowLast - lowFirst);
    assert.ok(retainedGrowth(leaking) > 7 && retainedGrowth(leaking) < 10);
  });

  it('takes one sample per quarter at least, and 0 for no samples', () => {
    assert.equal(retainedGrowth([5, 9]), 4);
    assert.equal(retainedGrowth([7]), 0);
    assert.equal(retainedGrowth([]), 0);
  });
});
