import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Code, F32, I32, V128, buildModule } from '../../src/kernels/simd/wasm_builder.js';
import { simdKernels } from '../../src/kernels/simd/kernels.js';
import { assertClose, randn } from '../helpers.js';

describe('wasm_builder', () => {
  it('emits a valid module whose SIMD function computes a sum', () => {
    // sum(ptr, n): f32x4 accumulation over n floats (n a multiple of 4), then a horizontal add.
    const c = new Code([I32, I32], [F32]);
    const acc = c.local(V128), i = c.local(I32);
    c.get(1).set(i);
    c.loop().get(acc).get(0).v128Load().f32x4Add().set(acc).addTo(0, 16).addTo(i, -4).get(i).i32(0).i32GtS().brIf(0).end();
    c.get(acc).f32x4ExtractLane(0).get(acc).f32x4ExtractLane(1).f32Add()
      .get(acc).f32x4ExtractLane(2).f32Add().get(acc).f32x4ExtractLane(3).f32Add();
    const bytes = buildModule({ module: 'env', field: 'memory', shared: false }, [{ name: 'sum', code: c }]);
    assert.ok(WebAssembly.validate(bytes));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const sum = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.sum as (p: number, n: number) => number;
    new Float32Array(memory.buffer, 64, 12).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12.5]);
    assert.equal(sum(64, 12), 78.5);
  });

  it('encodes negative and large constants (LEB128)', () => {
    for (const v of [-1, -64, -65, 63, 64, 8191, -8192, 2 ** 31 - 1, -(2 ** 31)]) {
      const c = new Code([], [I32]);
      c.i32(v);
      const bytes = buildModule({ module: 'env', field: 'memory', shared: false }, [{ name: 'k', code: c }]);
      const memory = new WebAssembly.Memory({ initial: 1 });
      const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.k as () => number;
      assert.equal(k(), v);
    }
  });
});

describe('SIMD weight-gradient micro-kernels', () => {
  it('accumulate outer products over a strided pixel grid, for every block size and a grid of blocks', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const k = simdKernels(memory);
    assert.ok(k !== null, 'WebAssembly SIMD is available in Node 20');
    // x: [nB, 5, 6, C] with C = 5 channels; dy: [nB, 4, 3, 20]; the grid takes every other x column.
    const nB = 2, xH = 5, xW = 6, C = 5, dH = 4, dW = 3, D = 20;
    const xv = randn([nB * xH * xW * C], 1).data, dv = randn([nB * dH * dW * D], 2).data;
    const f32 = new Float32Array(memory.buffer);
    const X = 0, DY = xv.length * 4, OUT = DY + dv.length * 4;
    f32.set(Float32Array.from(xv), X / 4);
    f32.set(Float32Array.from(dv), DY / 4);
    for (let cb = 1; cb <= 4; cb++) {
      for (let vb = 1; vb <= 4; vb++) {
        // As many blocks as fit: input channels 1 .. 1 + cb*nCb <= 5, output channels 4 .. 4 + 4*vb*nV <= 20.
        const nCb = Math.floor(4 / cb), nV = Math.floor(4 / vb);
        const init = randn([C * D], 10 * cb + vb).data;
        f32.set(Float32Array.from(init), OUT / 4);
        // rows r = 0..3 of x rows 1..4, columns c = 0..2 of x columns 0, 2, 4.
        const x0 = X + ((0 * xH + 1) * xW + 0) * C * 4 + 4, d0 = DY + 4 * 4;
        k.wgrad[cb][vb](x0, d0, OUT + 16, nB, dH, dW, xH * xW * C * 4, xW * C * 4, 2 * C * 4, dH * dW * D * 4, dW * D * 4, D * 4, D * 4, nCb, nV);
        const got = f32.slice(OUT / 4, OUT / 4 + C * D);
        const want = Float64Array.from(Float32Array.from(init));
        for (let b = 0; b < nB; b++) {
          for (let r = 0; r < dH; r++) {
            for (let c = 0; c < dW; c++) {
              for (let i = 0; i < cb * nCb; i++) {
                const xval = Math.fround(xv[((b * xH + r + 1) * xW + 2 * c) * C + 1 + i]);
                for (let j = 4; j < 4 + 4 * vb * nV; j++) want[i * D + j] += xval * Math.fround(dv[((b * dH + r) * dW + c) * D + j]);
              }
            }
          }
        }
        // Only the rows [0, cb*nCb) x channels [4, 4 + 4*vb*nV) change; the rest is untouched.
        assertClose(got, want, 1e-6, `cb=${cb} vb=${vb} nCb=${nCb} nV=${nV}`);
      }
    }
  });

  it('input-gradient kernels add dy . wT over a strided pixel grid, for every block size and several blocks', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const k = simdKernels(memory);
    assert.ok(k !== null);
    // dy: [nB, 3, 9, K] (K = 6 channels); dx: [nB, 5, 10, 16] (pixels every other column); wT: [K, 16].
    const nB = 2, dH = 3, dWd = 9, K = 6, xH = 5, xW = 10, C = 16;
    const dv = randn([nB * dH * dWd * K], 3).data, wv = randn([K * C], 4).data;
    const f32 = new Float32Array(memory.buffer);
    const DY = 0, WT = dv.length * 4, DX = WT + wv.length * 4;
    f32.set(Float32Array.from(dv), DY / 4);
    f32.set(Float32Array.from(wv), WT / 4);
    for (let pb = 1; pb <= 4; pb++) {
      for (let vb = 1; vb <= 4; vb++) {
        const init = Float32Array.from(randn([nB * xH * xW * C], 20 + 4 * pb + vb).data);
        f32.set(init, DX / 4);
        const groups = Math.floor(4 / pb); // pb * groups <= 4 columns used
        const nV = Math.floor(4 / vb); // blocks of channels: 4 * vb * nV <= 16
        // dy rows 0..2, columns 1, 2, ... (pb * groups of them); dx rows 1..3, columns 0, 2, 4, ...
        const d0 = DY + ((0 * dH + 0) * dWd + 1) * K * 4, x0 = DX + ((0 * xH + 1) * xW + 0) * C * 4;
        k.dgrad[pb][vb](d0, WT, x0, nB, dH, groups, dH * dWd * K * 4, dWd * K * 4, K * 4, xH * xW * C * 4, xW * C * 4, 2 * C * 4, K, C * 4, nV);
        const want = Float64Array.from(init);
        for (let b = 0; b < nB; b++) {
          for (let r = 0; r < dH; r++) {
            for (let col = 0; col < pb * groups; col++) {
              const dpix = ((b * dH + r) * dWd + 1 + col) * K, xpix = ((b * xH + r + 1) * xW + 2 * col) * C;
              for (let c = 0; c < 4 * vb * nV; c++) {
                let sum = 0;
                for (let kk = 0; kk < K; kk++) sum += Math.fround(dv[dpix + kk]) * Math.fround(wv[kk * C + c]);
                want[xpix + c] += sum;
              }
            }
          }
        }
        assertClose(f32.slice(DX / 4, DX / 4 + init.length), want, 1e-6, `pb=${pb} vb=${vb} nV=${nV}`);
      }
    }
  });
});
