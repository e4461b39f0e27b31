import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { assertClose, randn } from '../helpers.js';

describe('UnsortedSegmentSum kernel (wasm)', () => {
  before(async () => {
    await init({ backend: 'wasm' });
  });

  it('sums rows by segment id like the float64 reference, dropping out-of-range ids', () => {
    const xa = randn([6, 2, 3], 1).data;
    const ids = [2, 0, 2, -1, 5, 1];
    const x = tf.tensor(Float32Array.from(xa), [6, 2, 3]), s = tf.tensor1d(ids, 'int32');
    const buffers = tf.backend().numDataIds();
    const y = tf.unsortedSegmentSum(x, s, 4);
    assert.deepEqual(y.shape, [4, 2, 3]);
    const want = new Float64Array(4 * 6);
    ids.forEach((id, i) => { if (id >= 0 && id < 4) for (let k = 0; k < 6; k++) want[id * 6 + k] += Math.fround(xa[i * 6 + k]); });
    assertClose(y.dataSync(), want, 1e-6);
    y.dispose();
    assert.equal(tf.backend().numDataIds(), buffers, 'leaked backend buffers');
    tf.dispose([x, s]);
  });

  it('gives tf.gather its gradient (embedding lookups) and keeps int32', () => {
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const idx = tf.tensor1d([2, 0, 2], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), tf.tensor2d([[1, 1], [10, 10], [100, 100]]))))(table);
    assert.deepEqual(Array.from(g.dataSync()), [10, 10, 0, 0, 101, 101]);
    const yi = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 2);
    assert.equal(yi.dtype, 'int32');
    assert.deepEqual(Array.from(yi.dataSync()), [3, 3]);
    tf.dispose([table, idx, g, yi]);
  });
});
