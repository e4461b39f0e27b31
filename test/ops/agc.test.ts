import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { adaptiveGradientClip, unitwiseNorm } from '../../src/ops/agc.js';
import { Arr, assertClose, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';

/** Units of a tensor as lists of flat indices: per last-axis index for rank >= 2, the whole tensor otherwise. */
function units(shape: number[]): number[][] {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length <= 1) return [Array.from({ length: size }, (_, i) => i)];
  const out = shape[shape.length - 1];
  return Array.from({ length: out }, (_, o) => Array.from({ length: size / out }, (_, k) => k * out + o));
}

function norm(a: Float64Array, idx: number[]): number {
  return Math.sqrt(idx.reduce((s, i) => s + a[i] * a[i], 0));
}

/** Independent float64 reference of AGC; also returns which units were clipped. */
function agcReference(g: Float64Array, w: Float64Array, shape: number[], clipping: number, eps: number): { y: Float64Array; clipped: boolean[] } {
  const y = g.slice();
  const clipped: boolean[] = [];
  for (const idx of units(shape)) {
    const limit = clipping * Math.max(norm(w, idx), eps);
    const gn = norm(g, idx);
    clipped.push(gn > limit);
    if (gn > limit) for (const i of idx) y[i] = g[i] * limit / Math.max(gn, 1e-6);
  }
  return { y, clipped };
}

/** A gradient whose unit `u` has norm `ratios[u] * ||W_u||`. */
function gradWithRatios(w: Arr, ratios: number[], seed: number): Arr {
  const g = randn(w.shape, seed);
  units(w.shape).forEach((idx, u) => {
    const f = ratios[u] * norm(w.data, idx) / norm(g.data, idx);
    for (const i of idx) g.data[i] *= f;
  });
  return g;
}

describe('unitwiseNorm', () => {
  before(useCpu);

  for (const shape of [[3, 3, 2, 4], [5, 3], [2, 3, 4], [7], []]) {
    it(`shape [${shape}]: the norm of each output unit (whole tensor for rank <= 1), broadcastable to the input`, () => {
      const t = randn(shape, 1);
      const n = unitwiseNorm(tensor(t));
      const want = shape.length <= 1 ? (shape.length === 0 ? [] : [1]) : [...shape.slice(0, -1).map(() => 1), shape[shape.length - 1]];
      assert.deepEqual(n.shape, want);
      assertClose(values(n), units(shape).map((idx) => norm(t.data, idx)), 1e-6, 'norm');
    });
  }
});

describe('adaptiveGradientClip', () => {
  before(useCpu);

  const cases: Array<{ name: string; shape: number[]; ratios: number[]; clipping?: number; scale?: number }> = [
    // clipping 0.01: ratios below 0.01 stay, above are clipped; 0.0099 / 0.0101 sit on both sides of the limit.
    { name: 'conv kernel, units on both sides of the limit', shape: [3, 3, 2, 4], ratios: [0.001, 0.0099, 0.0101, 0.5] },
    { name: 'dense kernel, clipping 0.1', shape: [5, 3], ratios: [0.05, 0.2, 3], clipping: 0.1 },
    { name: 'vector (bias): the whole tensor is one unit, clipped', shape: [7], ratios: [0.02] },
    { name: 'vector (bias): the whole tensor is one unit, kept', shape: [7], ratios: [0.005] },
    { name: 'scalar', shape: [], ratios: [4] },
    { name: 'magnitudes 1e3', shape: [2, 2, 3, 3], ratios: [1e-3, 1, 1e3], scale: 1e3 },
    { name: 'magnitudes 1e-4 (||W|| under the eps floor 1e-3)', shape: [2, 2, 3, 3], ratios: [1e-3, 1, 1e3], scale: 1e-4 },
  ];

  for (const [k, tc] of cases.entries()) {
    it(`matches the float64 reference: ${tc.name}`, () => {
      const clipping = tc.clipping ?? 0.01;
      const w = randn(tc.shape, 10 + k, tc.scale ?? 1);
      const g = gradWithRatios(w, tc.ratios, 20 + k);
      const { y, clipped } = agcReference(g.data, w.data, tc.shape, clipping, 1e-3);
      if (tc.scale === undefined) {
        // The construction puts each unit where intended (the reference agrees with the ratios).
        assert.deepEqual(clipped, tc.ratios.map((r) => r > clipping));
      }
      const [gt, wt] = [g, w].map(tensor);
      const got = values(adaptiveGradientClip(gt, wt, { clipping: tc.clipping }));
      assertClose(got, y, 1e-6, 'clipped gradient');
      const g32 = values(gt);
      units(tc.shape).forEach((idx, u) => {
        if (!clipped[u]) {
          for (const i of idx) assert.equal(got[i], g32[i], `unit ${u} must be unchanged`);
        } else {
          const limit = clipping * Math.max(norm(w.data, idx), 1e-3);
          assert.ok(Math.abs(norm(got, idx) / limit - 1) < 1e-5, `unit ${u}: norm ${norm(got, idx)} vs limit ${limit}`);
        }
      });
      tf.dispose([gt, wt]);
    });
  }

  it('zero parameters: the limit is clipping * eps; a zero gradient stays zero (no NaN)', () => {
    const w = tf.zeros([3, 3, 2, 4]);
    const g = tensor(randn([3, 3, 2, 4], 3));
    const y = values(adaptiveGradientClip(g, w, { clipping: 0.01, eps: 1e-3 }));
    const want = agcReference(values(g), new Float64Array(72), [3, 3, 2, 4], 0.01, 1e-3);
    assertClose(y, want.y, 1e-6, 'clipped to 1e-5');
    for (const idx of units([3, 3, 2, 4])) assert.ok(Math.abs(norm(y, idx) - 1e-5) < 1e-10);
    const z = values(adaptiveGradientClip(tf.zeros([3, 3, 2, 4]), w));
    assert.ok(z.every((v) => v === 0));
    const zb = values(adaptiveGradientClip(tf.zeros([4]), tf.zeros([4])));
    assert.ok(zb.every((v) => v === 0));
    tf.dispose([w, g]);
  });

  it('rejects bad input with errors naming the argument', () => {
    const w = tf.ones([3, 4]);
    assert.throws(() => adaptiveGradientClip(tf.ones([4, 3]), w), /adaptiveGradientClip: argument 'grad'.*shape \[4,3\].*'param' \[3,4\]/);
    assert.throws(() => adaptiveGradientClip(tf.ones([3, 4, 1]), w), /argument 'grad'/);
    assert.throws(() => adaptiveGradientClip(tf.ones([3, 4]), w, { clipping: 0 }), /argument 'clipping'.*got 0/);
    assert.throws(() => adaptiveGradientClip(tf.ones([3, 4]), w, { eps: -1 }), /argument 'eps'/);
    w.dispose();
  });

  it('leaks no tensor', () => {
    const w = tf.randomNormal([3, 3, 2, 4]), g = tf.randomNormal([3, 3, 2, 4]);
    assertNoLeak(() => adaptiveGradientClip(g, w).dispose(), 'clip');
    assertNoLeak(() => unitwiseNorm(w).dispose(), 'unitwiseNorm');
    tf.dispose([w, g]);
  });
});
