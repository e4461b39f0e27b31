import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf } from '../../src/engine.js';
import { SGD } from '../../src/optim/sgd.js';
import { readCheckpointState, restoreCheckpoint } from '../../src/train/checkpoint.js';
import type { TrainConfig } from '../../src/train/config.js';
import { DivergenceError, firstNonFiniteWeight, trainableParams } from '../../src/train/loop.js';
import type { MetricsLine } from '../../src/train/metrics.js';
import { type RunDependencies, type RunState, runTraining, scheduleOf } from '../../src/train/run.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { useCpu } from '../helpers.js';
import { tinyData, tinyModel } from './tiny.js';

const root = mkdtempSync(join(tmpdir(), 'batchfree-run-'));
let n = 0;
const freshDir = (): string => join(root, `run${n++}`);

/** 96 training images, batch 16: 6 steps per epoch. */
const deps = (crashAfter?: number): Partial<RunDependencies> => ({
  setBackend: async () => tf.getBackend(),
  loadData: () => tinyData(96, 32),
  buildModel: (config, d) => {
    const model = tinyModel(d.inputShape, d.numClasses, config.seed + 1, config.dropout);
    if (crashAfter !== undefined) {
      // Simulates a crash in the middle of a run: the (crashAfter+1)-th training forward pass throws.
      const apply = model.apply.bind(model);
      let calls = 0;
      model.apply = ((x: tf.Tensor, kwargs?: { training?: boolean }) => {
        if (kwargs?.training === true && ++calls > crashAfter) throw new Error('simulated crash');
        return apply(x, kwargs);
      }) as typeof model.apply;
    }
    return model;
  },
});

const base: Partial<TrainConfig> = {
  dataset: 'synthetic', batchSize: 16, epochs: 3, lr: 0.05, warmupEpochs: 0.5, checkpointEvery: 4, logEvery: 2, seed: 4, dropout: 0.3, mixup: 0.2, labelSmoothing: 0.1,
};

const readLines = (out: string): MetricsLine[] => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsLine);
/** The metrics that must not depend on timing. */
const deterministic = (l: MetricsLine): Record<string, unknown> => {
  const { elapsedMs: _a, imagesPerSecond: _b, evalMs: _c, ...rest } = l;
  return rest;
};

