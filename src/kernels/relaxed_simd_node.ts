/**
 * Relaxed SIMD in Node 20 (Node-only; imported for its effect by the Node entry, the CLI and the workers).
 *
 * The SIMD micro-kernels (`simd/kernels.ts`) use `f32x4.relaxed_madd` — one fused multiply-add on FMA hardware
 * instead of a multiply and an add — where the engine validates it. V8 ships relaxed SIMD by default from 11.4
 * (Node 22, Chrome 114); Node 20's V8 11.3 has it behind `--experimental-wasm-relaxed-simd`, which can be turned on
 * at run time, before the kernels' module is compiled. On this machine it makes the convolution kernels ~25%
 * faster. The flag changes nothing else: it only lets modules using those instructions validate.
 * @module
 */
import v8 from 'node:v8';

/** The V8 flag that enables relaxed SIMD in Node 20. */
export const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';

/** A module whose one function uses `f32x4.relaxed_madd`: `(func (result v128) v128.const 0 ×3 relaxed_madd)`. */
const PROBE = (() => {
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0
  const body = [0x00, ...zero, ...zero, ...zero, 0xfd, 0x85, 0x02, 0x0b]; // no locals; 3 operands; relaxed_madd (0x105); end
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section
  ]);
})();

/** Whether this engine validates relaxed-SIMD instructions. */
export function hasRelaxedSimd(): boolean {
  return WebAssembly.validate(PROBE);
}

/**
 * Turns relaxed SIMD on where the engine has it behind a flag (Node 20); does nothing where it is already on or
 * absent. Call it before `init()` builds the kernels (the CLI and `batchfree/node` do it on import).
 * @returns whether relaxed SIMD is available afterwards.
 */
export function enableRelaxedSimd(): boolean {
  if (hasRelaxedSimd()) return true;
  try {
    v8.setFlagsFromString(RELAXED_SIMD_FLAG);
  } catch {
    return false;
  }
  return hasRelaxedSimd();
}

enableRelaxedSimd();
