/**
 * Forward convolution on `wasm` (kernels `Conv2D` and `FusedConv2D`), NHWC, dilation 1:
 * `y[b,oh,ow,co] = bias[co] + sum_{kh,kw,ci} x[b, oh*sh - pt + kh, ow*sw - pl + kw, ci] * w[kh,kw,ci,co]`.
 *
 * It runs on the SIMD micro-kernels of the input gradient (`simd/kernels.ts`, `dgrad`), which compute
 * `out[pixel, 4j..4j+3] += sum_k in[pixel', k] * m[k, 4j..4j+3]` over a strided grid of pixels: here `in` is the
 * input `x` (its `Ci` channels), `m` the kernel tap `w[kh, kw]` (`[Ci, Co]`, read in place) and `out` the output.
 * For each chunk of images (kept in cache) and each tap, the output pixels whose input pixel lies inside the image
 * (the padding contributes zeros) accumulate the tap's products, two pixels and up to sixteen output channels at a
 * time. With relaxed SIMD (see `enableRelaxedSimd` of the Node entry) the multiply-adds are fused.
 *
 * It replaces XNNPACK's convolution of the stock backend (which re-packs the weights, changed at every training
 * step, on every call) for output channels a multiple of 4, any input channels: even 1- and 3-channel stems run
 * faster here (batch 32, 28×28×1 → 16: 0.53 vs 0.60-0.66 ms; ×3 → 16: 0.82 vs 1.0 ms). Other cases — other output
 * channel counts, dilation, NCHW, fused activations other than `linear` and `relu`, PReLU weights — go to the
 * stock kernel.
 * @module
 */
import { KernelArgs, TensorInfo, WasmBackendLike, sizeOf, wasmF32, wasmMemory, wasmPtr } from './backend_access.js';
import { convGeometry, dgradGrid, endInside, firstInside, forEachTap, imagesPerChunk, type ConvGeometry } from './conv2d_grads.js';
import { SimdKernels, simdKernels } from './simd/kernels.js';

/** Bytes of input and output images processed together (a chunk that stays in cache across the taps). */
const CHUNK_BYTES = 96 * 1024;
/**
 * The same for the folded rows of 1-3-channel stems ({@link foldedTapRows}): three passes over the output per
 * chunk instead of nine, and little work per call (one 28×28×1 → 16 image is 53 KB: one image per 96 KB chunk made
 * ~300 calls per step). Measured at batch 32, interleaved: 0.70-0.79 ms with one image per chunk, 0.54-0.60 with
 * 4-32 images.
 */
const FOLDED_CHUNK_BYTES = 512 * 1024;

/** Attributes of `Conv2D` / `FusedConv2D`. */
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

type Kernel = (args: KernelArgs) => TensorInfo;

/**
 * `y = conv(x, w) (+ bias)` on the backend's heap: zeros (or the bias) first, then one micro-kernel call per
 * chunk of images, tap and block of output channels.
 */
export function conv2DForwardSimd(backend: WasmBackendLike, k: SimdKernels, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, g: ConvGeometry): TensorInfo {
  const { batch: B, inH: H, inW: W, inC: Ci, outH: OH, outW: OW, outC: Co, kW: KW, strideH: sh, strideW: sw } = g;
  const y = backend.makeOutput([B, OH, OW, Co], 'float32');
  const out = wasmF32(backend, y);
  if (out.length === 0) return y;
  if (bias === undefined) {
    out.fill(0);
  } else {
    const b = wasmF32(backend, bias);
    if (b.length === 1) {
      out.fill(b[0]);
    } else { // one value per output channel: write one pixel, then double the filled prefix
      out.set(b, 0);
      for (let filled = Co, total = out.length; filled < total; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, total - filled));
    }
  }
  const xPtr = wasmPtr(backend, x), wPtr = wasmPtr(backend, filter), yPtr = wasmPtr(backend, y);
  const inS: [number, number, number] = [H * W * Ci * 4, sh * W * Ci * 4, sw * Ci * 4], outS: [number, number, number] = [OH * OW * Co * 4, OW * Co * 4, Co * 4];
  if (Ci < FOLD_BELOW_CHANNELS) {
    foldedTapRows(k, xPtr, wPtr, yPtr, g, inS, outS);
    return y;
  }
  forEachTap(g, imagesPerChunk(g, CHUNK_BYTES), ({ nb, kh, kw, rows, cols, inPixel, outPixel }) => {
    dgradGrid(k, xPtr + inPixel * Ci * 4, wPtr + (kh * KW + kw) * Ci * Co * 4, yPtr + outPixel * Co * 4, nb, rows, cols, inS, outS, Ci, Co * 4, Co / 4);
  });
  return y;
}

/**
 * Input channels below which a row of taps is one micro-kernel call: with 1-3 channels a tap alone gives the
 * micro-kernel 1-3 multiply-adds per output pixel, too few to pay for its accumulators.
 */
const FOLD_BELOW_CHANNELS = 4;

/**
 * The taps `(kh, 0..KW)` of a kernel row as one multiply-add depth `KW·Ci`: for output columns whose `KW` input
 * pixels all lie inside the image, those pixels' channels are `KW·Ci` consecutive floats of `x` and the taps'
 * kernel rows `w[kh, 0..KW]` are consecutive too, so one `dgrad` call does the whole row of taps (measured on
 * the 28×28×1 → 16 stem at batch 32: 0.50 ms instead of 0.59; ×3 → 16: 0.81 instead of 0.91). The edge columns,
 * where some tap falls on the padding, go tap by tap.
 */
