import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, tfl } from '../../src/engine.js';
import { fileSystem, registerFileSystemRouter } from '../../src/node.js';
import { MemoryModelStore } from '../../src/io/memory.js';
import { FilterResponseNormalization, TLU } from '../../src/layers/filter_response_norm.js';
import { randn, tensor, useCpu } from '../helpers.js';
import { assertSameModel, modelOf, perturbWeights } from '../layers/layer_helpers.js';

/** conv → FRN → TLU → pool → dense, with non-default weights everywhere. */
function smallModel(seed: number): tfl.LayersModel {
  const frn = new FilterResponseNormalization(), act = new TLU();
  const model = modelOf([6, 6, 2], [tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), frn, act,
    tfl.layers.globalAveragePooling2d({}), tfl.layers.dense({ units: 4 })]);
  perturbWeights(frn, seed);
  perturbWeights(act, seed + 1);
  return model;
}

describe('fileSystem IO handler (Node)', () => {
  let dir = '';
  before(async () => {
    await useCpu();
    dir = await mkdtemp(join(tmpdir(), 'batchfree-io-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('saves model.json + weights.bin into a new directory and loads identical predictions', async () => {
    const model = smallModel(1);
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
    await model.fit(tensor(randn([4, 6, 6, 2], 3)), tensor(randn([4, 4], 4)), { epochs: 1, verbose: 0 });
    const target = join(dir, 'a', 'b');
    const result = await model.save(fileSystem(target), { includeOptimizer: true });
    assert.deepEqual((await readdir(target)).sort(), ['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(join(target, 'model.json'), 'utf8'));
    assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
    assert.ok(json.trainingConfig, 'training config kept');
    const bytes = (await readFile(join(target, 'weights.bin'))).byteLength;
    // The model's weights, then Adam's state (iterations + two moments per trainable weight).
    assert.equal(bytes, 4 * (model.countParams() + 1 + 2 * model.trainableWeights.reduce((n, w) => n + w.read().size, 0)));
    assert.equal(result.modelArtifactsInfo.weightDataBytes, bytes);
    const loaded = await tfl.loadLayersModel(fileSystem(target));
    assert.ok(loaded.optimizer, 'optimizer restored from the training config');
    assertSameModel(model, loaded, tensor(randn([3, 6, 6, 2], 2)), 'file system');
  });

  it('overwrites an earlier save in place and leaves no temporary file behind', async () => {
    const target = join(dir, 'overwrite');
    await smallModel(3).save(fileSystem(target));
    const second = smallModel(4);
    await second.save(fileSystem(target));
    assert.deepEqual((await readdir(target)).sort(), ['model.json', 'weights.bin']);
    assertSameModel(second, await tfl.loadLayersModel(fileSystem(target)), tensor(randn([2, 6, 6, 2], 5)), 'second save');
  });

  it('works through file:// URLs once the router is registered', async () => {
    registerFileSystemRouter();
    registerFileSystemRouter(); // idempotent
    const model = smallModel(6);
    const target = join(dir, 'url');
    await model.save(`file://${target}`);
    const x = tensor(randn([2, 6, 6, 2], 7));
    assertSameModel(model, await tfl.loadLayersModel(`file://${target}`), x, 'directory URL');
    assertSameModel(model, await tfl.loadLayersModel(`file://${target}/model.json`), x, 'model.json URL');
  });

  it('fails clearly when there is nothing to load', async () => {
    await assert.rejects(tfl.loadLayersModel(fileSystem(join(dir, 'missing'))), /fileSystem\('.*missing'\)\.load: cannot read .*model\.json/);
  });
});

describe('MemoryModelStore', () => {
  before(useCpu);

  it('keeps a snapshot: later weight changes do not reach the saved copy', async () => {
    const store = new MemoryModelStore();
    await assert.rejects(store.load(), /nothing has been saved/);
    const model = smallModel(8);
    const x = tensor(randn([2, 6, 6, 2], 9));
    const before = (model.predict(x) as tf.Tensor).dataSync();
    await model.save(store);
    perturbWeights(model.layers[2], 99);
    const loaded = await tfl.loadLayersModel(store);
    assert.deepEqual((loaded.predict(x) as tf.Tensor).dataSync(), before);
    assert.notDeepEqual((model.predict(x) as tf.Tensor).dataSync(), before);
  });
});
