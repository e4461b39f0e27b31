/**
 * `Identity` and same-dtype `Cast` without a copy: the output shares the input's buffer (reference counted,
 * as `Reshape` already does). The stock `wasm` kernels copy the whole tensor; the gradients of `relu`
 * (`cast(step(x))`), `add`/`sub` and the tape's own bookkeeping call them dozens of times per training step.
 * @module
 */
import { KernelArgs, TensorInfo, WasmBackendLike } from './backend_access.js';

type Kernel = (args: KernelArgs) => TensorInfo;

/** Shares `x`'s buffer (string tensors go to `stock`). */
function share(args: KernelArgs, stock: Kernel | undefined): TensorInfo {
  const { x } = args.inputs;
  if (x.dtype === 'string') {
    if (stock === undefined) throw new Error(`Identity (batchfree): string tensors need the stock kernel`);
    return stock(args);
  }
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** `Identity` for `wasm`. */
export const makeIdentityWasm = (stock?: Kernel): Kernel => (args) => share(args, stock);

/** `Cast` for `wasm`: shares the buffer when the dtype does not change, else the stock kernel. */
export const makeCastWasm = (stock?: Kernel): Kernel => (args) => {
  const { dtype } = args.attrs as { dtype: string };
  if (dtype === args.inputs.x.dtype) return share(args, stock);
  if (stock === undefined) throw new Error(`Cast (batchfree): no stock kernel for ${args.inputs.x.dtype} -> ${dtype}`);
  return stock(args);
};