function foldedTapRows(k: SimdKernels, xPtr: number, wPtr: number, yPtr: number, g: ConvGeometry,
  inS: [number, number, number], outS: [number, number, number]): void {
  const { batch: B, inH: H, inW: W, inC: Ci, outH: OH, outW: OW, outC: Co, kH: KH, kW: KW, strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = g;
  let owA = firstInside(0, sw, pl), owB = endInside(KW - 1, sw, pl, W, OW); // columns where every tap of a row is inside
  if (owB <= owA) owA = owB = OW; // none: all columns go tap by tap
  const chunk = imagesPerChunk(g, FOLDED_CHUNK_BYTES);
  for (let b0 = 0; b0 < B; b0 += chunk) {
    const nb = Math.min(chunk, B - b0);
    for (let kh = 0; kh < KH; kh++) {
      const oh0 = firstInside(kh, sh, pt), oh1 = endInside(kh, sh, pt, H, OH);
      if (oh1 <= oh0) continue;
      const inRow = b0 * H + oh0 * sh + kh - pt, outRow = b0 * OH + oh0;
      const xAt = (ow: number, kw: number) => xPtr + (inRow * W + ow * sw - pl + kw) * Ci * 4;
      const yAt = (ow: number) => yPtr + (outRow * OW + ow) * Co * 4;
      if (owB > owA) dgradGrid(k, xAt(owA, 0), wPtr + kh * KW * Ci * Co * 4, yAt(owA), nb, oh1 - oh0, owB - owA, inS, outS, KW * Ci, Co * 4, Co / 4);
      for (let kw = 0; kw < KW; kw++) {
        const c0 = firstInside(kw, sw, pl), c1 = endInside(kw, sw, pl, W, OW);
        const wTap = wPtr + (kh * KW + kw) * Ci * Co * 4;
        const left = Math.min(c1, owA), right = Math.max(c0, owB);
        if (left > c0) dgradGrid(k, xAt(c0, kw), wTap, yAt(c0), nb, oh1 - oh0, left - c0, inS, outS, Ci, Co * 4, Co / 4);
        if (c1 > right) dgradGrid(k, xAt(right, kw), wTap, yAt(right), nb, oh1 - oh0, c1 - right, inS, outS, Ci, Co * 4, Co / 4);
      }
    }
  }
}

/** Whether the SIMD forward convolution handles this call (else the stock kernel does). */
function simdCovers(x: TensorInfo, filter: TensorInfo, attrs: ConvAttrs): boolean {
  const dilations = attrs.dilations ?? 1;
  const dilated = Array.isArray(dilations) ? dilations.some((d) => d !== 1) : dilations !== 1;
  return !dilated && (attrs.dataFormat ?? 'NHWC') === 'NHWC' && x.dtype === 'float32' && filter.dtype === 'float32'
    && filter.shape[3] % 4 === 0;
}

function kernelsOf(backend: WasmBackendLike): SimdKernels | null {
  const memory = wasmMemory(backend);
  return memory === undefined ? null : simdKernels(memory);
}

/** `Conv2D` on `wasm`: {@link conv2DForwardSimd} where it applies, else `stock`. */
export function makeConv2DWasm(stock: Kernel | undefined): Kernel {
  return (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x, filter } = args.inputs;
    const attrs = args.attrs as unknown as ConvAttrs;
    const simd = simdCovers(x, filter, attrs) ? kernelsOf(backend) : null;
    if (simd === null) {
      if (stock === undefined) throw new Error("Conv2D (batchfree): no stock 'Conv2D' kernel to fall back to on wasm");
      return stock(args);
    }
    return conv2DForwardSimd(backend, simd, x, filter, undefined, convGeometry('Conv2D', x.shape, filter.shape, attrs));
  };
}

/**
 * `FusedConv2D` on `wasm` (what `tf.layers.conv2d` calls): {@link conv2DForwardSimd} with the bias for the
 * `linear` and `relu` activations (relu applied in place afterwards), else `stock`.
 */
export function makeFusedConv2DWasm(stock: Kernel | undefined): Kernel {
  return (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs as unknown as ConvAttrs;
    const activation = attrs.activation ?? 'linear';
    const covered = preluActivationWeights === undefined && (activation === 'linear' || activation === 'relu')
      && (bias === undefined || (bias.dtype === 'float32' && [1, filter.shape[3]].includes(sizeOf(bias.shape)))) && simdCovers(x, filter, attrs);
    const simd = covered ? kernelsOf(backend) : null;
    if (simd === null) {
      if (stock === undefined) throw new Error("FusedConv2D (batchfree): no stock 'FusedConv2D' kernel to fall back to on wasm");
      return stock(args);
    }
    const y = conv2DForwardSimd(backend, simd, x, filter, bias, convGeometry('FusedConv2D', x.shape, filter.shape, attrs));
    if (activation === 'relu') {
      const v = wasmF32(backend, y);
      for (let i = 0; i < v.length; i++) if (v[i] < 0) v[i] = 0; // NaN stays NaN
    }
    return y;
  };
}
