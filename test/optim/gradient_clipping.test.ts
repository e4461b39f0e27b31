import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { clipGradients, withAdaptiveGradientClipping } from '../../src/optim/gradient_clipping.js';
import { SGD } from '../../src/optim/sgd.js';
import { NamedVariable } from '../../src/optim/params.js';
import { assertClose, assertNoLeak, randn, useCpu, values } from '../helpers.js';

const f32 = (a: Float64Array): Float64Array => Float64Array.from(Float32Array.from(a));

/**
 * Independent float64 AGC: units = output channels (last axis) for rank >= 2, the whole tensor otherwise;
 * returns the clipped gradient and which units were clipped.
 */
function agcReference(g: Float64Array, w: Float64Array, shape: number[], clipping: number, eps: number): { out: Float64Array; clipped: boolean[] } {
  const units = shape.length >= 2 ? shape[shape.length - 1] : 1;
  const unitOf = (i: number) => (shape.length >= 2 ? i % units : 0);
  const gn = new Float64Array(units), wn = new Float64Array(units);
  for (let i = 0; i < g.length; i++) {
    gn[unitOf(i)] += g[i] ** 2;
    wn[unitOf(i)] += w[i] ** 2;
  }
  const clipped: boolean[] = [];
  const scale = new Float64Array(units);
  for (let u = 0; u < units; u++) {
    const limit = clipping * Math.max(Math.sqrt(wn[u]), eps);
    const norm = Math.sqrt(gn[u]);
    clipped.push(norm > limit);
    scale[u] = norm > limit ? limit / Math.max(norm, 1e-6) : 1;
  }
  return { out: g.map((v, i) => v * scale[unitOf(i)]), clipped };
}

const SPECS = [
  { name: 'conv2d_1/kernel', shape: [2, 2, 3, 4] },
  { name: 'conv2d_1/bias', shape: [4] },
  { name: 'nf_1/skipGain', shape: [] },
  { name: 'dense_1/kernel', shape: [4, 3] },
  { name: 'dense_1/bias', shape: [3] },
];

/** Parameters and gradients where, per unit, some gradients are far above the AGC limit and some below. */
function setup(seed: number): { list: NamedVariable[]; w: Float64Array[]; g: Float64Array[]; grads: tf.NamedTensorMap } {
  const w = SPECS.map((s, k) => f32(randn(s.shape, seed + k).data));
  w[1] = new Float64Array(4); // a zero-initialised bias: its limit is clipping * eps
  const g = SPECS.map((s, k) => {
    const units = s.shape.length >= 2 ? s.shape[s.shape.length - 1] : 1;
    // unit u's gradient scale alternates 1e-4 (unclipped at clipping 0.01) and 1 (clipped)
    const a = randn(s.shape, seed + 50 + k).data;
    return f32(a.map((v, i) => v * ((s.shape.length >= 2 ? i % units : k) % 2 === 0 ? 1e-4 : 1)));
  });
  const list = SPECS.map((s, k) => ({ name: s.name, variable: tf.variable(tf.tensor(Float32Array.from(w[k]), s.shape)) }));
  const grads = Object.fromEntries(SPECS.map((s, k) => [s.name, tf.tensor(Float32Array.from(g[k]), s.shape)]));
  return { list, w, g, grads };
}

function cleanup(s: { list: NamedVariable[]; grads: tf.NamedTensorMap }): void {
  tf.dispose([s.grads, ...s.list.map((p) => p.variable)]);
}

