/**
 * Gradients of `tf.conv2d` (kernels `Conv2DBackpropFilter` and `Conv2DBackpropInput`), NHWC.
 *
 * With the forward convolution `y[b,oh,ow,co] = sum_{kh,kw,ci} x[b, oh*sh - pt + kh, ow*sw - pl + kw, ci] *
 * w[kh,kw,ci,co]` (TF.js' gradients support dilation 1 only):
 * - weight gradient `dw[kh,kw,ci,co] = sum_{b,oh,ow} x[b, oh*sh - pt + kh, ow*sw - pl + kw, ci] * dy[b,oh,ow,co]`;
 * - input gradient `dx[b,h,w,ci] = sum_{kh,kw,co: h = oh*sh - pt + kh, w = ...} dy[b,oh,ow,co] * w[kh,kw,ci,co]`.
 *
 * On `wasm`:
 * - with WebAssembly SIMD (all current engines) — and, for `dw`, output channels a multiple of 4; `dx` pads other
 *   input-channel counts to one, e.g. the 1- or 3-channel stems — both are SIMD micro-kernels (`simd/kernels.ts`) reading `x`, `dy` and
 *   `w` in place on the backend's heap: per chunk of images, tap and channel block, register-blocked outer
 *   products (`dw`) or `dy . w^T` products added to `dx`;
 * - otherwise they are forward convolutions on the backend's XNNPACK `Conv2D` (PEERS.md): `dw` = conv of the
 *   transposed input `[Ci,H,W,B]` (B as channels) with the transposed output gradient `[OH,OW,B,Co]` as filter,
 *   stride 1 and dilation = the forward stride, then `[Ci,KH,KW,Co] -> [KH,KW,Ci,Co]`; `dx` = stride-1 conv of
 *   the output gradient padded by `KH - 1 - pt` (top) etc. with the kernel flipped in (kh, kw) and its in/out
 *   channels swapped, for stride > 1 one such conv per phase of the input (equivalent to zero-inserting `dy`,
 *   without the multiply-adds by the inserted zeros). XNNPACK re-packs its "filter" on every call (the weights
 *   change every step), which makes the `dw` route several times slower than the SIMD kernels.
 *
 * On `cpu` they are direct loops over the backend's typed arrays whose innermost loop runs over contiguous
 * channels (TF.js' own `cpu` weight gradient takes seconds per layer).
 * @module
 */
import { tf } from '../engine.js';
import { CpuBackendLike, KernelArgs, TensorInfo, WasmBackendLike, callKernel, cpuF32, wasmF32, wasmMemory, wasmPtr } from './backend_access.js';
import { SimdKernels, simdKernels } from './simd/kernels.js';

/** Attributes TF.js passes to both gradient kernels. */
interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

/** Sizes of one NHWC convolution (dilation 1) and its padding. */
export interface ConvGeometry {
  batch: number; inH: number; inW: number; inC: number;
  outH: number; outW: number; outC: number;
  kH: number; kW: number; strideH: number; strideW: number;
  padTop: number; padLeft: number;
}

