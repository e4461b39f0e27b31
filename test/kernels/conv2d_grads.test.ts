import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { registerFastKernels, restoreStockKernels } from '../../src/kernels/register.js';
import { assertClose, randn } from '../helpers.js';

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case { name: string; x: number[]; k: [number, number]; co: number; strides: number | [number, number]; pad: Pad; scale?: number }

// On wasm, output channels a multiple of 4 take the SIMD weight gradient, the others its XNNPACK fallback; the
// input gradient is always SIMD (input channels not a multiple of 4 are padded to one).
const cases: Case[] = [
  { name: '3x3 stride 1 same, B = 1, odd sizes', x: [1, 5, 7, 3], k: [3, 3], co: 4, strides: 1, pad: 'same' },
  { name: '3x3 stride 2 same (Co = 5: fallback path)', x: [2, 7, 6, 2], k: [3, 3], co: 5, strides: 2, pad: 'same' },
  { name: '5x3 strides [2,3] valid', x: [3, 9, 8, 4], k: [5, 3], co: 8, strides: [2, 3], pad: 'valid' },
  { name: '1x1 stride 2 valid (input phases without taps)', x: [2, 6, 7, 3], k: [1, 1], co: 4, strides: 2, pad: 'valid' },
  { name: '1x1 stride 1 valid (Co = 3: fallback path)', x: [2, 4, 3, 5], k: [1, 1], co: 3, strides: 1, pad: 'valid' },
  { name: '3x3 stride 3 same', x: [2, 8, 7, 2], k: [3, 3], co: 8, strides: 3, pad: 'same' },
  { name: '5x3 stride 3 same, 12 output channels', x: [2, 7, 7, 3], k: [5, 3], co: 12, strides: 3, pad: 'same' },
  { name: '5x3 stride 1 explicit padding', x: [1, 10, 9, 3], k: [5, 3], co: 4, strides: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { name: '3x3 stride 2 explicit padding larger than the kernel', x: [2, 9, 9, 2], k: [3, 3], co: 4, strides: 2, pad: [[0, 0], [3, 0], [1, 4], [0, 0]] },
  { name: '3x3 stride 1 numeric padding 2, 20 output channels', x: [2, 5, 5, 3], k: [3, 3], co: 20, strides: 1, pad: 2 },
  { name: '3x3 stride 2 same, 7 input channels (channel-block remainder)', x: [3, 6, 5, 7], k: [3, 3], co: 16, strides: 2, pad: 'same' },
  { name: '1x1 stride 2 valid, Ci = 4', x: [2, 6, 7, 4], k: [1, 1], co: 4, strides: 2, pad: 'valid' },
  { name: '3x3 stride 3 same, Ci = 8', x: [2, 8, 7, 8], k: [3, 3], co: 8, strides: 3, pad: 'same' },
  { name: '3x3 stride 2 explicit padding larger than the kernel, Ci = 12', x: [2, 9, 9, 12], k: [3, 3], co: 4, strides: 2, pad: [[0, 0], [3, 0], [1, 4], [0, 0]] },
  { name: '5x3 stride 1 explicit padding, Ci = 4', x: [1, 10, 9, 4], k: [5, 3], co: 12, strides: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { name: 'first layer of the reference net (Ci = 1)', x: [2, 28, 28, 1], k: [3, 3], co: 16, strides: 1, pad: 'same' },
  { name: 'first layer of the reference net, B = 11 (two image chunks of a stem)', x: [11, 28, 28, 1], k: [3, 3], co: 16, strides: 1, pad: 'same' },
  { name: 'second layer shape (stride 2, even size)', x: [2, 14, 14, 16], k: [3, 3], co: 32, strides: 2, pad: 'same' },
  { name: 'third layer shape, magnitudes 1e3', x: [1, 14, 14, 32], k: [3, 3], co: 64, strides: 2, pad: 'same', scale: 1e3 },
  { name: 'magnitudes 1e-4', x: [2, 6, 6, 4], k: [3, 3], co: 8, strides: 1, pad: 'same', scale: 1e-4 },
];

/** Gradients of `sum(conv2d(x, w) * dy)` for x and w on the current backend, as float32 arrays. */
function convGrads(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array, dyShape: number[]): [Float32Array, Float32Array] {
  const xt = tf.tensor4d(x, c.x as [number, number, number, number]);
  const wt = tf.tensor4d(w, [c.k[0], c.k[1], c.x[3], c.co]);
  const dyt = tf.tensor(dy, dyShape);
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), dyt));
  const [gx, gw] = tf.grads(f)([xt, wt]);
  const out: [Float32Array, Float32Array] = [gx.dataSync() as Float32Array, gw.dataSync() as Float32Array];
  tf.dispose([xt, wt, dyt, gx, gw]);
  return out;
}

/** Asserts `fn` leaves no tensor and no backend buffer behind. */
function assertNoBackendLeak(fn: () => void, label: string): void {
  const tensors = tf.memory().numTensors;
  const buffers = tf.backend().numDataIds();
  fn();
  assert.equal(tf.memory().numTensors, tensors, `${label}: leaked tensors`);
  assert.equal(tf.backend().numDataIds(), buffers, `${label}: leaked backend buffers`);
}

describe('Conv2DBackpropFilter / Conv2DBackpropInput kernels', () => {
  before(async () => {
    await init({ backend: 'wasm' });
  });
  after(() => restoreStockKernels('cpu'));

  for (const [i, c] of cases.entries()) {
    it(`match the stock cpu kernels on wasm and cpu: ${c.name}`, async () => {
      const x = Float32Array.from(randn(c.x, 100 + i, c.scale ?? 1).data);
      const w = Float32Array.from(randn([c.k[0], c.k[1], c.x[3], c.co], 200 + i, 0.5).data);
      await tf.setBackend('cpu');
      restoreStockKernels('cpu');
      const yShape = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], [c.k[0], c.k[1], c.x[3], c.co], c.strides, 1, c.pad).outShape;
      const dy = Float32Array.from(randn(yShape, 300 + i, c.scale ?? 1).data);
      const [refX, refW] = convGrads(c, x, w, dy, yShape);

      registerFastKernels('cpu');
      const [cpuX, cpuW] = convGrads(c, x, w, dy, yShape);
      assertClose(cpuX, refX, 1e-5, 'cpu dx');
      assertClose(cpuW, refW, 1e-5, 'cpu dw');

      await tf.setBackend('wasm');
      let wasmX: Float32Array = new Float32Array(), wasmW: Float32Array = new Float32Array();
      assertNoBackendLeak(() => { [wasmX, wasmW] = convGrads(c, x, w, dy, yShape); }, 'wasm');
      assertClose(wasmX, refX, 1e-5, 'wasm dx');
      assertClose(wasmW, refW, 1e-5, 'wasm dw');
    });
  }

  it('leave no buffer behind on cpu', async () => {
    await tf.setBackend('cpu');
    registerFastKernels('cpu');
    const c = cases[1];
    const yShape = [2, 4, 3, 5];
    assertNoBackendLeak(() => convGrads(c, new Float32Array(2 * 7 * 6 * 2).fill(1), new Float32Array(9 * 2 * 5).fill(1), new Float32Array(2 * 4 * 3 * 5).fill(1), yShape), 'cpu');
  });

  it('reject channels-first data with an error naming the argument', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 2, 5, 5]), dy = tf.zeros([1, 3, 5, 5]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] };
    assert.throws(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs), /argument 'dataFormat'.*got 'NCHW'/);
    tf.dispose([x, dy]);
  });
});
