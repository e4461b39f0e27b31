/**
 * SIMD micro-kernels generated at run time (see `wasm_builder.ts`) and instantiated on a given linear memory
 * — the `wasm` backend's own heap, so that they read and write its tensors in place.
 *
 * `wgrad_{CB}_{VB}` (weight gradient of a convolution): for one kernel tap, a block of `CB` (1-4) input
 * channels and `VB` (1-4) vectors of 4 output channels, it accumulates over a `nB x nR x nC` grid of output
 * pixels (strided pointers into `x` and `dy`, NHWC)
 *   `out[i, 4j..4j+3] += sum_pixels x[pixel, i] * dy[pixel, 4j..4j+3]`,
 * keeping the `CB * VB` accumulators in registers (the inner loop is `CB` splat loads, `VB` vector loads and
 * `CB * VB` multiply-adds).
 * @module
 */
import { Code, I32, V128, buildModule } from './wasm_builder.js';

/** Largest input-channel block and output-vector block of the weight-gradient kernels. */
export const WGRAD_MAX_CB = 4, WGRAD_MAX_VB = 4;

/**
 * `wgrad(x0, d0, out, nB, nR, nC, xB, xR, xC, dB, dR, dC, outStride)`, all byte addresses/strides:
 * pixel (b, r, c) reads `x0 + b*xB + r*xR + c*xC` (CB floats) and `d0 + b*dB + r*dR + c*dC` (4*VB floats);
 * row i of the accumulator block lives at `out + i*outStride`. Requires nB, nR, nC >= 1.
 */
function wgradKernel(cb: number, vb: number): Code {
  const c = new Code(Array<typeof I32>(13).fill(I32));
  const [x0, d0, out, nB, nR, nC, xB, xR, xC, dB, dR, dC, outStride] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const acc: number[][] = [];
  for (let i = 0; i < cb; i++) acc.push(Array.from({ length: vb }, () => c.local(V128)));
  const dv = Array.from({ length: vb }, () => c.local(V128));
  const s = c.local(V128);
  const [b, r, col, xr, dr, xp, dp, p] = [c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32), c.local(I32)];

  // Load the accumulators.
  c.get(out).set(p);
  for (let i = 0; i < cb; i++) {
    for (let j = 0; j < vb; j++) c.get(p).v128Load(16 * j).set(acc[i][j]);
    if (i < cb - 1) c.addTo(p, { local: outStride });
  }
  c.get(nB).set(b);
  c.loop(); // over b
  c.get(x0).set(xr).get(d0).set(dr).get(nR).set(r);
  c.loop(); // over rows
  c.get(xr).set(xp).get(dr).set(dp).get(nC).set(col);
  c.loop(); // over columns
  for (let j = 0; j < vb; j++) c.get(dp).v128Load(16 * j).set(dv[j]);
  for (let i = 0; i < cb; i++) {
    c.get(xp).v128Load32Splat(4 * i).set(s);
    for (let j = 0; j < vb; j++) c.get(acc[i][j]).get(s).get(dv[j]).f32x4Mul().f32x4Add().set(acc[i][j]);
  }
  c.addTo(xp, { local: xC }).addTo(dp, { local: dC });
  c.get(col).i32(1).i32Sub().tee(col).brIf(0);
  c.end();
  c.addTo(xr, { local: xR }).addTo(dr, { local: dR });
  c.get(r).i32(1).i32Sub().tee(r).brIf(0);
  c.end();
  c.addTo(x0, { local: xB }).addTo(d0, { local: dB });
  c.get(b).i32(1).i32Sub().tee(b).brIf(0);
  c.end();
  // Store them back.
  c.get(out).set(p);
  for (let i = 0; i < cb; i++) {
    for (let j = 0; j < vb; j++) c.get(p).get(acc[i][j]).v128Store(16 * j);
    if (i < cb - 1) c.addTo(p, { local: outStride });
  }
  return c;
}

/** Signature of the weight-gradient micro-kernels (see {@link wgradKernel}). */
export type WgradKernel = (x0: number, d0: number, out: number, nB: number, nR: number, nC: number,
  xB: number, xR: number, xC: number, dB: number, dR: number, dC: number, outStride: number) => void;

/** The instantiated kernels of one memory. */
export interface SimdKernels {
  /** `wgrad[cb][vb]` for cb, vb in 1..4. */
  wgrad: WgradKernel[][];
}

let moduleBytes: Uint8Array<ArrayBuffer> | undefined;
let sharedModuleBytes: Uint8Array<ArrayBuffer> | undefined;
const byMemory = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

function functions(): Array<{ name: string; code: Code }> {
  const fns: Array<{ name: string; code: Code }> = [];
  for (let cb = 1; cb <= WGRAD_MAX_CB; cb++) {
    for (let vb = 1; vb <= WGRAD_MAX_VB; vb++) fns.push({ name: `wgrad_${cb}_${vb}`, code: wgradKernel(cb, vb) });
  }
  return fns;
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
    const bytes = shared
      ? (sharedModuleBytes ??= buildModule({ module: 'env', field: 'memory', shared: true }, functions()))
      : (moduleBytes ??= buildModule({ module: 'env', field: 'memory', shared: false }, functions()));
    if (WebAssembly.validate(bytes)) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      const ex = instance.exports as Record<string, WgradKernel>;
      const wgrad: WgradKernel[][] = [[]];
      for (let cb = 1; cb <= WGRAD_MAX_CB; cb++) {
        wgrad.push([]);
        for (let vb = 0; vb <= WGRAD_MAX_VB; vb++) wgrad[cb].push(ex[`wgrad_${cb}_${vb}`]);
      }
      kernels = { wgrad };
    }
  } catch {
    kernels = null; // no SIMD, or a shared memory whose limits differ: callers fall back
  }
  byMemory.set(memory, kernels);
  return kernels;
}
