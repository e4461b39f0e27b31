import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normBackward, normForward, NormSpec } from '../../../src/kernels/fused/norm_core.js';
import { scratchBytes, periodOf } from '../../../src/kernels/fused/heap.js';
import { simdFor, TOUCH_AHEAD_CHUNKS } from '../../../src/kernels/fused/simd_module.js';
import { assertClose, randn } from '../../helpers.js';

/**
 * The SIMD loops load the cache lines of later chunks ahead of time ("touch"); those loads must stay inside the
 * unit, or a tensor that ends where the memory ends makes the loop trap. Each tensor in turn is placed last in a
 * private memory, ending at its last byte, and the results are compared with the JavaScript loops.
 */
describe('fused normalization core: loads ahead stay inside the tensors', () => {
  // 255 rows: the last chunk is short, and a guard one row too generous would load past the unit.
  const C = 16, rows = 255, units = 3;
  const L = rows * C, N = units * L, bytes = N * 4;
  const spec: NormSpec = { units, unitLength: L, channels: C, groups: C, center: false, eps: 1e-6 };
  const params = { gamma: Float32Array.from(randn([C], 1, 0.5).data), beta: Float32Array.from(randn([C], 2, 0.1).data), tau: Float32Array.from(randn([C], 3, 0.2).data) };
  const x = Float32Array.from(randn([N], 4).data), dz = Float32Array.from(randn([N], 5).data);

  it('the tensors are long enough for the loops to load ahead', () => {
    // Loads ahead start once a unit has TOUCH_AHEAD_CHUNKS chunks and a block of rows after the current chunk.
    assert.ok(L / periodOf(C) > 16 * (TOUCH_AHEAD_CHUNKS + 1));
  });

  for (const last of ['x', 'dz', 'y', 'dx'] as const) {
    for (const center of [false, true]) {
      it(`${center ? 'centred' : 'uncentred'}, ${last} ending at the end of the memory`, () => {
        const s = { ...spec, center };
        const scratch = scratchBytes(periodOf(C));
        const order = ['x', 'dz', 'y', 'dx'].filter((k) => k !== last).concat(last);
        const pages = Math.ceil((scratch + 4 * bytes) / 65536);
        const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
        const end = pages * 65536;
        const at: Record<string, number> = {};
        order.forEach((k, i) => { at[k] = end - (order.length - i) * bytes; });
        assert.equal(at[last] + bytes, memory.buffer.byteLength);
        const run = (simd: boolean) => {
          const f32 = new Float32Array(memory.buffer);
          f32.set(x, at.x / 4);
          f32.set(dz, at.dz / 4);
          const heap = { memory, simd: simd ? simdFor(memory) : null };
          if (simd) assert.notEqual(heap.simd, null);
          const st = normForward(heap, s, at.x, at.y, 0, params);
          const zeros = new Float32Array(units * C);
          const g = normBackward(heap, s, at.x, at.dz, at.dx, 0, params, { rstd: st.rstd, offset: st.offset, dmean: zeros, dvariance: zeros, drstd: zeros });
          return { y: f32.slice(at.y / 4, at.y / 4 + N), dx: f32.slice(at.dx / 4, at.dx / 4 + N), dgamma: g.dgamma };
        };
        const simd = run(true), js = run(false);
        assertClose(simd.y, js.y, 1e-5, 'y');
        assertClose(simd.dx, js.dx, 1e-4, 'dx');
        assertClose(simd.dgamma, js.dgamma, 1e-4, 'dgamma');
      });
    }
  }
});
