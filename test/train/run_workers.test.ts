import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, tfl } from '../../src/engine.js';
import { runTraining, type RunDependencies } from '../../src/train/run.js';
import { fileSystem } from '../../src/io/file_system.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { tinyData, tinyModel } from './tiny.js';
import { relError } from '../helpers.js';

const deps: Partial<RunDependencies> = {
  setBackend: async () => { await tf.setBackend('cpu'); return 'cpu'; },
  loadData: () => tinyData(96, 32),
  buildModel: (config, d) => tinyModel(d.inputShape, d.numClasses, config.seed + 1),
};

async function finalWeights(out: string): Promise<Float32Array[]> {
  const model = await tfl.loadLayersModel(fileSystem(join(out, 'checkpoint')));
  const w = model.getWeights().map((t) => t.dataSync() as Float32Array);
  model.dispose();
  return w;
}

describe('runTraining with worker threads', () => {
  it('--workers 2 trains the same model as one process (batch-independent model), and checkpoints the synced weights', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'batchfree-workers-'));
    const base = { dataset: 'synthetic' as const, batchSize: 16, epochs: 2, lr: 0.05, warmupEpochs: 0, backend: 'cpu' as const, checkpointEvery: 4 };
    const one = await runTraining({ ...base, out: join(root, 'w1') }, { deps, quiet: true });
    const two = await runTraining({ ...base, workers: 2, out: join(root, 'w2') }, { deps, quiet: true });
    assert.equal(two.steps, one.steps);
    const [a, b] = [await finalWeights(join(root, 'w1')), await finalWeights(join(root, 'w2'))];
    a.forEach((w, i) => assert.ok(relError(b[i], w) < 1e-4, `weight ${i}: relative difference ${relError(b[i], w)}`));
    assert.ok(Math.abs(two.evaluation.accuracy - one.evaluation.accuracy) <= 1 / 32 + 1e-9);
    rmSync(root, { recursive: true, force: true });
  });

  it('rejects worker counts that do not divide the batch, and BN groups that do not fit a worker', () => {
    assert.throws(() => resolveTrainConfig({ batchSize: 16, workers: 3 }), /argument 'workers'.*divisor of the batch size 16/);
    assert.throws(() => resolveTrainConfig({ norm: 'bn', batchSize: 16, workers: 2, groupSize: 16 }), /argument 'groupSize'.*8 images each of the 2 workers/);
  });
});
