/**
 * Forward convolution on `wasm` (kernels `Conv2D` and `FusedConv2D`), NHWC, dilation 1:
 * `y[b,oh,ow,co] = bias[co] + sum_{kh,kw,ci} x[b, oh*sh - pt + kh, ow*sw - pl + kw, ci] * w[kh,kw,ci,co]`.
 *
 * It runs on the SIMD micro-kernels of the input gradient (`simd/kernels.ts`, `dgrad`), which compute
 * `out[pixel, 4j..4j+3] += sum_k in[pixel', k] * m[k, 4j..4j+3]` over a strided grid of pixels: here `in` is the
 * input `x` (its `Ci` channels), `m` the kernel tap `w[kh, kw]` (`[Ci, Co]`, read in place) and `out` the output.
 * For each chunk of images (kept in cache) and each tap, the output pixels whose input pixel lies inside the image
 * (the padding contributes zeros) accumulate the tap's products, four pixels and up to twelve output channels at a
 * time. With relaxed SIMD (see `enableRelaxedSimd` of the Node entry) the multiply-adds are fused.
 *
 * It replaces XNNPACK's convolution of the stock backend where it is faster: output channels a multiple of 4 and
 * at least {@link MIN_SIMD_INPUT_CHANNELS} input channels (XNNPACK re-packs the weights, which change at every
 * training step, on every call). Other cases — fewer channels, dilation, NCHW, fused activations other than
 * `linear` and `relu`, PReLU weights — go to the stock kernel.
 * @module
 */
import { KernelArgs, TensorInfo, WasmBackendLike, sizeOf, wasmF32, wasmMemory, wasmPtr } from './backend_access.js';
import { convGeometry, type ConvGeometry } from './conv2d_grads.js';
import { DGRAD_MAX_PB, SimdKernels, simdKernels } from './simd/kernels.js';

/** Fewest input channels for which the SIMD forward convolution beats XNNPACK (measured: 1-channel stems lose). */
export const MIN_SIMD_INPUT_CHANNELS = 4;

/** Bytes of input and output images processed together (a chunk that stays in cache across the taps). */
const CHUNK_BYTES = 96 * 1024;

/** Output-channel vectors (of 4) per micro-kernel call: 4 pixels x 3 vectors = 12 accumulators in registers. */
const VECTOR_BLOCK = 3;

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
  const { batch: B, inH: H, inW: W, inC: Ci, outH: OH, outW: OW, outC: Co, kH: KH, kW: KW, strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = g;
  const y = backend.makeOutput([B, OH, OW, Co], 'float32');
  const out = wasmF32(backend, y);
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
  const vectors = Co / 4;
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / ((H * W * Ci + OH * OW * Co) * 4)));
  // Strides (bytes) of the micro-kernel's `in` (= x, sampled at the forward strides) and `out` (= y) grids.
  const [inB, inR, inC, outB, outR, outC] = [H * W * Ci * 4, sh * W * Ci * 4, sw * Ci * 4, OH * OW * Co * 4, OW * Co * 4, Co * 4];
  const PB = DGRAD_MAX_PB;
  for (let b0 = 0; b0 < B; b0 += chunk) {
    const nb = Math.min(chunk, B - b0);
    for (let kh = 0; kh < KH; kh++) {
      const oh0 = Math.max(0, Math.ceil((pt - kh) / sh)), oh1 = Math.min(OH, Math.floor((H - 1 + pt - kh) / sh) + 1);
      if (oh1 <= oh0) continue;
      for (let kw = 0; kw < KW; kw++) {
        const ow0 = Math.max(0, Math.ceil((pl - kw) / sw)), ow1 = Math.min(OW, Math.floor((W - 1 + pl - kw) / sw) + 1);
        if (ow1 <= ow0) continue;
        const inBase = xPtr + (((b0 * H + oh0 * sh + kh - pt) * W + ow0 * sw + kw - pl) * Ci) * 4;
        const outBase = yPtr + (((b0 * OH + oh0) * OW + ow0) * Co) * 4;
        const tapBase = wPtr + (kh * KW + kw) * Ci * Co * 4;
        const groups = Math.floor((ow1 - ow0) / PB), rest = (ow1 - ow0) % PB;
        for (let v = 0; v < vectors; v += VECTOR_BLOCK) {
          const vb = Math.min(VECTOR_BLOCK, vectors - v);
          if (groups > 0) k.dgrad[PB][vb](inBase, tapBase + v * 16, outBase + v * 16, nb, oh1 - oh0, groups, inB, inR, inC, outB, outR, outC, Ci, Co * 4);
          if (rest > 0) {
            k.dgrad[rest][vb](inBase + groups * PB * inC, tapBase + v * 16, outBase + v * 16 + groups * PB * outC,
              nb, oh1 - oh0, 1, inB, inR, inC, outB, outR, outC, Ci, Co * 4);
          }
        }
      }
    }
  }
  return y;
}

/** Whether the SIMD forward convolution handles this call (else the stock kernel does). */
function simdCovers(x: TensorInfo, filter: TensorInfo, attrs: ConvAttrs): boolean {
  const dilations = attrs.dilations ?? 1;
  const dilated = Array.isArray(dilations) ? dilations.some((d) => d !== 1) : dilations !== 1;
  return !dilated && (attrs.dataFormat ?? 'NHWC') === 'NHWC' && x.dtype === 'float32' && filter.dtype === 'float32'
    && filter.shape[3] % 4 === 0 && filter.shape[2] >= MIN_SIMD_INPUT_CHANNELS;
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
