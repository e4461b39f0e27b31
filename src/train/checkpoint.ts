/**
 * Node-only: training checkpoints, written atomically to `<out>/checkpoint/`.
 *
 * A checkpoint directory holds
 * - `model.json` + `weights.bin`: the model, written by the file-system IO handler (`fileSystem(dir)`), every
 *   weight (trainable and not: BN moving statistics, BRN step counters) in `model.weights` order;
 * - `optimizer.json` + `optimizer.bin`: the optimizer state (momentum buffers), each entry tied to its parameter
 *   by *index* in the parameter list, so it restores into a model rebuilt under different variable names;
 * - `state.json` (written last): whatever JSON the loop needs to continue — step, epoch, batch in epoch, RNG
 *   state, config, metrics so far.
 *
 * Atomicity: everything is written to `<out>/checkpoint.tmp-<pid>-<random>/`, then the previous checkpoint is
 * renamed to `checkpoint.old`, the new one to `checkpoint`, and `checkpoint.old` removed. A process killed at any
 * moment leaves either `checkpoint/` or `checkpoint.old/` complete; {@link checkpointDir} finds it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { access, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tf, tfl } from '../engine.js';
import { fileSystem } from '../io/file_system.js';
import { argumentError } from '../ops/validate.js';
import type { NamedOptimizer, OptimizerStateEntry } from '../optim/sgd.js';
import type { NamedVariable } from '../optim/params.js';

/** Name of the checkpoint directory inside a run's output directory. */
export const CHECKPOINT_DIR = 'checkpoint';
/** The previous checkpoint while a new one is being moved into place. */
const OLD_DIR = 'checkpoint.old';
const TMP_PREFIX = 'checkpoint.tmp-';
const STATE_JSON = 'state.json';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';
/** Format tag of `state.json`. */
export const CHECKPOINT_FORMAT = 'batchfree-checkpoint/1';

/** What a checkpoint saves besides the state JSON. */
export interface CheckpointParts {
  /** The model; all of `model.weights` are saved. */
  model: tfl.LayersModel;
  /** The optimizer whose `getState()` is saved (omit for none). */
  optimizer?: NamedOptimizer;
  /** The parameters the optimizer updates, in a fixed order (state entries are stored by index in this list). */
  params?: readonly NamedVariable[];
}

/** One optimizer state entry as stored: `<params[param].name>/<slot>`. */
interface StoredOptimizerEntry {
  param: number;
  slot: string;
  spec: tf.io.WeightsManifestEntry;
}

/** The directory of the newest complete checkpoint under `outDir`, or `null` when there is none. */
export async function checkpointDir(outDir: string): Promise<string | null> {
  for (const name of [CHECKPOINT_DIR, OLD_DIR]) {
    const dir = join(resolve(outDir), name);
    if (await exists(join(dir, STATE_JSON))) return dir;
  }
  return null;
}

/**
 * Writes a checkpoint of `parts` and `state` (any JSON-serialisable object) to `<outDir>/checkpoint/`,
 * atomically (see the module description). Leaves no tensor behind.
 * @returns the checkpoint directory.
 */
