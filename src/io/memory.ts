/**
 * A browser-safe in-memory model store: `model.save(store)` keeps the artifacts, `tfl.loadLayersModel(store)`
 * reads them back. Handy for tests, for cloning a model with its weights, and for checkpoints kept in RAM.
 * @module
 */
import { tf } from '../engine.js';

/**
 * A `tf.io.IOHandler` that holds one saved model in memory. Each save replaces the previous one; loading before
 * any save throws.
 *
 * ```ts
 * const store = new MemoryModelStore();
 * await model.save(store);
 * const copy = await tfl.loadLayersModel(store);
 * ```
 */
export class MemoryModelStore implements tf.io.IOHandler {
  private stored?: tf.io.ModelArtifacts;

  /** The artifacts of the last save (`undefined` before the first). */
  get artifacts(): tf.io.ModelArtifacts | undefined {
    return this.stored;
  }

  /** Keeps a copy of `artifacts` (weights copied into one buffer, so later changes to the model do not leak in). */
  save = async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
    const weightData = artifacts.weightData === undefined ? undefined : tf.io.CompositeArrayBuffer.join(artifacts.weightData).slice(0);
    this.stored = { ...artifacts, weightData, weightSpecs: artifacts.weightSpecs?.map((s) => ({ ...s })) };
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(this.stored) };
  };

  /** Returns the artifacts of the last save. */
  load = async (): Promise<tf.io.ModelArtifacts> => {
    if (this.stored === undefined) throw new Error('MemoryModelStore.load: nothing has been saved in this store yet');
    return this.stored;
  };
}