/** Resolves TF.js' padding/stride attributes to explicit sizes (channels-last only). */
export function convGeometry(kernel: string, xShape: number[], filterShape: number[], attrs: ConvGradAttrs): ConvGeometry {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`${kernel} (batchfree): argument 'dataFormat' is invalid: got '${attrs.dataFormat}', expected 'NHWC'`);
  }
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
    filterShape as [number, number, number, number], attrs.strides, 1, attrs.pad as 'same', attrs.dimRoundingMode);
  return {
    batch: info.batchSize, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    kH: info.filterHeight, kW: info.filterWidth, strideH: info.strideHeight, strideW: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

/** Images per chunk of a SIMD convolution pass: as many as keep `bytes` of input and output images in cache (at least 1). */
export function imagesPerChunk(g: ConvGeometry, bytes: number): number {
  return Math.max(1, Math.floor(bytes / ((g.inH * g.inW * g.inC + g.outH * g.outW * g.outC) * 4)));
}

/** One kernel tap of one chunk of images: the output pixels it reaches, and their first input and output pixels. */
export interface TapRange {
  /** First image and number of images of the chunk. */
  b0: number; nb: number;
  kh: number; kw: number;
  /** Output rows `[oh0, oh0 + rows)` and columns `[ow0, ow0 + cols)` whose input pixel lies inside the image. */
  oh0: number; rows: number; ow0: number; cols: number;
  /** Pixel indices (NHWC, without the channel) of the first input pixel `(oh0·sh - pt + kh, ow0·sw - pl + kw)` and of the first output pixel. */
  inPixel: number; outPixel: number;
}

/**
 * The output positions `[first, end)` along one axis whose input position `o·stride - pad + k` (kernel tap `k`)
 * lies inside `[0, inSize)`; empty when `end <= first`.
 */
export function firstInside(k: number, stride: number, pad: number): number {
  return Math.max(0, Math.ceil((pad - k) / stride));
}

/** See {@link firstInside}: one past the last such output position (at most `outSize`). */
export function endInside(k: number, stride: number, pad: number, inSize: number, outSize: number): number {
  return Math.min(outSize, Math.floor((inSize - 1 + pad - k) / stride) + 1);
}

/**
 * Calls `visit` for each chunk of `chunk` images and each kernel tap `(kh, kw)` that reaches at least one input
 * pixel inside the image (the padding contributes nothing): the loop shared by the SIMD forward convolution and
 * both gradients. `visit` receives the same object each time, updated (read it, don't keep it): no garbage per tap.
 */
export function forEachTap(g: ConvGeometry, chunk: number, visit: (t: TapRange) => void): void {
  const { batch: B, inH: H, inW: W, outH: OH, outW: OW, kH: KH, kW: KW, strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = g;
  const t: TapRange = { b0: 0, nb: 0, kh: 0, kw: 0, oh0: 0, rows: 0, ow0: 0, cols: 0, inPixel: 0, outPixel: 0 };
  for (let b0 = 0; b0 < B; b0 += chunk) {
    const nb = Math.min(chunk, B - b0);
    for (let kh = 0; kh < KH; kh++) {
      const oh0 = firstInside(kh, sh, pt), oh1 = endInside(kh, sh, pt, H, OH);
      if (oh1 <= oh0) continue;
      for (let kw = 0; kw < KW; kw++) {
        const ow0 = firstInside(kw, sw, pl), ow1 = endInside(kw, sw, pl, W, OW);
        if (ow1 <= ow0) continue;
        t.b0 = b0; t.nb = nb; t.kh = kh; t.kw = kw; t.oh0 = oh0; t.rows = oh1 - oh0; t.ow0 = ow0; t.cols = ow1 - ow0;
        t.inPixel = (b0 * H + oh0 * sh + kh - pt) * W + ow0 * sw + kw - pl;
        t.outPixel = (b0 * OH + oh0) * OW + ow0;
        visit(t);
      }
    }
  }
}

/**
 * Register blocking of the micro-kernels: 2 pixels (`dgrad`) or 2 input channels (`wgrad`) × 4 vectors of 4
 * channels = 8 accumulators, plus 4 operand vectors and a splat: 13 of the 16 xmm registers, of which V8 keeps
 * one as scratch. The former 4 × 3 blocks (12 accumulators + 3 + 1) spilled: measured on this machine
 * (convolutions of 16-64 channels at batch 32), 8 accumulators run forward and input gradients at 18.5-25
 * GMAC/s instead of 14-19, weight gradients at 17-22 instead of 14-17.
 */
const DGRAD_PB = 2, DGRAD_VB = 4, WGRAD_CB = 2, WGRAD_VB = 4;

/** Byte strides of a `dgrad` pixel grid: per image, per row, per column. */
type GridStrides = [number, number, number];

/**
 * `out[pixel, 0..4·vectors) += in[pixel', 0..K) · mat[0..K, 0..4·vectors)` over a `nb × rows × cols` grid of pixels
 * (`in`/`out` strides `inS`/`outS`, bytes), by the `dgrad` micro-kernels: blocks of 2 pixels × 4 vectors (8
 * accumulators), then the remaining column; each call runs all full blocks of vectors (then one for the rest).
 * `mat` rows are `matRow` bytes apart.
 */
export function dgradGrid(k: SimdKernels, inBase: number, matBase: number, outBase: number, nb: number, rows: number, cols: number,
  inS: GridStrides, outS: GridStrides, K: number, matRow: number, vectors: number): void {
  const PB = DGRAD_PB, VB = DGRAD_VB;
  const groups = Math.floor(cols / PB), rest = cols % PB;
  // Strides passed one by one: a spread would allocate an arguments array per call (tens of thousands per step).
  const [iB, iR, iC] = inS, [oB, oR, oC] = outS;
  const fullV = Math.floor(vectors / VB), restV = vectors % VB;
  for (let part = 0; part < 2; part++) { // the full blocks of vectors, then the rest (no array literal: no garbage)
    const vb = part === 0 ? VB : restV, nV = part === 0 ? fullV : 1, v = part === 0 ? 0 : fullV * VB;
    if (vb === 0 || nV === 0) continue;
    if (groups > 0) k.dgrad[PB][vb](inBase, matBase + v * 16, outBase + v * 16, nb, rows, groups, iB, iR, iC, oB, oR, oC, K, matRow, nV);
    if (rest > 0) k.dgrad[rest][vb](inBase + groups * PB * iC, matBase + v * 16, outBase + v * 16 + groups * PB * oC, nb, rows, 1, iB, iR, iC, oB, oR, oC, K, matRow, nV);
  }
}

// ---------------------------------------------------------------------------------------------- wasm

/** Bytes of `x` and `dy` processed together by the SIMD gradients (a chunk of images that stays in cache). */
const WGRAD_CHUNK_BYTES = 64 * 1024;
/**
 * The same for 1-3 input channels (stems), whose calls do little work per image: the 28×28×1 → 16 stem at batch
 * 32 took 0.43-0.45 ms with one image per chunk, 0.40-0.42 with 4-16 (interleaved A/B).
 */
const STEM_WGRAD_CHUNK_BYTES = 512 * 1024;

/**
 * Weight gradient by the SIMD micro-kernels, reading `x` and `dy` in place (no transposes, no packing): for
 * each chunk of images and tap `(kh, kw)`, one kernel call (plus one per partial block) accumulates, block of
 * input channels by block of output channels, the outer products over the output pixels whose input pixel is
 * inside the image.
 */
function conv2DBackpropFilterSimd(backend: WasmBackendLike, k: SimdKernels, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  const { inH: H, inW: W, inC: Ci, outH: OH, outW: OW, outC: Co, kH: KH, kW: KW, strideH: sh, strideW: sw } = g;
  const out = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  wasmF32(backend, out).fill(0);
  const xPtr = backend.dataIdMap.get(x.dataId).memoryOffset;
  const dyPtr = backend.dataIdMap.get(dy.dataId).memoryOffset;
  const outPtr = backend.dataIdMap.get(out.dataId).memoryOffset;
  const vectors = Co / 4;
  const [xB, xR, xC, dB, dR, dC] = [H * W * Ci * 4, sh * W * Ci * 4, sw * Ci * 4, OH * OW * Co * 4, OW * Co * 4, Co * 4];
  // Full blocks of input channels and output vectors, then the remaining ones (e.g. the stem's 1 or 3 channels).
  const fullC = Math.floor(Ci / WGRAD_CB), restC = Ci % WGRAD_CB, fullV = Math.floor(vectors / WGRAD_VB), restV = vectors % WGRAD_VB;
  forEachTap(g, imagesPerChunk(g, Ci < 4 ? STEM_WGRAD_CHUNK_BYTES : WGRAD_CHUNK_BYTES), ({ nb, kh, kw, rows, cols, inPixel, outPixel }) => {
    const xBase = xPtr + inPixel * Ci * 4, dBase = dyPtr + outPixel * Co * 4, oBase = outPtr + (kh * KW + kw) * Ci * Co * 4;
    for (let part = 0; part < 4; part++) {
      const restCb = part >= 2, restVb = part % 2 === 1;
      const cb = restCb ? restC : WGRAD_CB, nCb = restCb ? 1 : fullC, vb = restVb ? restV : WGRAD_VB, nV = restVb ? 1 : fullV;
      if (cb === 0 || nCb === 0 || vb === 0 || nV === 0) continue;
      const ci = restCb ? fullC * WGRAD_CB : 0, v = restVb ? fullV * WGRAD_VB : 0;
      k.wgrad[cb][vb](xBase + ci * 4, dBase + v * 16, oBase + (ci * Co + v * 4) * 4, nb, rows, cols, xB, xR, xC, dB, dR, dC, Co * 4, nCb, nV);
    }
  });
  return out;
}

/**
 * `Conv2DBackpropFilter` on `wasm`: the SIMD micro-kernels when the output channels are a multiple of 4 and
 * WebAssembly SIMD is available, else one XNNPACK convolution plus two transposes.
 */
export function conv2DBackpropFilterWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs;
  const attrs = args.attrs as unknown as ConvGradAttrs;
  const g = convGeometry('Conv2DBackpropFilter', x.shape, attrs.filterShape as number[], attrs);
  const memory = g.outC % 4 === 0 ? wasmMemory(backend) : undefined;
  const simd = memory === undefined ? null : simdKernels(memory);
  if (simd !== null) return conv2DBackpropFilterSimd(backend, simd, x, dy, g);
  return conv2DBackpropFilterXnn(backend, x, dy, g);
}

/** Weight gradient as one XNNPACK convolution of the transposed input with the transposed `dy` as filter. */
function conv2DBackpropFilterXnn(backend: WasmBackendLike, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  const call = (name: string, inputs: Record<string, TensorInfo>, a: Record<string, unknown>) => callKernel(name, 'wasm', backend, inputs, a);

  // Rows/columns of the (top/left padded) input the forward pass reached; pad the bottom/right up to them.
  const spanH = (g.kH - 1) + (g.outH - 1) * g.strideH + 1;
  const spanW = (g.kW - 1) + (g.outW - 1) * g.strideW + 1;
  const padBottom = Math.max(0, spanH - g.padTop - g.inH);
  const padRight = Math.max(0, spanW - g.padLeft - g.inW);

  const xT = call('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, B]
  const dyT = call('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, B, Co]
  const conv = call('Conv2D', { x: xT, filter: dyT }, {
    strides: [1, 1], dilations: [g.strideH, g.strideW], dataFormat: 'NHWC',
    pad: [[0, 0], [g.padTop, padBottom], [g.padLeft, padRight], [0, 0]],
  }); // [Ci, >= KH, >= KW, Co]
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);

  const out = backend.makeOutput([g.kH, g.kW, g.inC, g.outC], 'float32');
  const src = wasmF32(backend, conv), dst = wasmF32(backend, out);
  const [, cH, cW] = conv.shape;
  const C = g.outC;
  for (let kh = 0; kh < g.kH; kh++) {
    for (let kw = 0; kw < g.kW; kw++) {
      for (let ci = 0; ci < g.inC; ci++) {
        const s = ((ci * cH + kh) * cW + kw) * C;
        dst.set(src.subarray(s, s + C), ((kh * g.kW + kw) * g.inC + ci) * C);
      }
    }
  }
  backend.disposeData(conv.dataId);
  return out;
}

/** One phase of the strided input gradient: the input rows/columns `h = u*s + r - pad` for a fixed residue `r`. */
interface Phase {
  /** Residue of `h + pad` modulo the stride: only kernel taps `k = r + j*s` reach these rows. */
  r: number;
  /** Number of taps `j` of this phase, `ceil((K - r) / s)` (0 when `r >= K`). */
  taps: number;
  /** First phase index `u` with `h >= 0`, and how many `u` have `h < size`. */
  u0: number; count: number;
  /** Zero padding before/after the output gradient for the phase's stride-1 "full" convolution. */
  before: number; after: number;
}

function phase(r: number, k: number, s: number, pad: number, size: number, outSize: number): Phase {
  const taps = r < k ? Math.ceil((k - r) / s) : 0;
  const u0 = Math.ceil((pad - r) / s);
  const count = Math.floor((size - 1 + pad - r) / s) - u0 + 1;
  const before = Math.max(0, taps - 1 - u0);
  const after = Math.max(0, u0 + count - outSize);
  return { r, taps, u0, count, before, after };
}

/**
 * Input gradient by the SIMD micro-kernels: for each chunk of images, tap and block of input channels, the
 * output-gradient pixels whose input pixel is inside the image add `dy[pixel] . w[tap]^T` to it, two pixels
 * at a time. Reads `dy` in place; the kernel is transposed to `[KH, KW, Co, Ci]` first (small).
 */
function conv2DBackpropInputSimd(backend: WasmBackendLike, k: SimdKernels, dy: TensorInfo, filter: TensorInfo, geometry: ConvGeometry): TensorInfo {
  // Input channels not a multiple of 4 (stems: 1 or 3): compute 4-channel vectors into a padded gradient, the
  // kernel padded with zeros, then keep the first Ci channels of each pixel.
  const g = { ...geometry, inC: Math.ceil(geometry.inC / 4) * 4 };
  const { batch: B, inH: H, inW: W, inC: Ci, outH: OH, outW: OW, outC: Co, kH: KH, kW: KW, strideH: sh, strideW: sw } = g;
  const Cx = geometry.inC;
  const dx = backend.makeOutput([B, H, W, Ci], 'float32'); // the gradient, with the padded channels
  const wT = backend.makeOutput([KH, KW, Co, Ci], 'float32');
  const dxOut = Ci === Cx ? dx : backend.makeOutput([B, H, W, Cx], 'float32'); // the result
  wasmF32(backend, dx).fill(0);
  const w = wasmF32(backend, filter), t = wasmF32(backend, wT);
  if (Ci !== Cx) t.fill(0);
  for (let tap = 0; tap < KH * KW; tap++) {
    const i0 = tap * Cx * Co, o0 = tap * Co * Ci;
    for (let ci = 0; ci < Cx; ci++) for (let co = 0; co < Co; co++) t[o0 + co * Ci + ci] = w[i0 + ci * Co + co];
  }
  const dyPtr = backend.dataIdMap.get(dy.dataId).memoryOffset;
  const dxPtr = backend.dataIdMap.get(dx.dataId).memoryOffset;
  const wPtr = backend.dataIdMap.get(wT.dataId).memoryOffset;
  const outS: GridStrides = [H * W * Ci * 4, sh * W * Ci * 4, sw * Ci * 4], inS: GridStrides = [OH * OW * Co * 4, OW * Co * 4, Co * 4];
  forEachTap(g, imagesPerChunk(g, WGRAD_CHUNK_BYTES), ({ nb, kh, kw, rows, cols, inPixel, outPixel }) => {
    // Here the grid's "in" is dy (at the output pixels) and its "out" is dx (at the input pixels).
    dgradGrid(k, dyPtr + outPixel * Co * 4, wPtr + (kh * KW + kw) * Co * Ci * 4, dxPtr + inPixel * Ci * 4, nb, rows, cols, inS, outS, Co, Ci * 4, Ci / 4);
  });
  backend.disposeData(wT.dataId);
  if (dxOut === dx) return dx;
  const bytes = Cx * 4;
  k.copyRows(dxPtr, wasmPtr(backend, dxOut), B * H * W, Math.floor(bytes / 16), (bytes % 16) / 4, Ci * 4, bytes);
  backend.disposeData(dx.dataId);
  return dxOut;
}

/**
 * `Conv2DBackpropInput` on `wasm` without SIMD kernels. Each of the `sh * sw` phases of the input (positions with the same
 * residue modulo the stride) receives contributions from one sub-grid of kernel taps only, through a
 * stride-1 convolution of `dy` with that sub-kernel flipped and transposed. This does the useful
 * multiply-adds only, unlike the zero-inserted formulation (`sh * sw` times more). Stride 1 is one phase
 * whose convolution output is `dx` itself.
 */
export function conv2DBackpropInputWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, filter } = args.inputs;
  const attrs = args.attrs as unknown as ConvGradAttrs;
  const g = convGeometry('Conv2DBackpropInput', attrs.inputShape as number[], filter.shape, attrs);
  const memory = wasmMemory(backend);
  const simd = memory === undefined ? null : simdKernels(memory);
  if (simd !== null) return conv2DBackpropInputSimd(backend, simd, dy, filter, g);
  const { batch: B, inH: H, inW: W, inC: Ci, outH: OH, outW: OW, kH: KH, kW: KW, strideH: sh, strideW: sw } = g;
  const rows: Phase[] = [], cols: Phase[] = [];
  for (let r = 0; r < sh; r++) rows.push(phase(r, KH, sh, g.padTop, H, OH));
  for (let r = 0; r < sw; r++) cols.push(phase(r, KW, sw, g.padLeft, W, OW));

  // Stride 1 with an output exactly the size of dx: the convolution writes dx directly.
  if (sh === 1 && sw === 1) {
    const [pr, pc] = [rows[0], cols[0]];
    if (pr.u0 - (pr.taps - 1 - pr.before) === 0 && OH + pr.before + pr.after - pr.taps + 1 === H &&
        pc.u0 - (pc.taps - 1 - pc.before) === 0 && OW + pc.before + pc.after - pc.taps + 1 === W) {
      return phaseConv(backend, dy, filter, g, pr, pc);
    }
  }

  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  const someEmpty = rows.some((p) => p.taps === 0 || p.count <= 0) || cols.some((p) => p.taps === 0 || p.count <= 0);
  if (someEmpty) wasmF32(backend, dx).fill(0);
  for (const pr of rows) {
    for (const pc of cols) {
      if (pr.count <= 0 || pc.count <= 0 || pr.taps === 0 || pc.taps === 0) continue;
      const part = phaseConv(backend, dy, filter, g, pr, pc);
      const src = wasmF32(backend, part), dst = wasmF32(backend, dx);
      const [, pH, pW] = part.shape;
      const t0 = pr.u0 - (pr.taps - 1 - pr.before), q0 = pc.u0 - (pc.taps - 1 - pc.before);
      const h0 = pr.u0 * sh + pr.r - g.padTop, w0 = pc.u0 * sw + pc.r - g.padLeft;
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < pr.count; i++) {
          let s = ((b * pH + t0 + i) * pW + q0) * Ci;
          let d = ((b * H + h0 + i * sh) * W + w0) * Ci;
          for (let j = 0; j < pc.count; j++, s += Ci, d += sw * Ci) {
            for (let c = 0; c < Ci; c++) dst[d + c] = src[s + c];
          }
        }
      }
      backend.disposeData(part.dataId);
    }
  }
  return dx;
}

