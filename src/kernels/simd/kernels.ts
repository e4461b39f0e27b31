/**
 * SIMD micro-kernels generated at run time (see `wasm_builder.ts`) and instantiated on a given linear memory
 * — the `wasm` backend's own heap, so that they read and write its tensors in place.
 *
 * `wgrad_{CB}_{VB}` (weight gradient of a convolution): for one kernel tap, a block of `CB` (1-4) input
 * channels and `VB` (1-4) vectors of 4 output channels, it accumulates over a `nB x nR x nC` grid of output
 * pixels (strided pointers into `x` and `dy`, NHWC)
 *   `out[i, 4j..4j+3] += sum_pixels x[pixel, i] * dy[pixel, 4j..4j+3]`,
 * keeping the `CB * VB` accumulators in registers (the inner loop is `CB` splat loads, `VB` vector loads and
 * `CB * VB` multiply-adds). One call runs a grid of such blocks (all input channels and output vectors of a tap).
 *
 * Where the engine supports relaxed SIMD (V8 >= 11.4: Chrome 114+, Node 22+), the multiply-adds are
 * `f32x4.relaxed_madd` (fused on FMA hardware); else a multiply and an add.
 *
 * `dgrad_{PB}_{VB}` (input gradient): for one kernel tap and a block of `VB` vectors of 4 input channels, over
 * a `nB x nR x (nG groups of PB)` grid of output-gradient pixels, it adds to the input-gradient pixel of each
 *   `dx[pixel, 4j..4j+3] += sum_k dy[pixel', k] * wT[k, 4j..4j+3]`
 * (`wT` = the tap's kernel slice transposed to `[Co, Ci]`), with the `PB * VB` sums in registers; one call runs
 * `nV` consecutive blocks of channel vectors.
 * @module
 */
import { Code, I32, V128, buildModule } from './wasm_builder.js';

/** Largest input-channel block and output-vector block of the weight-gradient kernels. */
export const WGRAD_MAX_CB = 4, WGRAD_MAX_VB = 4;

/**
 * Emits the image and row loops of the gradient kernels: `for b = nB..1 { for r = nR..1 { body; xr += xR;
 * dr += dR }; x0 += xB; d0 += dB }`, where each row starts with `xr = x0`, `dr = d0` (all i32 locals; requires
 * nB, nR >= 1; `x0` and `d0` are advanced in place).
 */
function imageRowLoops(c: Code, l: { b: number; r: number; xr: number; dr: number; nB: number; nR: number; x0: number; d0: number;
  xB: number; xR: number; dB: number; dR: number }, body: () => void): void {
  c.get(l.nB).set(l.b);
  c.loop(); // over b
  c.get(l.x0).set(l.xr).get(l.d0).set(l.dr).get(l.nR).set(l.r);
  c.loop(); // over rows
  body();
  c.addTo(l.xr, { local: l.xR }).addTo(l.dr, { local: l.dR });
  c.endCountdown(l.r);
  c.addTo(l.x0, { local: l.xB }).addTo(l.d0, { local: l.dB });
  c.endCountdown(l.b);
}

/**
 * `wgrad(x0, d0, out, nB, nR, nC, xB, xR, xC, dB, dR, dC, outStride, nCb, nV)`, all byte addresses/strides:
 * pixel (b, r, c) reads `x0 + b*xB + r*xR + c*xC` (CB floats) and `d0 + b*dB + r*dR + c*dC` (4*VB floats);
 * row i of the accumulator block lives at `out + i*outStride`. It does `nCb x nV` such blocks, the block
 * `(i, j)` at channels `x0 + i*CB*4`, `d0 + j*VB*16` and accumulators `out + i*CB*outStride + j*VB*16`: one call
 * per kernel tap instead of one per block (the calls from JavaScript cost as much as a small block's work).
 * Requires nB, nR, nC, nCb, nV >= 1.
 */