export async function saveCheckpoint(outDir: string, parts: CheckpointParts, state: object): Promise<string> {
  const op = 'saveCheckpoint';
  const root = resolve(outDir);
  const tmp = join(root, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  const final = join(root, CHECKPOINT_DIR);
  const old = join(root, OLD_DIR);
  try {
    await parts.model.save(fileSystem(tmp));
    const entries = parts.optimizer?.getState() ?? [];
    try {
      const stored = indexOptimizerState(op, entries, parts.params ?? []);
      const { data, specs } = await tf.io.encodeWeights(entries.map((e) => ({ name: e.name, tensor: e.tensor })));
      const manifest: StoredOptimizerEntry[] = stored.map((s, i) => ({ ...s, spec: specs[i] }));
      await writeFile(join(tmp, OPTIMIZER_BIN), new Uint8Array(tf.io.CompositeArrayBuffer.join(data)));
      await writeFile(join(tmp, OPTIMIZER_JSON), JSON.stringify(manifest));
    } finally {
      tf.dispose(entries.map((e) => e.tensor));
    }
    await writeFile(join(tmp, STATE_JSON), JSON.stringify({ format: CHECKPOINT_FORMAT, ...state }));
    // Swap: the old checkpoint stays complete (as checkpoint/ or checkpoint.old/) until the new one is in place.
    await rm(old, { recursive: true, force: true });
    if (await exists(final)) await rename(final, old);
    await rename(tmp, final);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await removeStaleTemporaries(root);
  return final;
}

/** Reads the state JSON of the newest checkpoint under `outDir` (`null` when there is none). */
export async function readCheckpointState<T = Record<string, unknown>>(outDir: string): Promise<T | null> {
  const dir = await checkpointDir(outDir);
  return dir === null ? null : readStateFrom<T>(dir);
}

async function readStateFrom<T>(dir: string): Promise<T> {
  const state = JSON.parse(await readFile(join(dir, STATE_JSON), 'utf8')) as { format?: string };
  if (state.format !== CHECKPOINT_FORMAT) {
    throw new Error(`readCheckpointState: ${join(dir, STATE_JSON)} has format ${String(state.format)}, expected ${CHECKPOINT_FORMAT}`);
  }
  return state as T;
}

/**
 * Restores the newest checkpoint under `outDir` into `parts`: assigns every weight of `parts.model` (by position
 * in `model.weights`, shapes checked) and replaces the optimizer state. Leaves no tensor behind.
 * @returns the state JSON saved with it.
 * @throws when there is no checkpoint, or it does not fit the model (weight count or shapes differ).
 */
export async function restoreCheckpoint<T = Record<string, unknown>>(outDir: string, parts: CheckpointParts): Promise<T> {
  const op = 'restoreCheckpoint';
  const dir = await checkpointDir(outDir);
  if (dir === null) throw argumentError(op, 'outDir', outDir, `a directory holding a ${CHECKPOINT_DIR}/ written by saveCheckpoint`);
  const state = await readStateFrom<T>(dir);

  const handler = fileSystem(dir);
  if (handler.load === undefined) throw new Error(`${op}: the file-system IO handler cannot load`);
  const artifacts = await handler.load();
  const specs = artifacts.weightSpecs ?? [];
  const weights = parts.model.weights;
  if (specs.length !== weights.length) {
    throw new Error(`${op}: the checkpoint in ${dir} has ${specs.length} weights, the model ${weights.length}: it was saved from another model`);
  }
  const values = decodeInOrder(artifacts.weightData, specs);
  try {
    weights.forEach((w, i) => {
      const v = values[i];
      if (!sameShape(v.shape, w.shape)) {
        throw new Error(`${op}: weight ${i} ('${w.name}') has shape [${w.shape.join(',')}] in the model but [${v.shape.join(',')}] in the checkpoint (saved as '${specs[i].name}')`);
      }
    });
    parts.model.setWeights(values);
  } finally {
    tf.dispose(values);
  }

  const manifest = JSON.parse(await readFile(join(dir, OPTIMIZER_JSON), 'utf8')) as StoredOptimizerEntry[];
  if (manifest.length > 0 && parts.optimizer === undefined) throw argumentError(op, 'parts.optimizer', 'undefined', 'the optimizer whose state the checkpoint holds');
  if (parts.optimizer !== undefined) {
    const params = parts.params ?? [];
    const bytes = await readFile(join(dir, OPTIMIZER_BIN));
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const tensors = decodeInOrder(buffer, manifest.map((m) => m.spec));
    try {
      const entries: OptimizerStateEntry[] = manifest.map((m, i) => {
        const p = params[m.param];
        if (p === undefined) throw new Error(`${op}: the optimizer state refers to parameter ${m.param}, the model has ${params.length}`);
        return { name: `${p.name}/${m.slot}`, tensor: tensors[i] };
      });
      parts.optimizer.setState(entries);
    } finally {
      tf.dispose(tensors);
    }
  }
  return state as T;
}

/** Ties each `<param name>/<slot>` entry to its parameter's index (longest matching name wins). */
function indexOptimizerState(op: string, entries: readonly OptimizerStateEntry[], params: readonly NamedVariable[]): Array<{ param: number; slot: string }> {
  return entries.map((e) => {
    let best = -1;
    params.forEach((p, i) => {
      if (e.name.startsWith(`${p.name}/`) && (best < 0 || p.name.length > params[best].name.length)) best = i;
    });
    if (best < 0) throw argumentError(op, 'parts.params', `no parameter for the optimizer state entry '${e.name}'`, 'the parameters the optimizer updates');
    return { param: best, slot: e.name.slice(params[best].name.length + 1) };
  });
}

/** Decodes weights in manifest order (names may repeat across models; positions do not). */
function decodeInOrder(data: tf.io.WeightData | undefined, specs: readonly tf.io.WeightsManifestEntry[]): tf.Tensor[] {
  if (specs.length === 0) return [];
  if (data === undefined) throw new Error('restoreCheckpoint: the checkpoint lists weights but holds no weight data');
  const byPosition = tf.io.decodeWeights(data, specs.map((s, i) => ({ ...s, name: `#${i}` })));
  return specs.map((_s, i) => byPosition[`#${i}`]);
}

async function removeStaleTemporaries(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const pid = Number(name.slice(TMP_PREFIX.length).split('-')[0]);
    if (pid !== process.pid && isAlive(pid)) continue; // another live process's save in progress
    await rm(join(root, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function sameShape(a: readonly number[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
