/**
 * `MaxPoolGrad` and `AvgPoolGrad` for `wasm` as direct loops with the channels innermost (the stock kernels
 * take ~20 ms and ~10 ms for a 2x2 pooling of a 64x28x28x16 activation, fifty times their forward pass).
 *
 * Semantics of the stock `cpu` kernels: the gradient of a max pooling goes to the first maximum of each window
 * in scan order (padding never wins); that of an average pooling spreads `dy / (filterHeight * filterWidth)`
 * over the window's positions inside the input.
 * @module
 */
import { tf } from '../engine.js';
import { KernelArgs, TensorInfo, WasmBackendLike, wasmF32 } from './backend_access.js';

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * What both gradients start with: the pooling geometry, the zeroed `dx` output (shaped like the forward input) and
 * views of `dx` and `dy` on the wasm heap.
 */
function poolGradSetup(args: KernelArgs) {
  const backend = args.backend as WasmBackendLike;
  const { dy, input } = args.inputs;
  const attrs = args.attrs as unknown as PoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1,
    attrs.pad as 'same', attrs.dimRoundingMode);
  const out = backend.makeOutput(input.shape, 'float32');
  const dx = wasmF32(backend, out);
  dx.fill(0);
  return {
    B: info.batchSize, H: info.inHeight, W: info.inWidth, C: info.inChannels, OH: info.outHeight, OW: info.outWidth,
    KH: info.filterHeight, KW: info.filterWidth, sh: info.strideHeight, sw: info.strideWidth, pt: info.padInfo.top, pl: info.padInfo.left,
    backend, input, out, dx, g: wasmF32(backend, dy),
  };
}

/** `MaxPoolGrad` for `wasm` (inputs `dy`, `input`, `output`). */
export function maxPoolGradWasm(args: KernelArgs): TensorInfo {
  const { B, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl, backend, input, out, dx, g } = poolGradSetup(args);
  const x = wasmF32(backend, input);
  const best = new Float32Array(C), pos = new Int32Array(C);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        best.fill(-Infinity);
        pos.fill(-1);
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - pt + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - pl + kw;
            if (iw < 0 || iw >= W) continue;
            const base = ((b * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c];
              if (v > best[c]) {
                best[c] = v;
                pos[c] = base + c;
              }
            }
          }
        }
        const d0 = ((b * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) if (pos[c] >= 0) dx[pos[c]] += g[d0 + c];
      }
    }
  }
  return out;
}

/** `AvgPoolGrad` for `wasm` (inputs `dy`, `input`). */
export function avgPoolGradWasm(args: KernelArgs): TensorInfo {
  const { B, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl, out, dx, g } = poolGradSetup(args);
  const scale = 1 / (KH * KW);
  const share = new Float32Array(C);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const d0 = ((b * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) share[c] = g[d0 + c] * scale;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - pt + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - pl + kw;
            if (iw < 0 || iw >= W) continue;
            const base = ((b * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) dx[base + c] += share[c];
          }
        }
      }
    }
  }
  return out;
}