function wgradKernel(cb: number, vb: number, fma: boolean): Code {
  const c = new Code(Array<typeof I32>(15).fill(I32));
  const [x0, d0, out, nB, nR, nC, xB, xR, xC, dB, dR, dC, outStride, nCb, nV] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const acc: number[][] = [];
  for (let i = 0; i < cb; i++) acc.push(Array.from({ length: vb }, () => c.local(V128)));
  const dv = Array.from({ length: vb }, () => c.local(V128));
  const s = c.local(V128);
  const [b, r, col, xr, dr, xp, dp, p] = [c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32)];
  const [ci, vi, xs, ds, os, ov, xb, db, cbOut] = Array.from({ length: 9 }, () => c.local(I32));

  c.get(outStride).i32(cb).i32Mul().set(cbOut);
  c.get(x0).set(xs).get(out).set(os).get(nCb).set(ci);
  c.loop(); // over blocks of input channels
  c.get(d0).set(ds).get(os).set(ov).get(nV).set(vi);
  c.loop(); // over blocks of output vectors
  // Load the accumulators.
  c.get(ov).set(p);
  for (let i = 0; i < cb; i++) {
    for (let j = 0; j < vb; j++) c.get(p).v128Load(16 * j).set(acc[i][j]);
    if (i < cb - 1) c.addTo(p, { local: outStride });
  }
  c.get(xs).set(xb).get(ds).set(db);
  imageRowLoops(c, { b, r, xr, dr, nB, nR, x0: xb, d0: db, xB, xR, dB, dR }, () => {
    c.get(xr).set(xp).get(dr).set(dp).get(nC).set(col);
    c.loop(); // over columns
    for (let j = 0; j < vb; j++) c.get(dp).v128Load(16 * j).set(dv[j]);
    for (let i = 0; i < cb; i++) {
      c.get(xp).v128Load32Splat(4 * i).set(s);
      for (let j = 0; j < vb; j++) c.macc(acc[i][j], s, dv[j], fma);
    }
    c.addTo(xp, { local: xC }).addTo(dp, { local: dC });
    c.endCountdown(col);
  });
  // Store them back.
  c.get(ov).set(p);
  for (let i = 0; i < cb; i++) {
    for (let j = 0; j < vb; j++) c.get(p).get(acc[i][j]).v128Store(16 * j);
    if (i < cb - 1) c.addTo(p, { local: outStride });
  }
  c.addTo(ds, 16 * vb).addTo(ov, 16 * vb);
  c.endCountdown(vi);
  c.addTo(xs, 4 * cb).addTo(os, { local: cbOut });
  c.endCountdown(ci);
  return c;
}

/**
 * `dgrad(d0, w0, x0, nB, nR, nG, dB, dR, dC, xB, xR, xC, K, wK, nV)`: output-gradient pixel (b, r, g*PB + p) is at
 * `d0 + b*dB + r*dR + (g*PB + p)*dC` (K floats), its input-gradient pixel at `x0 + b*xB + r*xR + (g*PB + p)*xC`
 * (4*VB floats, accumulated), row k of the transposed kernel block at `w0 + k*wK`. It does `nV` such blocks of
 * channels, block `j` at `w0 + j*VB*16` and `x0 + j*VB*16`. Requires nB, nR, nG, K, nV >= 1.
 */
