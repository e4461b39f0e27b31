import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { registerFastKernels, restoreStockKernels } from '../../src/kernels/register.js';
import { randn } from '../helpers.js';

const cases: Array<{ shape: number[]; reps: number[]; dtype?: 'float32' | 'int32' | 'bool' }> = [
  { shape: [1, 1, 1, 5], reps: [3, 4, 2, 1] }, // per-channel vector to a full activation (broadcastTo)
  { shape: [3], reps: [4] },
  { shape: [2, 3], reps: [3, 2] },
  { shape: [2, 1, 3], reps: [1, 5, 1] },
  { shape: [2, 3, 1, 2], reps: [2, 1, 3, 2] },
  { shape: [2, 1, 2, 1, 3], reps: [1, 3, 2, 2, 1] }, // rank 5
  { shape: [2, 2], reps: [1, 1] },
  { shape: [3, 2], reps: [2, 3], dtype: 'int32' },
  { shape: [2, 3], reps: [2, 2], dtype: 'bool' },
  { shape: [2, 0, 3], reps: [2, 2, 1] }, // empty
  { shape: [], reps: [] }, // scalar
];

/** Independent reference: `out[i] = x[i mod shape]` by index arithmetic. */
function tileReference(x: ArrayLike<number>, shape: number[], reps: number[]): number[] {
  const outShape = shape.map((d, i) => d * reps[i]);
  const n = outShape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let flat = 0; flat < n; flat++) {
    let rest = flat, src = 0, stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const idx = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
      src += (idx % shape[d]) * stride;
      stride *= shape[d];
    }
    out.push(x[src]);
  }
  return out;
}

function make(c: typeof cases[number], seed: number): tf.Tensor {
  const n = c.shape.reduce((a, b) => a * b, 1);
  const v = randn([n], seed).data;
  if (c.dtype === 'int32') return tf.tensor(Int32Array.from(v, (a) => Math.round(a * 10)), c.shape, 'int32');
  if (c.dtype === 'bool') return tf.tensor(Uint8Array.from(v, (a) => (a > 0 ? 1 : 0)), c.shape, 'bool');
  return tf.tensor(Float32Array.from(v), c.shape);
}

describe('Tile kernel', () => {
  before(async () => {
    await init({ backend: 'wasm' });
    registerFastKernels('cpu');
  });
  after(() => restoreStockKernels('cpu'));

  for (const backend of ['wasm', 'cpu']) {
    for (const [i, c] of cases.entries()) {
      it(`${backend}: tiles ${c.dtype ?? 'float32'} [${c.shape}] by [${c.reps}] like the index-arithmetic reference`, async () => {
        await tf.setBackend(backend);
        const x = make(c, i);
        const buffers = tf.backend().numDataIds();
        const y = tf.tile(x, c.reps);
        assert.equal(y.dtype, x.dtype);
        assert.deepEqual(y.shape, c.shape.map((d, k) => d * c.reps[k]));
        assert.deepEqual(Array.from(y.dataSync()), tileReference(x.dataSync(), c.shape, c.reps));
        y.dispose();
        assert.equal(tf.backend().numDataIds(), buffers, 'leaked backend buffers');
        x.dispose();
      });
    }
  }

  it('gives broadcastTo and its gradient', async () => {
    await tf.setBackend('wasm');
    const v = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.broadcastTo(a, [2, 2, 2, 3]), tf.reshape(tf.range(0, 24), [2, 2, 2, 3]))))(v);
    // d/dv_c sum_{b,h,w} (b,h,w,c)-th of range = sum over the 8 positions of channel c.
    const expected = [0, 1, 2].map((c) => Array.from({ length: 8 }, (_, k) => k * 3 + c).reduce((a, b) => a + b, 0));
    assert.deepEqual(Array.from(g.dataSync()), expected);
    assert.deepEqual(Array.from(tf.broadcastTo(v, [2, 3]).dataSync()), [1, 2, 3, 1, 2, 3]);
    tf.dispose([v, g]);
  });

  it('tiles string tensors', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const s = tf.tensor(['a', 'b'], [2], 'string');
      const t = tf.tile(s, [2]);
      assert.deepEqual(t.arraySync(), ['a', 'b', 'a', 'b']);
      tf.dispose([s, t]);
    }
  });
});
