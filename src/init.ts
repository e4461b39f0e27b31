/**
 * Picks and initialises the TensorFlow.js backend batchfree trains on, and installs batchfree's fast kernels
 * for it (`src/kernels/`: convolution gradients on XNNPACK for `wasm`, and others; see `registerFastKernels`).
 *
 * Browser-safe: the `wasm` backend is loaded with a dynamic `import()`, so a page where it cannot load falls
 * back to `cpu`. In a browser the `.wasm` files must be served next to the bundle (or located with
 * `setWasmPaths` from `@tensorflow/tfjs-backend-wasm`) as for any TF.js wasm application.
 * @module
 */
import { tf } from './engine.js';
import { registerFastKernels } from './kernels/register.js';
import { argumentError, assertInteger, assertOneOf } from './ops/validate.js';

/** Backends {@link init} knows. */
export const BACKEND_CHOICES = ['auto', 'wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu'] as const;
/** A backend name accepted by {@link init}. */
export type BackendChoice = typeof BACKEND_CHOICES[number];

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * `'auto'` (default): the fastest backend available, in this order: `tensorflow` (tfjs-node), `webgpu`,
   * `webgl` (each only if the application registered it by importing its package), then `wasm`, then `cpu`.
   * A named backend must initialise, or `init` throws.
   */
  backend?: BackendChoice;
  /**
   * Threads of the `wasm` backend (default: its own choice, the number of cores). Effective only in browsers
   * where its multi-threaded build loads (cross-origin isolated pages); in Node it runs on one thread.
   * Must be set before the `wasm` backend first initialises.
   */
  threads?: number;
}

/** Preference order of `'auto'`. */
const AUTO_ORDER = ['tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;

let wasmModule: Promise<unknown> | undefined;

/**
 * Loads `@tensorflow/tfjs-backend-wasm` (which registers the `wasm` backend) and passes it the thread count;
 * resolves to its exports, or null when it cannot load.
 */
async function loadWasm(threads?: number): Promise<Record<string, unknown> | null> {
  wasmModule ??= import('@tensorflow/tfjs-backend-wasm').catch(() => null);
  const wasm = (await wasmModule) as Record<string, unknown> | null;
  if (wasm !== null && threads !== undefined && typeof wasm.setThreadsCount === 'function') {
    try {
      (wasm.setThreadsCount as (n: number) => void)(threads);
    } catch {
      // Already initialised: the count can no longer change (it is a hint anyway).
    }
  }
  return wasm;
}

/** `tf.setBackend(name)`, false instead of an exception when it cannot initialise. */
async function trySetBackend(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Selects the backend (see {@link InitOptions.backend}), waits for it to be ready and registers batchfree's
 * fast kernels for it. Idempotent: calling it again with the same options changes nothing.
 *
 * On Node 20, import `batchfree/node` (or run the CLI) before the first `init()`: it turns on relaxed SIMD, whose
 * fused multiply-adds make the convolution kernels ~25% faster (Node 22+ and current browsers have it already).
 * @returns the name of the active backend.
 */
export async function init(options: InitOptions = {}): Promise<{ backend: string }> {
  const op = 'init';
  const choice = options.backend ?? 'auto';
  assertOneOf(op, 'backend', choice, BACKEND_CHOICES);
  if (options.threads !== undefined) assertInteger(op, 'threads', options.threads, 1);

  let chosen: string | undefined;
  if (choice === 'auto') {
    const registered = tf.engine().backendNames();
    for (const name of AUTO_ORDER) {
      if (name === 'wasm' && !registered.includes(name) && await loadWasm(options.threads) !== null) registered.push(name);
      if (!registered.includes(name)) continue;
      if (tf.engine().backendName === name || await trySetBackend(name)) {
        chosen = name;
        break;
      }
    }
  } else {
    if (choice === 'wasm') await loadWasm(options.threads);
    if (!tf.engine().backendNames().includes(choice)) {
      throw argumentError(op, 'backend', choice, `a registered backend (${tf.engine().backendNames().join(', ')}); import its package first`);
    }
    if (tf.engine().backendName === choice || await trySetBackend(choice)) chosen = choice;
    else throw argumentError(op, 'backend', choice, 'a backend that initialises on this platform');
  }
  if (chosen === undefined) throw new Error(`${op}: no backend could be initialised (tried ${AUTO_ORDER.join(', ')})`);
  await tf.ready();
  registerFastKernels(chosen);
  return { backend: chosen };
}