function dgradKernel(pb: number, vb: number, fma: boolean): Code {
  const c = new Code(Array<typeof I32>(15).fill(I32));
  const [d0, w0, x0, nB, nR, nG, dB, dR, dC, xB, xR, xC, K, wK, nV] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const acc: number[][] = [];
  for (let p = 0; p < pb; p++) acc.push(Array.from({ length: vb }, () => c.local(V128)));
  const wv = Array.from({ length: vb }, () => c.local(V128));
  const s = c.local(V128), zero = c.local(V128);
  const [b, r, g, k, xr, dr, xg, dg, dp, wp, q] = Array.from({ length: 11 }, () => c.local(I32));
  const [vi, ws, xs, xb, db] = Array.from({ length: 5 }, () => c.local(I32));
  const dOff = Array.from({ length: pb }, () => c.local(I32)); // p * dC
  const xOff = Array.from({ length: pb }, () => c.local(I32)); // p * xC
  for (let p = 0; p < pb; p++) {
    c.get(dC).i32(p).i32Mul().set(dOff[p]);
    c.get(xC).i32(p).i32Mul().set(xOff[p]);
  }
  c.f32(0).f32x4Splat().set(zero);
  c.get(w0).set(ws).get(x0).set(xs).get(nV).set(vi);
  c.loop(); // over blocks of channel vectors
  c.get(xs).set(xb).get(d0).set(db);
  imageRowLoops(c, { b, r, xr, dr, nB, nR, x0: xb, d0: db, xB, xR, dB, dR }, () => {
    c.get(xr).set(xg).get(dr).set(dg).get(nG).set(g);
    c.loop(); // over groups of pb pixels
    for (let p = 0; p < pb; p++) for (let j = 0; j < vb; j++) c.get(zero).set(acc[p][j]);
    c.get(dg).set(dp).get(ws).set(wp).get(K).set(k);
    c.loop(); // over output-gradient channels
    for (let j = 0; j < vb; j++) c.get(wp).v128Load(16 * j).set(wv[j]);
    for (let p = 0; p < pb; p++) {
      c.get(dp).get(dOff[p]).i32Add().v128Load32Splat().set(s);
      for (let j = 0; j < vb; j++) c.macc(acc[p][j], s, wv[j], fma);
    }
    c.addTo(dp, 4).addTo(wp, { local: wK });
    c.endCountdown(k);
    for (let p = 0; p < pb; p++) {
      c.get(xg).get(xOff[p]).i32Add().set(q);
      for (let j = 0; j < vb; j++) c.get(q).get(q).v128Load(16 * j).get(acc[p][j]).f32x4Add().v128Store(16 * j);
    }
    c.get(xg).get(xOff[pb - 1]).i32Add().get(xC).i32Add().set(xg);
    c.get(dg).get(dOff[pb - 1]).i32Add().get(dC).i32Add().set(dg);
    c.endCountdown(g);
  });
  c.addTo(ws, 16 * vb).addTo(xs, 16 * vb);
  c.endCountdown(vi);
  return c;
}

/** Signature of the input-gradient micro-kernels (see {@link dgradKernel}). */
export type DgradKernel = (d0: number, w0: number, x0: number, nB: number, nR: number, nG: number,
  dB: number, dR: number, dC: number, xB: number, xR: number, xC: number, K: number, wK: number, nV: number) => void;

/**
 * `copyRows(src, dst, rows, n16, n4, srcStride, dstStride)`: copies `rows` rows of `16*n16 + 4*n4` bytes from
 * `src + r*srcStride` to `dst + r*dstStride` (128-bit moves, then 32-bit words; bit-exact for any 4-byte dtype).
 */
function copyRowsKernel(): Code {
  const c = new Code(Array<typeof I32>(7).fill(I32));
  const [src, dst, rows, n16, n4, srcStride, dstStride] = [0, 1, 2, 3, 4, 5, 6];
  const [s, d, k] = [c.local(I32), c.local(I32), c.local(I32)];
  c.block().get(rows).i32Eqz().brIf(0);
  c.loop();
  c.get(src).set(s).get(dst).set(d);
  c.get(n16).set(k).block().get(k).i32Eqz().brIf(0).loop();
  c.get(d).get(s).v128Load().v128Store().addTo(s, 16).addTo(d, 16);
  c.endCountdown(k).end();
  c.get(n4).set(k).block().get(k).i32Eqz().brIf(0).loop();
  c.get(d).get(s).i32Load().i32Store().addTo(s, 4).addTo(d, 4);
  c.endCountdown(k).end();
  c.addTo(src, { local: srcStride }).addTo(dst, { local: dstStride });
  c.endCountdown(rows).end();
  return c;
}

/** Signature of {@link copyRowsKernel}. */
export type CopyRowsKernel = (src: number, dst: number, rows: number, n16: number, n4: number, srcStride: number, dstStride: number) => void;

/** Largest pixel block and input-channel vector block of the input-gradient kernels. */
export const DGRAD_MAX_PB = 4, DGRAD_MAX_VB = 4;

