/**
 * Node-only: save and load TF.js layers models in a directory (`model.json` + `weights.bin`), the format of
 * `tfjs-node`'s `file://` handler, which cannot be installed here (its install script downloads libtensorflow).
 * Imported by `batchfree/node` only: browser-safe modules must not import this file.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tf } from '../engine.js';

/** File name of the topology and weights manifest. */
export const MODEL_JSON = 'model.json';
/** File name of the weights (all of them, in one shard). */
export const WEIGHTS_BIN = 'weights.bin';
/** URL scheme recognised by {@link registerFileSystemRouter}. */
export const FILE_SCHEME = 'file://';

/**
 * Writes `data` to `path` atomically: first to a temporary file in the same directory, then renamed over `path`
 * (a rename within one file system replaces the target in one step, so readers see the old or the new file,
 * never a partial one).
 */
async function writeAtomic(path: string, data: string | Uint8Array, tag: string): Promise<void> {
  const tmp = `${path}.${tag}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * A `tf.io.IOHandler` that saves a model into directory `dir` as `model.json` (topology, training config, user
 * metadata, weights manifest) and `weights.bin` (all weights, concatenated in manifest order), and loads it back.
 *
 * Saving creates `dir` if needed and writes each file to a temporary name first, then renames it into place:
 * `weights.bin` first, `model.json` last, so that an interrupted save never leaves a truncated file and a
 * `model.json` is only ever replaced once its weights are complete. (Between the two renames a concurrent reader
 * could pair the old `model.json` with the new weights; do not load a directory while it is being saved.)
 *
 * Loading reads every weight file listed in the manifest (paths relative to `dir`), so directories written by
 * `tfjs-node`'s `file://` handler or the converter (several shards) load too.
 *
 * ```ts
 * await model.save(fileSystem('runs/ckpt'));
 * const again = await tfl.loadLayersModel(fileSystem('runs/ckpt'));
 * ```
 */
export function fileSystem(dir: string): tf.io.IOHandler {
  const root = resolve(dir);
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      const topology = artifacts.modelTopology;
      if (topology === undefined || topology instanceof ArrayBuffer) {
        throw new Error(`fileSystem('${dir}').save: expected a JSON model topology (save a tf.LayersModel), got ${topology === undefined ? 'none' : 'a binary one'}`);
      }
      await mkdir(root, { recursive: true });
      const tag = `${process.pid}-${randomBytes(6).toString('hex')}`;
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: topology,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      };
      if (artifacts.trainingConfig !== undefined) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature !== undefined) modelJson.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata !== undefined) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer !== undefined) modelJson.modelInitializer = artifacts.modelInitializer;
      if (artifacts.initializerSignature !== undefined) modelJson.initializerSignature = artifacts.initializerSignature;
      await writeAtomic(join(root, WEIGHTS_BIN), new Uint8Array(weights), tag);
      await writeAtomic(join(root, MODEL_JSON), JSON.stringify(modelJson), tag);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }) };
    },

    load: async (): Promise<tf.io.ModelArtifacts> => {
      const jsonPath = join(root, MODEL_JSON);
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        throw new Error(`fileSystem('${dir}').load: cannot read ${jsonPath}: ${(e as Error).message}`, { cause: e });
      }
      if (modelJson.modelTopology === undefined) throw new Error(`fileSystem('${dir}').load: ${jsonPath} has no modelTopology`);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const bytes = await readFile(join(root, p));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/** `fileSystem(path)` for a `file://path` URL (or an array of one), otherwise `null`: a TF.js IO router. */
export function fileSystemRouter(url: string | string[]): tf.io.IOHandler | null {
  const u = Array.isArray(url) ? (url.length === 1 ? url[0] : undefined) : url;
  if (typeof u !== 'string' || !u.startsWith(FILE_SCHEME)) return null;
  return fileSystem(u.slice(FILE_SCHEME.length));
}

let registered = false;

/**
 * Registers a `file://` router with TF.js, so that `model.save('file://dir')` and `tfl.loadLayersModel('file://dir')`
 * (or `'file://dir/model.json'`) use {@link fileSystem}. Idempotent.
 */
export function registerFileSystemRouter(): void {
  if (registered) return;
  registered = true;
  const router = (url: string | string[]): tf.io.IOHandler | null => {
    const u = Array.isArray(url) ? url[0] : url;
    if (typeof u === 'string' && u.startsWith(FILE_SCHEME) && u.endsWith(`/${MODEL_JSON}`)) {
      return fileSystemRouter(u.slice(0, -(MODEL_JSON.length + 1)));
    }
    return fileSystemRouter(url);
  };
  // TF.js types a router as always returning a handler, but its registry skips routers that return null.
  const asRouter = router as unknown as Parameters<typeof tf.io.registerSaveRouter>[0];
  tf.io.registerSaveRouter(asRouter);
  tf.io.registerLoadRouter(asRouter);
}