/** The stride-1 convolution of `dy` with the sub-kernel of phase (`pr`, `pc`), flipped and transposed. */
function phaseConv(backend: WasmBackendLike, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry, pr: Phase, pc: Phase): TensorInfo {
  const { inC: Ci, outC: Co, kW: KW, strideH: sh, strideW: sw } = g;
  const sub = backend.makeOutput([pr.taps, pc.taps, Co, Ci], 'float32');
  const w = wasmF32(backend, filter), d = wasmF32(backend, sub);
  // sub[j', i', co, ci] = w[r_h + (Jh-1-j')*sh, r_w + (Jw-1-i')*sw, ci, co]
  for (let jh = 0; jh < pr.taps; jh++) {
    const kh = pr.r + (pr.taps - 1 - jh) * sh;
    for (let jw = 0; jw < pc.taps; jw++) {
      const kw = pc.r + (pc.taps - 1 - jw) * sw;
      const s0 = (kh * KW + kw) * Ci * Co, d0 = (jh * pc.taps + jw) * Co * Ci;
      for (let ci = 0; ci < Ci; ci++) {
        for (let co = 0; co < Co; co++) d[d0 + co * Ci + ci] = w[s0 + ci * Co + co];
      }
    }
  }
  const out = callKernel('Conv2D', 'wasm', backend, { x: dy, filter: sub }, {
    strides: [1, 1], dilations: [1, 1], dataFormat: 'NHWC',
    pad: [[0, 0], [pr.before, pr.after], [pc.before, pc.after], [0, 0]],
  });
  backend.disposeData(sub.dataId);
  return out;
}