/** Signature of the weight-gradient micro-kernels (see {@link wgradKernel}). */
export type WgradKernel = (x0: number, d0: number, out: number, nB: number, nR: number, nC: number,
  xB: number, xR: number, xC: number, dB: number, dR: number, dC: number, outStride: number, nCb: number, nV: number) => void;

/** The instantiated kernels of one memory. */
export interface SimdKernels {
  /** `wgrad[cb][vb]` for cb, vb in 1..4. */
  wgrad: WgradKernel[][];
  /** `dgrad[pb][vb]` for pb, vb in 1..4. */
  dgrad: DgradKernel[][];
  /** Strided row copies (slices, concatenations). */
  copyRows: CopyRowsKernel;
}

const byMemory = new WeakMap<WebAssembly.Memory, SimdKernels | null>();
/** Module bytes by (shared memory, fused multiply-add). */
const modules = new Map<string, Uint8Array<ArrayBuffer>>();

function functions(fma: boolean): Array<{ name: string; code: Code }> {
  const fns: Array<{ name: string; code: Code }> = [];
  for (let cb = 1; cb <= WGRAD_MAX_CB; cb++) {
    for (let vb = 1; vb <= WGRAD_MAX_VB; vb++) fns.push({ name: `wgrad_${cb}_${vb}`, code: wgradKernel(cb, vb, fma) });
  }
  for (let pb = 1; pb <= DGRAD_MAX_PB; pb++) {
    for (let vb = 1; vb <= DGRAD_MAX_VB; vb++) fns.push({ name: `dgrad_${pb}_${vb}`, code: dgradKernel(pb, vb, fma) });
  }
  fns.push({ name: 'copy_rows', code: copyRowsKernel() });
  return fns;
}

/** The kernels' module for this kind of memory: with relaxed-SIMD multiply-adds where they validate. */
function moduleFor(shared: boolean): Uint8Array<ArrayBuffer> | undefined {
  for (const fma of [true, false]) {
    const bytes = moduleBytes(shared, fma);
    if (WebAssembly.validate(bytes)) return bytes;
  }
  return undefined;
}

/** The kernels' module bytes for this kind of memory, with or without relaxed-SIMD multiply-adds (built once). */
function moduleBytes(shared: boolean, fma: boolean): Uint8Array<ArrayBuffer> {
  const key = `${shared}/${fma}`;
  let bytes = modules.get(key);
  if (bytes === undefined) modules.set(key, bytes = buildModule({ module: 'env', field: 'memory', shared }, functions(fma)));
  return bytes;
}

/** Whether this engine validates the kernels' relaxed-SIMD (fused multiply-add) module. */
export function relaxedSimdValidates(): boolean {
  return WebAssembly.validate(moduleBytes(false, true));
}

/**
 * The SIMD kernels operating on `memory`, or null where WebAssembly SIMD is unavailable. Built once per
 * memory (the module itself once per process).
 */
export function simdKernels(memory: WebAssembly.Memory): SimdKernels | null {
  const cached = byMemory.get(memory);
  if (cached !== undefined) return cached;
  let kernels: SimdKernels | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = moduleFor(shared);
    if (bytes !== undefined) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      const ex = instance.exports;
      // table[a][b] = export `${prefix}_${a}_${b}` (index 0 unused).
      const table = <T>(prefix: string, maxA: number, maxB: number): T[][] =>
        Array.from({ length: maxA + 1 }, (_, a) => Array.from({ length: maxB + 1 }, (__, b) => ex[`${prefix}_${a}_${b}`] as T));
      kernels = {
        wgrad: table<WgradKernel>('wgrad', WGRAD_MAX_CB, WGRAD_MAX_VB),
        dgrad: table<DgradKernel>('dgrad', DGRAD_MAX_PB, DGRAD_MAX_VB),
        copyRows: ex.copy_rows as CopyRowsKernel,
      };
    }
  } catch {
    kernels = null; // no SIMD, or a shared memory whose limits differ: callers fall back
  }
  byMemory.set(memory, kernels);
  return kernels;
}
