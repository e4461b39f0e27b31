import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/kernels/relaxed_simd_node.js';
import { hasRelaxedSimd } from '../../src/kernels/relaxed_simd_node.js';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { registerFastKernels } from '../../src/kernels/register.js';
import { assertClose, randn } from '../helpers.js';

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case { name: string; x: [number, number, number, number]; k: [number, number]; co: number; strides: number | [number, number]; pad: Pad; scale?: number }

// Output channels a multiple of 4 take the SIMD kernel; the others the stock XNNPACK one.
const cases: Case[] = [
  { name: '3x3 stride 1 same, B = 1, odd sizes', x: [1, 5, 7, 4], k: [3, 3], co: 4, strides: 1, pad: 'same' },
  { name: '5x3 strides [2,3] valid', x: [3, 9, 8, 5], k: [5, 3], co: 8, strides: [2, 3], pad: 'valid' },
  { name: '1x1 stride 2 valid', x: [2, 6, 7, 8], k: [1, 1], co: 4, strides: 2, pad: 'valid' },
  { name: '3x3 stride 3 same, 7 input channels', x: [2, 8, 7, 7], k: [3, 3], co: 8, strides: 3, pad: 'same' },
  { name: '5x3 stride 3 same, 12 output channels', x: [2, 7, 7, 6], k: [5, 3], co: 12, strides: 3, pad: 'same' },
  { name: '5x3 stride 1 explicit padding, 20 output channels (vector-block remainder)', x: [1, 10, 9, 4], k: [5, 3], co: 20, strides: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { name: '3x3 stride 2 explicit padding larger than the kernel', x: [2, 9, 9, 12], k: [3, 3], co: 4, strides: 2, pad: [[0, 0], [3, 0], [1, 4], [0, 0]] },
  { name: '3x3 stride 1 numeric padding 2', x: [2, 5, 5, 4], k: [3, 3], co: 16, strides: 1, pad: 2 },
  { name: 'second layer of the reference net (stride 2, even size), B = 9 (several image chunks)', x: [9, 28, 28, 16], k: [3, 3], co: 32, strides: 2, pad: 'same' },
  { name: 'third layer shape, magnitudes 1e3', x: [2, 14, 14, 32], k: [3, 3], co: 64, strides: 2, pad: 'same', scale: 1e3 },
  { name: 'magnitudes 1e-4', x: [2, 6, 6, 4], k: [3, 3], co: 8, strides: 1, pad: 'same', scale: 1e-4 },
  { name: 'Ci = 1 (stem)', x: [2, 28, 28, 1], k: [3, 3], co: 16, strides: 1, pad: 'same' },
  { name: 'Ci = 1 (stem), B = 11 (two image chunks of the folded rows)', x: [11, 28, 28, 1], k: [3, 3], co: 16, strides: 1, pad: 'same' },
  { name: 'Ci = 3, stride 2, odd size', x: [3, 9, 11, 3], k: [3, 3], co: 8, strides: 2, pad: 'same' },
  // Ci < 4: a row of taps per call, the edge columns tap by tap.
  { name: 'Ci = 2, 5x3 strides [1,2], explicit padding', x: [2, 8, 9, 2], k: [5, 3], co: 12, strides: [1, 2], pad: [[0, 0], [2, 1], [2, 0], [0, 0]] },
  { name: 'Ci = 1, kernel wider than the image (no column has every tap inside)', x: [1, 4, 3, 1], k: [3, 5], co: 4, strides: 1, pad: 'same' },
  { name: 'Ci = 1, valid padding (every column inside)', x: [2, 7, 7, 1], k: [3, 3], co: 8, strides: 2, pad: 'valid' },
  // Stock fallback.
  { name: 'Co = 6 (stock kernel)', x: [2, 7, 6, 8], k: [3, 3], co: 6, strides: 2, pad: 'same' },
];

/** `conv(x, w) + bias`, then the activation, in float64 loops (NHWC, dilation 1). */
function referenceConv(c: Case, x: Float64Array, w: Float64Array, bias: Float64Array | null, relu: boolean): Float64Array {
  const [B, H, W, Ci] = c.x;
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], Ci, c.co], c.strides, 1, c.pad);
  const { outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const y = new Float64Array(B * OH * OW * c.co);
  for (let b = 0; b < B; b++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let co = 0; co < c.co; co++) {
    let s = bias === null ? 0 : bias[co];
    for (let kh = 0; kh < c.k[0]; kh++) {
      const h = oh * sh - top + kh;
      if (h < 0 || h >= H) continue;
      for (let kw = 0; kw < c.k[1]; kw++) {
        const ww = ow * sw - left + kw;
        if (ww < 0 || ww >= W) continue;
        for (let ci = 0; ci < Ci; ci++) s += x[((b * H + h) * W + ww) * Ci + ci] * w[((kh * c.k[1] + kw) * Ci + ci) * c.co + co];
      }
    }
    y[((b * OH + oh) * OW + ow) * c.co + co] = relu ? Math.max(0, s) : s;
  }
  return y;
}

