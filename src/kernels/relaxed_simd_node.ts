/**
 * Relaxed SIMD in Node 20 (Node-only; imported for its effect by the Node entry and the CLI; V8 flags are
 * process-wide, so worker threads started afterwards have it too).
 *
 * The SIMD micro-kernels (`simd/kernels.ts`) use `f32x4.relaxed_madd` — one fused multiply-add on FMA hardware
 * instead of a multiply and an add — where the engine validates it. V8 ships relaxed SIMD by default from 11.4
 * (Node 22, Chrome 114); Node 20's V8 11.3 has it behind `--experimental-wasm-relaxed-simd`, which can be turned on
 * at run time, before the kernels' module is compiled. On this machine it makes the convolution kernels ~25%
 * faster. The flag changes nothing else: it only lets modules using those instructions validate.
 * @module
 */
import v8 from 'node:v8';
import { relaxedSimdValidates } from './simd/kernels.js';

/** The V8 flag that enables relaxed SIMD in Node 20. */
export const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';

/** Whether this engine validates relaxed-SIMD instructions (the SIMD kernels' fused multiply-add module). */
export const hasRelaxedSimd: () => boolean = relaxedSimdValidates;

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
