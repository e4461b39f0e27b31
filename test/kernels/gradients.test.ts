import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { registerFastGradients, restoreStockGradients } from '../../src/kernels/gradients.js';
import { assertClose, randn, tensor } from '../helpers.js';

const cases: Array<{ shape: number[]; axes: number[]; keepDims?: boolean }> = [
  { shape: [3, 4, 5, 2], axes: [0, 1, 2] },
  { shape: [3, 4, 5, 2], axes: [1, 2], keepDims: true },
  { shape: [4, 3], axes: [1] },
  { shape: [2, 3, 2, 2, 3], axes: [1, 2, 4], keepDims: true }, // rank 5 (GroupNorm views)
  { shape: [5], axes: [0] },
];

/** Gradients of `sum(f(x) * w)` for f = sum and mean over the case's axes. */
function grads(c: typeof cases[number], x: tf.Tensor): Float32Array[] {
  return (['sum', 'mean'] as const).map((red) => {
    const g = tf.tidy(() => {
      const probe = tf.sin(tf.range(0, tf.util.sizeFromShape(c.shape.map((d, i) => (c.axes.includes(i) ? 1 : d)))));
      const f = (a: tf.Tensor) => {
        const r = red === 'sum' ? tf.sum(a, c.axes, c.keepDims) : tf.mean(a, c.axes, c.keepDims);
        return tf.sum(tf.mul(r, tf.reshape(probe, r.shape)));
      };
      return tf.grad(f)(x);
    });
    const v = g.dataSync() as Float32Array;
    g.dispose();
    return v;
  });
}

describe('Sum / Mean gradients', () => {
  before(async () => {
    await init({ backend: 'wasm' });
  });
  after(() => registerFastGradients());

  for (const [i, c] of cases.entries()) {
    it(`equal TF.js' own gradients: [${c.shape}] over [${c.axes}]`, () => {
      const x = tensor(randn(c.shape, 70 + i));
      restoreStockGradients();
      const want = grads(c, x);
      registerFastGradients();
      const before = tf.memory().numTensors;
      const got = grads(c, x);
      assert.equal(tf.memory().numTensors, before, 'leaked tensors');
      assertClose(got[0], want[0], 1e-7, 'sum');
      assertClose(got[1], want[1], 1e-6, 'mean');
      x.dispose();
    });
  }

  it('keep second-order gradients working (rank 4 and rank 5)', () => {
    registerFastGradients();
    for (const shape of [[2, 3, 2, 2], [2, 1, 3, 2, 2]]) {
      const x = tensor(randn(shape, 9));
      // d/dx sum_i (d/dx_i mean(x^3)) = d/dx sum_i 3 x_i^2 / n = 6 x / n
      const g2 = tf.grad((a: tf.Tensor) => tf.sum(tf.grad((b: tf.Tensor) => tf.mean(tf.pow(b, 3)))(a)))(x);
      const n = x.size;
      assertClose(g2.dataSync(), Array.from(x.dataSync(), (v) => (6 * v) / n), 1e-5, `rank ${shape.length}`);
      tf.dispose([x, g2]);
    }
  });

  it('restore is complete and registration idempotent', () => {
    registerFastGradients();
    const mine = tf.getGradient('Sum');
    registerFastGradients();
    assert.equal(tf.getGradient('Sum'), mine);
    restoreStockGradients();
    assert.notEqual(tf.getGradient('Sum'), mine);
    assert.ok(tf.getGradient('Sum') !== undefined, 'stock gradient back');
  });
});

describe('Relu gradient', () => {
  before(async () => {
    await init({ backend: 'wasm' });
  });
  after(async () => {
    registerFastGradients();
    await tf.setBackend('wasm');
  });

  for (const shape of [[2, 5, 7, 12], [3, 5, 5, 7], [6, 10], [5]]) {
    it(`is dy · [x > 0], one pass on wasm and cpu, TF.js' formula elsewhere: [${shape}]`, async () => {
      const x = randn(shape, 80), dy = randn(shape, 81);
      for (let i = 0; i < x.data.length; i += 9) x.data[i] = 0; // TF.js' step(0) = 0: no gradient at 0
      const want = x.data.map((v, i) => (v > 0 ? dy.data[i] : 0));
      for (const backend of ['wasm', 'cpu']) {
        await tf.setBackend(backend);
        const xt = tensor(x), dyt = tensor(dy);
        const before = tf.memory().numTensors;
        for (const fast of [true, false]) {
          if (fast) registerFastGradients(); else restoreStockGradients();
          const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dyt)))(xt);
          assertClose(g.dataSync(), want, 1e-7, `${backend} ${fast ? 'batchfree' : 'stock'}`);
          g.dispose();
        }
        assert.equal(tf.memory().numTensors, before, 'leaked tensors');
        tf.dispose([xt, dyt]);
      }
      registerFastGradients();
    });
  }

  it('keeps second-order gradients through ReLU: d/dx sum(relu(x)^2)\' = 2 [x > 0] (on wasm, fused)', () => {
    registerFastGradients();
    const x = tensor(randn([3, 4, 4, 8], 82));
    // f(x) = sum_i (d/dx_i sum relu(x)^2) = sum 2 relu(x)  ->  df/dx = 2 [x > 0]
    const g2 = tf.grad((a: tf.Tensor) => tf.sum(tf.grad((b: tf.Tensor) => tf.sum(tf.square(tf.relu(b))))(a)))(x);
    assertClose(g2.dataSync(), Array.from(x.dataSync(), (v) => (v > 0 ? 2 : 0)), 1e-6, 'second order');
    tf.dispose([x, g2]);
  });

  it('is the one-pass kernel where the fused kernels run', () => {
    registerFastGradients();
    const x = tf.randomNormal([2, 4, 4, 8]);
    const names = (async () => (await tf.profile(() => tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(x).dispose())).kernelNames)();
    return names.then((k) => {
      assert.ok(k.includes('BatchfreeReluGrad'), `kernels: ${k.join(', ')}`);
      assert.ok(!k.includes('Step'), 'no Step kernel');
      x.dispose();
    });
  });
});
