/**
 * Gradients of `tf.depthwiseConv2d` for the `wasm` backend, which has none (so depthwise and separable
 * convolutions cannot train there): kernels `DepthwiseConv2dNativeBackpropFilter` and
 * `DepthwiseConv2dNativeBackpropInput`, NHWC, any channel multiplier `M`, strides, dilations and padding.
 *
 * With `y[b,oh,ow,c*M+m] = sum_{kh,kw} x[b, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, c] * w[kh,kw,c,m]`:
 * - `dw[kh,kw,c,m] = sum_{b,oh,ow} x[b, ih, iw, c] * dy[b,oh,ow,c*M+m]`;
 * - `dx[b,ih,iw,c] = sum_{kh,kw,m} dy[b,oh,ow,c*M+m] * w[kh,kw,c,m]` over the (oh, ow, kh, kw) reaching (ih, iw).
 *
 * Direct loops over the backend's heap (a depthwise layer has few multiply-adds per element), channels
 * innermost, float64 sums for the weight gradient.
 * @module
 */
import { tf } from '../engine.js';
import { KernelArgs, TensorInfo, WasmBackendLike, wasmF32 } from './backend_access.js';

interface DepthwiseGradAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: DepthwiseGradAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, attrs.dilations ?? 1, attrs.pad as 'same', attrs.dimRoundingMode, true);
}

/** Calls `visit(xOffset, dyOffset, wOffset)` for every (output pixel, tap) pair whose input pixel is inside. */
function forEachTap(info: tf.backend_util.Conv2DInfo, visit: (x0: number, dy0: number, w0: number) => void): void {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CM,
    filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const dy0 = ((b * OH + oh) * OW + ow) * CM;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - pt + kh * dh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - pl + kw * dw;
            if (iw < 0 || iw >= W) continue;
            visit(((b * H + ih) * W + iw) * C, dy0, (kh * KW + kw) * CM);
          }
        }
      }
    }
  }
}

/** `DepthwiseConv2dNativeBackpropFilter` for `wasm`. */
export function depthwiseBackpropFilterWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs;
  const attrs = args.attrs as unknown as DepthwiseGradAttrs;
  const filterShape = attrs.filterShape as number[];
  const info = depthwiseInfo(x.shape, filterShape, attrs);
  const C = info.inChannels, M = info.outChannels / info.inChannels;
  const xv = wasmF32(backend, x), dv = wasmF32(backend, dy);
  const acc = new Float64Array(filterShape[0] * filterShape[1] * C * M);
  if (M === 1) {
    forEachTap(info, (x0, dy0, w0) => {
      for (let c = 0; c < C; c++) acc[w0 + c] += xv[x0 + c] * dv[dy0 + c];
    });
  } else {
    forEachTap(info, (x0, dy0, w0) => {
      for (let c = 0; c < C; c++) {
        const v = xv[x0 + c];
        for (let m = 0; m < M; m++) acc[w0 + c * M + m] += v * dv[dy0 + c * M + m];
      }
    });
  }
  const out = backend.makeOutput(filterShape, 'float32');
  wasmF32(backend, out).set(acc);
  return out;
}

/** `DepthwiseConv2dNativeBackpropInput` for `wasm`. */
export function depthwiseBackpropInputWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, filter } = args.inputs;
  const attrs = args.attrs as unknown as DepthwiseGradAttrs;
  const inputShape = attrs.inputShape as number[];
  const info = depthwiseInfo(inputShape, filter.shape, attrs);
  const C = info.inChannels, M = info.outChannels / info.inChannels;
  const out = backend.makeOutput(inputShape, 'float32');
  const dx = wasmF32(backend, out), dv = wasmF32(backend, dy), wv = wasmF32(backend, filter);
  dx.fill(0);
  if (M === 1) {
    forEachTap(info, (x0, dy0, w0) => {
      for (let c = 0; c < C; c++) dx[x0 + c] += dv[dy0 + c] * wv[w0 + c];
    });
  } else {
    forEachTap(info, (x0, dy0, w0) => {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let m = 0; m < M; m++) s += dv[dy0 + c * M + m] * wv[w0 + c * M + m];
        dx[x0 + c] += s;
      }
    });
  }
  return out;
}