// ----------------------------------------------------------------------------------------------- cpu

/** `Conv2DBackpropFilter` on `cpu`: direct loop, contiguous output channels innermost, float64 sums. */
export function conv2DBackpropFilterCpu(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const attrs = args.attrs as unknown as ConvGradAttrs;
  const g = convGeometry('Conv2DBackpropFilter', args.inputs.x.shape, attrs.filterShape as number[], attrs);
  const x = cpuF32(backend, args.inputs.x), dy = cpuF32(backend, args.inputs.dy);
  const { inH: H, inW: W, inC: Ci, outH: OH, outW: OW, outC: Co, kH: KH, kW: KW } = g;
  const acc = new Float64Array(KH * KW * Ci * Co);
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const d0 = ((b * OH + oh) * OW + ow) * Co;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * g.strideH - g.padTop + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * g.strideW - g.padLeft + kw;
            if (iw < 0 || iw >= W) continue;
            const x0 = ((b * H + ih) * W + iw) * Ci;
            let w0 = (kh * KW + kw) * Ci * Co;
            for (let ci = 0; ci < Ci; ci++, w0 += Co) {
              const xv = x[x0 + ci];
              if (xv === 0) continue;
              for (let co = 0; co < Co; co++) acc[w0 + co] += xv * dy[d0 + co];
            }
          }
        }
      }
    }
  }
  return backend.makeTensorInfo([KH, KW, Ci, Co], 'float32', Float32Array.from(acc));
}