describe('clipGradients (AGC over named gradients)', () => {
  before(useCpu);

  for (const [clipping, eps] of [[0.01, 1e-3], [0.1, 1e-2]]) {
    it(`clips exactly the units over the limit, unit-wise per output channel (clipping ${clipping}, eps ${eps})`, () => {
      const s = setup(10);
      const out = clipGradients(s.grads, s.list, { clipping, eps });
      assert.deepEqual(Object.keys(out).sort(), SPECS.map((p) => p.name).sort());
      let nClipped = 0, nKept = 0;
      SPECS.forEach((spec, k) => {
        const ref = agcReference(s.g[k], s.w[k], spec.shape, clipping, eps);
        const got = values(out[spec.name]);
        assertClose(got, ref.out, 1e-5, spec.name);
        // unclipped units come back unchanged, bit for bit; clipped ones have norm = limit
        const units = spec.shape.length >= 2 ? spec.shape[spec.shape.length - 1] : 1;
        ref.clipped.forEach((c, u) => {
          const idx = [...got.keys()].filter((i) => (units === 1 ? true : i % units === u));
          if (c) {
            nClipped++;
            const norm = Math.sqrt(idx.reduce((a, i) => a + got[i] ** 2, 0));
            const wNorm = Math.sqrt(idx.reduce((a, i) => a + s.w[k][i] ** 2, 0));
            assert.ok(Math.abs(norm - clipping * Math.max(wNorm, eps)) <= 1e-5 * norm, `${spec.name} unit ${u} norm`);
          } else {
            nKept++;
            idx.forEach((i) => assert.equal(got[i], s.g[k][i], `${spec.name} unit ${u} unchanged`));
          }
        });
      });
      assert.ok(nClipped >= 4 && nKept >= 4, `both cases exercised (${nClipped} clipped, ${nKept} kept)`);
      tf.dispose(out);
      cleanup(s);
    });
  }

  it('passes excluded parameters through unclipped (prefix, exact name, RegExp, predicate)', () => {
    const s = setup(20);
    const cases: Array<[Parameters<typeof clipGradients>[2], string[]]> = [
      [{ exclude: 'dense_1' }, ['dense_1/kernel', 'dense_1/bias']],
      [{ exclude: 'dense_1/kernel' }, ['dense_1/kernel']],
      [{ exclude: [/bias$/, 'nf_1'] }, ['conv2d_1/bias', 'dense_1/bias', 'nf_1/skipGain']],
      [{ exclude: (name, v) => v.rank === 4 && name.startsWith('conv') }, ['conv2d_1/kernel']],
    ];
    for (const [options, excluded] of cases) {
      const out = clipGradients(s.grads, s.list, options);
      SPECS.forEach((spec, k) => {
        const want = excluded.includes(spec.name) ? s.g[k] : agcReference(s.g[k], s.w[k], spec.shape, 0.01, 1e-3).out;
        assertClose(values(out[spec.name]), want, 1e-5, `${spec.name} (exclude ${excluded.join(', ')})`);
        if (excluded.includes(spec.name)) assert.notEqual(out[spec.name], s.grads[spec.name], 'a copy, not the input');
      });
      tf.dispose(out);
    }
    // the excluded gradients really would have been clipped
    assert.ok(agcReference(s.g[3], s.w[3], [4, 3], 0.01, 1e-3).clipped.some(Boolean));
    cleanup(s);
  });

  it('leaks no tensor and rejects bad options, naming the argument', () => {
    const s = setup(30);
    assertNoLeak(() => tf.dispose(clipGradients(s.grads, s.list, { exclude: 'dense_1' })), 'clipGradients');
    const bad: Array<[unknown, RegExp]> = [
      [{ clipping: 0 }, /clipGradients: argument 'clipping'.*got 0/],
      [{ clipping: -0.01 }, /'clipping'/],
      [{ eps: -1 }, /'eps'/],
      [{ exclude: 'dense_9' }, /'exclude'.*'dense_9'.*matching some parameter/],
      [{ exclude: [/^head\//] }, /'exclude'.*head/],
      [{ exclude: 7 }, /'exclude'/],
      [{ clip: 0.01 }, /'options'.*'clip'/],
    ];
    for (const [options, re] of bad) assert.throws(() => clipGradients(s.grads, s.list, options as never), re, JSON.stringify(options));
    assert.throws(() => clipGradients({ 'other/kernel': s.grads['dense_1/bias'] }, s.list), /'grads'.*'other\/kernel'/);
    cleanup(s);
  });
});

describe('withAdaptiveGradientClipping', () => {
  before(useCpu);

  it('hands the clipped gradients to the optimizer (SGD_AGC: clip, then L2 decay, then momentum)', () => {
    const s = setup(40);
    const mu = 0.9, wd = 1e-2, lr = 0.5;
    const opt = withAdaptiveGradientClipping(new SGD({ momentum: mu, nesterov: true, weightDecay: wd }), { clipping: 0.02, exclude: 'dense_1/kernel' });
    // two steps with the same raw gradients; reference in float64
    const w = s.w.map((a) => a.slice());
    const v = s.w.map((a) => new Float64Array(a.length));
    for (let step = 0; step < 2; step++) {
      SPECS.forEach((spec, k) => {
        const g = spec.name === 'dense_1/kernel' ? s.g[k] : agcReference(s.g[k], w[k], spec.shape, 0.02, 1e-3).out;
        for (let i = 0; i < g.length; i++) {
          const gi = g[i] + wd * w[k][i];
          v[k][i] = mu * v[k][i] + gi;
          w[k][i] -= lr * (gi + mu * v[k][i]);
        }
      });
      opt.applyGradients(s.grads, s.list, lr);
    }
    s.list.forEach((p, k) => assertClose(values(p.variable), w[k], 1e-5, p.name));
    // state is the wrapped SGD's
    const state = opt.getState();
    assert.deepEqual(state.map((e) => e.name).sort(), SPECS.map((p) => `${p.name}/momentum`).sort());
    tf.dispose(state.map((e) => e.tensor));
    opt.dispose();
    cleanup(s);
  });

  it('leaks no tensor after the first step, and checks its options at construction', () => {
    const s = setup(50);
    const opt = withAdaptiveGradientClipping(new SGD({ momentum: 0.9 }), { exclude: 'dense_1' });
    opt.applyGradients(s.grads, s.list, 0.1);
    assertNoLeak(() => { opt.applyGradients(s.grads, s.list, 0.1); opt.applyGradients(s.grads, s.list, 0.05); }, 'steps');
    const before = tf.memory().numTensors;
    opt.dispose();
    assert.equal(tf.memory().numTensors, before - SPECS.length, 'dispose frees the momentum buffers');
    assert.throws(() => withAdaptiveGradientClipping({} as never), /withAdaptiveGradientClipping: argument 'optimizer'/);
    assert.throws(() => withAdaptiveGradientClipping(new SGD(), { clipping: Number.NaN }), /'clipping'/);
    const bad = withAdaptiveGradientClipping(new SGD(), { exclude: 'classifier' });
    assert.throws(() => bad.applyGradients(s.grads, s.list, 0.1), /'exclude'.*'classifier'/);
    assert.throws(() => opt.applyGradients(s.grads, s.list, -1), /'lr'/);
    cleanup(s);
  });
});
