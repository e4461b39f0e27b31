import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { init } from '../../src/init.js';
import { restoreStockKernels } from '../../src/kernels/register.js';
import { assertClose, randn } from '../helpers.js';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case { name: string; x: number[]; k: [number, number]; m: number; strides: number; pad: Pad; dilations?: number }

const cases: Case[] = [
  { name: '3x3 stride 1 same, multiplier 1', x: [2, 6, 5, 4], k: [3, 3], m: 1, strides: 1, pad: 'same' },
  { name: '3x3 stride 2 same, multiplier 2, odd sizes', x: [3, 7, 5, 3], k: [3, 3], m: 2, strides: 2, pad: 'same' },
  { name: '5x3 stride 1 valid, B = 1', x: [1, 8, 6, 5], k: [5, 3], m: 1, strides: 1, pad: 'valid' },
  { name: '3x3 stride 3 explicit padding, multiplier 3', x: [2, 9, 8, 2], k: [3, 3], m: 3, strides: 3, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { name: '1x1 stride 2 valid', x: [2, 6, 6, 3], k: [1, 1], m: 1, strides: 2, pad: 'valid' },
];

function args(c: Case) {
  const filterShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.m];
  const info = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], filterShape, c.strides, c.dilations ?? 1, c.pad, undefined, true);
  return { filterShape, yShape: info.outShape };
}

/** Both gradient kernels run directly (tf.grads refuses dilations > 1). */
function runKernels(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): [Float32Array, Float32Array] {
  const { filterShape, yShape } = args(c);
  const common = { strides: c.strides, pad: c.pad, dilations: c.dilations ?? 1 };
  const xt = tf.tensor(x, c.x), wt = tf.tensor(w, filterShape), dyt = tf.tensor(dy, yShape);
  const dw = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: xt, dy: dyt }, { ...common, filterShape }) as tf.Tensor;
  const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dyt, filter: wt }, { ...common, inputShape: c.x }) as tf.Tensor;
  const out: [Float32Array, Float32Array] = [dx.dataSync() as Float32Array, dw.dataSync() as Float32Array];
  tf.dispose([xt, wt, dyt, dw, dx]);
  return out;
}

/**
 * Independent float64 reference: the adjoints of `y[b,oh,ow,c*M+m] = sum x[b, oh*s-pt+kh*d, ow*s-pl+kw*d, c] w[kh,kw,c,m]`
 * accumulated term by term from that definition.
 */
function reference(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): [Float64Array, Float64Array] {
  const { filterShape, yShape } = args(c);
  const info = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], filterShape, c.strides, c.dilations ?? 1, c.pad, undefined, true);
  const [B, H, W, C] = c.x, [, OH, OW] = yShape, [KH, KW, , M] = filterShape, d = c.dilations ?? 1;
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length);
  for (let b = 0; b < B; b++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * c.strides - info.padInfo.top + kh * d, iw = ow * c.strides - info.padInfo.left + kw * d;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let ch = 0; ch < C; ch++) for (let m = 0; m < M; m++) {
        const g = dy[((b * OH + oh) * OW + ow) * C * M + ch * M + m];
        dx[((b * H + ih) * W + iw) * C + ch] += g * w[((kh * KW + kw) * C + ch) * M + m];
        dw[((kh * KW + kw) * C + ch) * M + m] += g * x[((b * H + ih) * W + iw) * C + ch];
      }
    }
  }
  return [dx, dw];
}

describe('depthwise convolution gradient kernels (wasm)', () => {
  before(async () => {
    await init({ backend: 'wasm' });
    restoreStockKernels('cpu');
  });

  for (const [i, c] of cases.entries()) {
    it(`match the stock cpu kernels and a float64 reference: ${c.name}`, async () => {
      const { filterShape, yShape } = args(c);
      const x = Float32Array.from(randn(c.x, 400 + i).data);
      const w = Float32Array.from(randn(filterShape, 500 + i, 0.5).data);
      const dy = Float32Array.from(randn(yShape, 600 + i).data);
      await tf.setBackend('cpu');
      const [refX, refW] = runKernels(c, x, w, dy);
      await tf.setBackend('wasm');
      const buffers = tf.backend().numDataIds();
      const [gotX, gotW] = runKernels(c, x, w, dy);
      assert.equal(tf.backend().numDataIds(), buffers, 'leaked backend buffers');
      assertClose(gotX, refX, 1e-5, 'dx');
      assertClose(gotW, refW, 1e-5, 'dw');
      const [x64, w64] = reference(c, x, w, dy);
      assertClose(gotX, x64, 1e-5, 'dx vs float64');
      assertClose(gotW, w64, 1e-5, 'dw vs float64');
    });
  }

  it('support dilations (against the float64 reference: the stock cpu input gradient ignores them)', async () => {
    const c: Case = { name: 'dilation 2', x: [2, 9, 8, 3], k: [3, 3], m: 2, strides: 1, pad: 'same', dilations: 2 };
    const { filterShape, yShape } = args(c);
    const x = Float32Array.from(randn(c.x, 7).data), w = Float32Array.from(randn(filterShape, 8).data), dy = Float32Array.from(randn(yShape, 9).data);
    await tf.setBackend('wasm');
    const [gotX, gotW] = runKernels(c, x, w, dy);
    const [x64, w64] = reference(c, x, w, dy);
    assertClose(gotX, x64, 1e-5, 'dx');
    assertClose(gotW, w64, 1e-5, 'dw');
  });

  it('let tf.grads differentiate depthwiseConv2d on wasm like on cpu', async () => {
    const c = cases[1];
    const { filterShape } = args(c);
    const x = Float32Array.from(randn(c.x, 1).data), w = Float32Array.from(randn(filterShape, 2).data);
    const grads = () => {
      const xt = tf.tensor4d(x, c.x as [number, number, number, number]), wt = tf.tensor4d(w, filterShape);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, 'same'))))([xt, wt]);
      const v = g.map((t) => t.dataSync() as Float32Array);
      tf.dispose([xt, wt, ...g]);
      return v;
    };
    await tf.setBackend('cpu');
    const want = grads();
    await tf.setBackend('wasm');
    const got = grads();
    assertClose(got[0], want[0], 1e-5, 'dx');
    assertClose(got[1], want[1], 1e-5, 'dw');
  });
});