/** `Conv2DBackpropInput` on `cpu`: direct loop, dot products over contiguous output channels. */
export function conv2DBackpropInputCpu(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const attrs = args.attrs as unknown as ConvGradAttrs;
  const g = convGeometry('Conv2DBackpropInput', attrs.inputShape as number[], args.inputs.filter.shape, attrs);
  const dy = cpuF32(backend, args.inputs.dy), w = cpuF32(backend, args.inputs.filter);
  const { inH: H, inW: W, inC: Ci, outH: OH, outW: OW, outC: Co, kH: KH, kW: KW } = g;
  const dx = new Float32Array(g.batch * H * W * Ci);
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const d0 = ((b * OH + oh) * OW + ow) * Co;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * g.strideH - g.padTop + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * g.strideW - g.padLeft + kw;
            if (iw < 0 || iw >= W) continue;
            const x0 = ((b * H + ih) * W + iw) * Ci;
            let w0 = (kh * KW + kw) * Ci * Co;
            for (let ci = 0; ci < Ci; ci++, w0 += Co) {
              let s = 0;
              for (let co = 0; co < Co; co++) s += w[w0 + co] * dy[d0 + co];
              dx[x0 + ci] += s;
            }
          }
        }
      }
    }
  }
  return backend.makeTensorInfo([g.batch, H, W, Ci], 'float32', dx);
}