describe('Conv2D / FusedConv2D kernels on wasm', () => {
  before(async () => {
    await init({ backend: 'wasm' });
  });

  it('are batchfree\'s, with relaxed SIMD turned on in Node', () => {
    assert.ok(hasRelaxedSimd(), 'relaxed SIMD (fused multiply-adds) enabled by src/kernels/relaxed_simd_node.ts');
    assert.equal(tf.getBackend(), 'wasm');
    const mine = registerFastKernels('wasm');
    for (const name of ['Conv2D', 'FusedConv2D']) assert.ok(mine.includes(name), name);
  });

  for (const [i, c] of cases.entries()) {
    it(`match float64 loops (plain, with bias, with bias + relu): ${c.name}`, () => {
      const wShape = [c.k[0], c.k[1], c.x[3], c.co];
      const x = randn(c.x, 10 + i, c.scale ?? 1).data, w = randn(wShape, 20 + i, 0.5).data, bias = randn([c.co], 30 + i, c.scale ?? 1).data;
      const xt = tf.tensor4d(Float32Array.from(x), c.x), wt = tf.tensor4d(Float32Array.from(w), wShape as [number, number, number, number]);
      const bt = tf.tensor1d(Float32Array.from(bias));
      const before = tf.memory().numTensors, buffers = tf.backend().numDataIds();
      const outputs = [
        tf.conv2d(xt, wt, c.strides, c.pad),
        tf.fused.conv2d({ x: xt, filter: wt, strides: c.strides, pad: c.pad, bias: bt }),
        tf.fused.conv2d({ x: xt, filter: wt, strides: c.strides, pad: c.pad, bias: bt, activation: 'relu' }),
      ];
      const got = outputs.map((t) => t.dataSync());
      tf.dispose(outputs);
      assert.equal(tf.memory().numTensors, before, 'leaked tensors');
      assert.equal(tf.backend().numDataIds(), buffers, 'leaked backend buffers');
      assertClose(got[0], referenceConv(c, Float64Array.from(x), Float64Array.from(w), null, false), 1e-5, 'conv2d');
      assertClose(got[1], referenceConv(c, Float64Array.from(x), Float64Array.from(w), Float64Array.from(bias), false), 1e-5, 'conv2d + bias');
      assertClose(got[2], referenceConv(c, Float64Array.from(x), Float64Array.from(w), Float64Array.from(bias), true), 1e-5, 'relu(conv2d + bias)');
      tf.dispose([xt, wt, bt]);
    });
  }

  it('handle an empty batch (with and without bias)', () => {
    const x = tf.zeros([0, 5, 5, 4]) as tf.Tensor4D, w = tf.ones([3, 3, 4, 8]) as tf.Tensor4D, b = tf.ones([8]);
    const ys = [tf.conv2d(x, w, 1, 'same'), tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias: b })];
    for (const y of ys) assert.deepEqual(y.shape, [0, 5, 5, 8]);
    tf.dispose([x, w, b, ...ys]);
  });

  it('fall back to the stock kernel for dilations, leaky relu and PReLU, with the same results as cpu', async () => {
    const x = tf.tensor4d(Float32Array.from(randn([2, 9, 9, 8], 5).data), [2, 9, 9, 8]);
    const w = tf.tensor4d(Float32Array.from(randn([3, 3, 8, 8], 6, 0.5).data), [3, 3, 8, 8]);
    const alpha = tf.fill([8], 0.2);
    const run = () => [
      tf.conv2d(x, w, 1, 'same', 'NHWC', 2),
      tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', activation: 'leakyrelu', leakyreluAlpha: 0.1 }),
      tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'valid', activation: 'prelu', preluActivationWeights: alpha }),
    ].map((t) => { const v = t.dataSync(); t.dispose(); return v; });
    const onWasm = run();
    await tf.setBackend('cpu');
    const onCpu = run();
    await tf.setBackend('wasm');
    onWasm.forEach((v, i) => assertClose(v, onCpu[i], 1e-5, `case ${i}`));
    tf.dispose([x, w, alpha]);
  });
});
