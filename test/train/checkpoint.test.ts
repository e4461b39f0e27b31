import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf } from '../../src/engine.js';
import { batches } from '../../src/data/batches.js';
import { channelStats } from '../../src/data/transforms.js';
import { SGD } from '../../src/optim/sgd.js';
import { checkpointDir, readCheckpointState, restoreCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { type Trainable, trainableParams, trainStep } from '../../src/train/loop.js';
import { assertNoLeakAsync, useCpu } from '../helpers.js';
import { tinyData, tinyModel } from './tiny.js';

const data = tinyData(96, 16);
const stats = channelStats(data.train);
const root = mkdtempSync(join(tmpdir(), 'batchfree-ckpt-'));
let n = 0;
const freshDir = (): string => join(root, `run${n++}`);

function setup(seed: number): Trainable {
  const model = tinyModel([8, 8, 1], 10, seed);
  return { model, optimizer: new SGD({ momentum: 0.9, nesterov: true }), params: trainableParams(model) };
}

function steps(t: Trainable, from: number, count: number): void {
  let k = 0;
  for (const b of batches(data.train, { batchSize: 16, seed: 3, epoch: 0, labels: 'int', standardize: stats })) {
    if (k >= from && k < from + count) trainStep(t, b, { lr: 0.05, numClasses: 10, step: k, seed: 3 });
    b.dispose();
    k++;
  }
}

const weightsOf = (t: Trainable): Float32Array[] => t.model.getWeights().map((w) => w.dataSync() as Float32Array);
const stateOf = (t: Trainable): Array<[string, Float32Array]> => {
  const s = t.optimizer.getState();
  const out = s.map((e): [string, Float32Array] => [e.name, e.tensor.dataSync() as Float32Array]);
  tf.dispose(s.map((e) => e.tensor));
  return out;
};
const dispose = (...ts: Trainable[]): void => ts.forEach((t) => {
  t.optimizer.dispose();
  t.model.dispose();
});

describe('checkpoints', () => {
  before(useCpu);
  after(() => rmSync(root, { recursive: true, force: true }));

  test('round trip: weights and momentum restored exactly into a model with other variable names', async () => {
    const dir = freshDir();
    const a = setup(1);
    steps(a, 0, 2);
    await saveCheckpoint(dir, a, { step: 2, note: 'x' });
    const b = setup(9); // other initial weights; its variables are named conv2d_Conv2D<k>... with another k
    assert.notEqual(a.params[0].name, b.params[0].name);
    assert.notDeepEqual(weightsOf(b), weightsOf(a));
    const state = await restoreCheckpoint<{ step: number; note: string }>(dir, b);
    assert.equal(state.step, 2);
    assert.equal(state.note, 'x');
    assert.deepEqual(weightsOf(b), weightsOf(a));
    const sa = stateOf(a), sb = stateOf(b);
    assert.equal(sb.length, a.params.length, 'one momentum buffer per parameter');
    sa.forEach(([name, v], i) => {
      assert.equal(sb[i][0], `${b.params[a.params.findIndex((p) => name.startsWith(`${p.name}/`))].name}/momentum`);
      assert.deepEqual(sb[i][1], v);
    });
    // The restored optimizer continues exactly as the original one.
    steps(a, 2, 2);
    steps(b, 2, 2);
    assert.deepEqual(weightsOf(b), weightsOf(a));
    dispose(a, b);
  });

  test('saving replaces the checkpoint atomically and leaves no temporary directory', async () => {
    const dir = freshDir();
    const a = setup(2);
    await saveCheckpoint(dir, a, { step: 0 });
    steps(a, 0, 1);
    await saveCheckpoint(dir, a, { step: 1 });
    assert.deepEqual(readdirSync(dir).sort(), ['checkpoint']);
    assert.deepEqual(readdirSync(join(dir, 'checkpoint')).sort(), ['model.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'weights.bin']);
    assert.equal((await readCheckpointState<{ step: number }>(dir))?.step, 1);
    dispose(a);
  });

  test('a save killed between its renames leaves checkpoint.old, which is found and restored; stale temporaries are removed', async () => {
    const dir = freshDir();
    const a = setup(3);
    steps(a, 0, 1);
    await saveCheckpoint(dir, a, { step: 1 });
    // The state of a process killed after "checkpoint -> checkpoint.old" and before "tmp -> checkpoint":
    renameSync(join(dir, 'checkpoint'), join(dir, 'checkpoint.old'));
    mkdirSync(join(dir, 'checkpoint.tmp-999999999-dead'));
    assert.equal(await checkpointDir(dir), join(dir, 'checkpoint.old'));
    const b = setup(4);
    assert.equal((await restoreCheckpoint<{ step: number }>(dir, b)).step, 1);
    assert.deepEqual(weightsOf(b), weightsOf(a));
    await saveCheckpoint(dir, b, { step: 2 });
    assert.deepEqual(readdirSync(dir).sort(), ['checkpoint']);
    dispose(a, b);
  });

  test('errors: no checkpoint, another architecture', async () => {
    const dir = freshDir();
    assert.equal(await readCheckpointState(dir), null);
    assert.equal(await checkpointDir(dir), null);
    const a = setup(5);
    await assert.rejects(restoreCheckpoint(dir, a), /restoreCheckpoint: argument 'outDir'/);
    await saveCheckpoint(dir, a, { step: 0 });
    const other = tinyModel([8, 8, 1], 7, 5); // classifier with 7 units
    await assert.rejects(restoreCheckpoint(dir, { model: other }), /weight 2 .*shape \[256,7\] in the model but \[256,10\] in the checkpoint/);
    const tiny = tinyModel([4, 4, 1], 10, 5);
    await assert.rejects(restoreCheckpoint(dir, { model: tiny }), /shape/);
    other.dispose();
    tiny.dispose();
    dispose(a);
    assert.ok(!existsSync(join(dir, 'checkpoint.old')));
  });

  test('no tensor leaks in save and restore', async () => {
    const dir = freshDir();
    const a = setup(6);
    steps(a, 0, 1);
    await assertNoLeakAsync(() => saveCheckpoint(dir, a, { step: 1 }).then(() => undefined), 'save');
    await assertNoLeakAsync(() => restoreCheckpoint(dir, a).then(() => undefined), 'restore');
    dispose(a);
  });
});
