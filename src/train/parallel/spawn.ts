/**
 * Starting a worker thread on an ES module that may be TypeScript: under tsx (development, tests) a `.ts` entry
 * is loaded through tsx's loader registered inside the new thread (Node 20 does not pass the parent's `--import
 * tsx` hooks to a worker's entry); a `.js` entry (compiled `dist/`) starts directly.
 * @module
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A `Worker` running the module at `url` (a `file:` URL of a `.ts`, `.mts` or `.js` file), with `options`
 * (`workerData`, `resourceLimits`, ...; `eval` is set here). For a TypeScript module, the `tsx` package must be
 * resolvable from batchfree (it is a dev dependency).
 */
export function startModuleWorker(url: URL | string, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const href = typeof url === 'string' ? url : url.href;
  if (/\.m?ts$/.test(new URL(href).pathname)) {
    const tsx = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(href)}); });`;
    return new Worker(code, { ...options, eval: true });
  }
  return new Worker(new URL(href), options);
}

/** The URL of the sibling module `name` (without extension) of `base`, with `base`'s extension (`.ts` or `.js`). */
export function siblingModule(base: string, name: string): URL {
  const ext = /\.(m?ts)$/.exec(new URL(base).pathname)?.[1] ?? 'js';
  return new URL(`./${name}.${ext}`, base);
}
