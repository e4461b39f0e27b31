/**
 * Entry point of a data-parallel training worker (started by `trainer.ts`): imports the modules the caller listed
 * (custom layer classes; an import error is reported before TF.js is even loaded), then runs the worker body of
 * `worker_main.ts` on the thread's `workerData`.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, WorkerInit } from './protocol.js';

const data = workerData as WorkerInit;
let imported = true;
try {
  for (const m of data.imports) await import(m);
} catch (e) {
  imported = false;
  const err = e instanceof Error ? e : new Error(String(e));
  parentPort?.postMessage({ type: 'error', id: 'init', rank: data.rank, message: err.message, stack: err.stack } satisfies FromWorker);
  parentPort?.close();
}
if (imported) (await import('./worker_main.js')).runWorker(data);
