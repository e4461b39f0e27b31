import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { splitReduction } from '../../src/kernels/reduce.js';
import { registerFastKernels, restoreStockKernels } from '../../src/kernels/register.js';
import { assertClose, randn } from '../helpers.js';

/** Independent float64 reference of a sum over `axes` (output in the order of the kept axes). */
function sumReference(x: Float64Array, shape: number[], axes: number[]): Float64Array {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outSize = kept.reduce((a, i) => a * shape[i], 1);
  const out = new Float64Array(outSize);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < x.length; flat++) {
    let rest = flat;
    for (let d = shape.length - 1; d >= 0; d--) { idx[d] = rest % shape[d]; rest = Math.floor(rest / shape[d]); }
    let o = 0;
    for (const d of kept) o = o * shape[d] + idx[d];
    out[o] += x[flat];
  }
  return out;
}

const cases: Array<{ shape: number[]; axes: number[]; keepDims?: boolean; scale?: number }> = [
  { shape: [4, 5, 3, 6], axes: [0, 1, 2] }, // BatchNorm statistics
  { shape: [4, 5, 3, 6], axes: [1, 2], keepDims: true }, // FRN / InstanceNorm statistics, GAP
  { shape: [3, 7, 5], axes: [0] },
  { shape: [2, 3, 4, 5], axes: [1] },
  { shape: [2, 3, 4, 5], axes: [3] }, // innermost: stock kernel
  { shape: [2, 3, 4, 5], axes: [0, 2] }, // not contiguous: stock kernel
  { shape: [2, 1, 1, 5], axes: [1, 2], keepDims: true }, // reduce size 1
  { shape: [64, 28, 28, 16], axes: [0, 1, 2], scale: 1e3 }, // first layer of the reference network, large values
  { shape: [3, 4, 4, 2], axes: [0, 1, 2], scale: 1e-4 },
];

describe('Sum / Mean kernels (wasm and cpu)', () => {
  before(async () => {
    await init({ backend: 'wasm' });
    registerFastKernels('cpu');
  });
  after(() => restoreStockKernels('cpu'));

  it('splits contiguous non-innermost reductions only', () => {
    assert.deepEqual(splitReduction([4, 5, 3, 6], [0, 1, 2]), { outer: 1, reduce: 60, inner: 6 });
    assert.deepEqual(splitReduction([4, 5, 3, 6], [2, 1]), { outer: 4, reduce: 15, inner: 6 });
    assert.equal(splitReduction([4, 5, 3, 6], [3]), null);
    assert.equal(splitReduction([4, 5, 3, 6], [0, 2]), null);
  });

  for (const [i, c] of cases.flatMap((k) => (['wasm', 'cpu'] as const).map((backend) => ({ ...k, backend }))).entries()) {
    it(`${c.backend}: sum and mean of [${c.shape}] over [${c.axes}]${c.keepDims ? ' (keepDims)' : ''} match a float64 reference`, async () => {
      await tf.setBackend(c.backend);
      const xa = randn(c.shape, 50 + i, c.scale ?? 1, 0.3 * (c.scale ?? 1));
      const x = tf.tensor(Float32Array.from(xa.data), c.shape);
      const ref = sumReference(Float64Array.from(Float32Array.from(xa.data)), c.shape, c.axes);
      const count = c.axes.reduce((a, d) => a * c.shape[d], 1);
      const buffers = tf.backend().numDataIds();
      const s = tf.sum(x, c.axes, c.keepDims), m = tf.mean(x, c.axes, c.keepDims);
      const shape = c.keepDims ? c.shape.map((d, k) => (c.axes.includes(k) ? 1 : d)) : c.shape.filter((_, k) => !c.axes.includes(k));
      assert.deepEqual(s.shape, shape);
      assert.deepEqual(m.shape, shape);
      assertClose(s.dataSync(), ref, 1e-5, 'sum');
      assertClose(m.dataSync(), ref.map((v) => v / count), 1e-5, 'mean');
      tf.dispose([s, m]);
      assert.equal(tf.backend().numDataIds(), buffers, 'leaked backend buffers');
      x.dispose();
    });
  }

  it('keeps integer sums exact (stock kernel)', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32');
    const s = tf.sum(x, 0);
    assert.equal(s.dtype, 'int32');
    assert.deepEqual(Array.from(s.dataSync()), [9, 12]);
    tf.dispose([x, s]);
  });
});

describe('Identity / Cast kernels (wasm)', () => {
  before(async () => {
    await init({ backend: 'wasm' });
    await tf.setBackend('wasm');
  });

  it('share the input buffer, which outlives either tensor', () => {
    const x = tf.tensor([1.5, -2, 3], [3]);
    const buffers = tf.backend().numDataIds();
    const a = tf.clone(x);
    const b = tf.cast(x, 'float32');
    assert.equal(tf.backend().numDataIds(), buffers, 'no new buffer');
    x.dispose();
    assert.deepEqual(Array.from(a.dataSync()), [1.5, -2, 3]);
    a.dispose();
    assert.deepEqual(Array.from(b.dataSync()), [1.5, -2, 3]);
    b.dispose();
    assert.equal(tf.backend().numDataIds(), buffers - 1, 'buffer freed with the last tensor');
  });

  it('still converts between dtypes', () => {
    const x = tf.tensor([1.7, -2.2, 0], [3]);
    const i = tf.cast(x, 'int32');
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(Array.from(i.dataSync()), [1, -2, 0]);
    tf.dispose([x, i]);
  });

  it('gives correct relu gradients (cast(step(x)) path)', () => {
    const x = tf.tensor([-1, 2, -3, 4]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(x);
    assert.deepEqual(Array.from(g.dataSync()), [0, 1, 0, 1]);
    tf.dispose([x, g]);
  });
});