describe('runTraining', () => {
  before(useCpu);
  after(() => rmSync(root, { recursive: true, force: true }));

  test('trains, evaluates each epoch, writes metrics.jsonl and a final checkpoint', async () => {
    const out = freshDir();
    const logged: string[] = [];
    const s = await runTraining({ ...base, out }, { deps: deps(), log: (l) => logged.push(l) });
    assert.equal(s.steps, 18);
    assert.equal(s.epochs, 3);
    assert.equal(s.evaluation.count, 32);
    assert.ok(s.evaluation.accuracy > 0.5, `final accuracy ${s.evaluation.accuracy} (chance 0.1)`);
    assert.ok(s.imagesPerSecond > 0 && s.elapsedMs > 0);
    const lines = readLines(out);
    assert.deepEqual(lines.map((l) => l.type), ['start', ...Array(3).fill(['step', 'step', 'step', 'epoch']).flat(), 'end']);
    const epochs = lines.filter((l) => l.type === 'epoch');
    assert.deepEqual(epochs.map((l) => l.epoch), [1, 2, 3]);
    assert.deepEqual(epochs.map((l) => l.step), [6, 12, 18]);
    for (const l of epochs) {
      for (const k of ['trainLoss', 'trainAccuracy', 'evalLoss', 'evalAccuracy', 'lr', 'imagesPerSecond']) assert.equal(typeof l[k], 'number', k);
    }
    assert.deepEqual(lines.filter((l) => l.type === 'step').map((l) => l.step), [2, 4, 6, 8, 10, 12, 14, 16, 18]);
    assert.equal(logged.length, 3);
    assert.match(logged[2], /^epoch 3\/3 .*acc .*img\/s/);
    const state = await readCheckpointState<RunState>(out);
    assert.equal(state?.step, 18);
    assert.equal(state?.epoch, 3);
    assert.deepEqual(state?.metrics.map((l) => l.type), lines.slice(0, -1).map((l) => l.type), 'the checkpoint holds the lines written before it');
  });

  test('a run that crashed mid-epoch resumes exactly: same final weights, same metrics', async () => {
    const straight = freshDir();
    await runTraining({ ...base, out: straight }, { deps: deps(), quiet: true });
    const crashed = freshDir();
    await assert.rejects(runTraining({ ...base, out: crashed }, { deps: deps(10), quiet: true }), /simulated crash/);
    const mid = await readCheckpointState<RunState>(crashed);
    assert.equal(mid?.step, 8, 'last checkpoint: step 8');
    assert.equal(mid?.epoch, 1);
    assert.equal(mid?.batchInEpoch, 2, 'in the middle of the second epoch');
    const s = await runTraining({ out: crashed, dataset: 'synthetic', checkpointEvery: 5 }, { deps: deps(), quiet: true, resume: true });
    assert.equal(s.resumedFrom, 8);
    assert.equal(s.steps, 18);
    const bytes = (out: string): Buffer => readFileSync(join(out, 'checkpoint', 'weights.bin'));
    assert.ok(bytes(crashed).equals(bytes(straight)), 'final weights bit-identical');
    assert.ok(readFileSync(join(crashed, 'checkpoint', 'optimizer.bin')).equals(readFileSync(join(straight, 'checkpoint', 'optimizer.bin'))), 'momentum identical');
    const a = readLines(straight).filter((l) => l.type === 'epoch' || l.type === 'step').map(deterministic);
    const b = readLines(crashed).filter((l) => l.type === 'epoch' || l.type === 'step').map(deterministic);
    assert.deepEqual(b, a, 'same losses and accuracies, and no line of the crashed session after its checkpoint');
    assert.deepEqual(readLines(crashed).filter((l) => l.type === 'resume').map((l) => l.step), [8]);
  });

  for (const [what, factor] of [['the loss explodes', 1000], ['a gradient becomes NaN', 1e30]] as const) {
    test(`an absurd learning rate stops the run when ${what}, naming the step, and keeps the last good checkpoint`, async () => {
      const out = freshDir();
      let error: unknown;
      try {
        await runTraining({ ...base, out, lr: 1e5, warmupEpochs: 1, checkpointEvery: 1, dropout: 0, mixup: 0, divergenceFactor: factor }, { deps: deps(), quiet: true });
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof DivergenceError, `expected a DivergenceError, got ${String(error)}`);
      if (factor === 1000) assert.equal(error.kind, 'explosion');
      else {
        assert.notEqual(error.kind, 'explosion');
        assert.ok(error.layer !== undefined, 'a layer is named');
        assert.match(error.message, new RegExp(`layer '${error.layer}'`));
      }
      const state = await readCheckpointState<RunState>(out);
      assert.ok(state !== null && state.step >= 1, 'a checkpoint was written before the divergence');
      assert.equal(state.step, error.step, 'every good step was checkpointed, the diverged one was not');
      assert.match(error.message, new RegExp(`^training diverged at step ${error.step}: .*; the last good checkpoint \\(step ${state.step}\\) is kept in .*checkpoint`));
      // The kept checkpoint holds finite weights.
      const model = tinyModel([8, 8, 1], 10, 99);
      const optimizer = new SGD({ momentum: 0.9 });
      await restoreCheckpoint(out, { model, optimizer, params: trainableParams(model) });
      assert.equal(firstNonFiniteWeight(model), undefined);
      optimizer.dispose();
      model.dispose();
      const last = readLines(out).at(-1);
      assert.equal(last?.type, 'diverged');
      assert.equal(last?.step, error.step);
      assert.equal(last?.checkpointStep, state.step);
    });
  }

  test('refuses to overwrite a run, to resume without a checkpoint, and to resume with other settings', async () => {
    const out = freshDir();
    await assert.rejects(runTraining({ ...base, out }, { deps: deps(), quiet: true, resume: true }), /train: argument 'resume'.*none in/);
    await runTraining({ ...base, out, epochs: 1 }, { deps: deps(), quiet: true });
    await assert.rejects(runTraining({ ...base, out, epochs: 1 }, { deps: deps(), quiet: true }), /already holds a checkpoint: pass --resume/);
    await assert.rejects(runTraining({ out, lr: 0.2, batchSize: 16 }, { deps: deps(), quiet: true, resume: true }), /cannot resume .*lr: checkpoint 0.05, given 0.2/);
    // Resuming a finished run only evaluates it.
    const s = await runTraining({ out }, { deps: deps(), quiet: true, resume: true });
    assert.equal(s.steps, 6);
  });

  test('config errors name the setting', async () => {
    await assert.rejects(runTraining({ batchSize: 32, groupSize: 3, out: freshDir() }, { deps: deps() }), /trainConfig: argument 'groupSize' is invalid: got 3, expected a divisor of the batch size 32/);
    await assert.rejects(runTraining({ lr: -1, out: freshDir() }, { deps: deps() }), /argument 'lr'/);
    await assert.rejects(runTraining({ batchSize: 200, dataset: 'synthetic', out: freshDir() }, { deps: deps() }), /argument 'batchSize'.*96 training images/);
    assert.throws(() => resolveTrainConfig({ bogus: 1 } as never), /argument 'bogus'/);
  });

  test('schedule: warm-up from 0 to the peak, then cosine to 0 (or steps of x0.1)', () => {
    const c = resolveTrainConfig({ lr: 0.4, epochs: 4, warmupEpochs: 1, warmupShape: 'linear' });
    const s = scheduleOf(c, 10);
    assert.equal(s(0), 0);
    assert.equal(s(5), 0.2);
    assert.equal(s(10), 0.4);
    assert.ok(Math.abs(s(25) - 0.2) < 1e-12, 'half-way through the decay');
    assert.ok(s(39) > 0 && s(39) < 0.01);
    const st = scheduleOf({ ...c, schedule: 'step' }, 10);
    assert.equal(st(10), 0.4);
    assert.ok(Math.abs(st(25) - 0.04) < 1e-12 && Math.abs(st(33) - 0.004) < 1e-12);
  });
});

