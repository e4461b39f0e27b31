/**
 * Data-parallel trainer: equivalence with single-thread `trainStep` (FRN: W = 1 and W = 2 equal it; BN: W = 2
 * equals BN with groups of B/2), resuming from a model + optimizer state, weight / state transfer back to the
 * main thread, and failures (a throwing worker, a worker stuck at a barrier or not replying, diverged copies, a
 * worker that cannot start or exits) that reject promptly with the worker's message. Workers run the cpu backend (small models).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tf, tfl } from '../../../src/engine.js';
import { BatchNormalization, FilterResponseNormalization, TLU } from '../../../src/layers/index.js';
import { withAdaptiveGradientClipping } from '../../../src/optim/gradient_clipping.js';
import { type NamedOptimizer, SGD } from '../../../src/optim/sgd.js';
import { DivergenceError, type Trainable, trainableParams, trainStep } from '../../../src/train/loop.js';
import { createParallelTrainer, parallelOptimizerSpec, type ParallelTrainer, type ParallelTrainerOptions } from '../../../src/train/parallel/trainer.js';
import { shardOf } from '../../../src/train/parallel/reduce.js';
import { assertNoLeakAsync, randn, relError, rng, useCpu } from '../../helpers.js';
import { CORRUPT, Sentinel, SLEEP, THROW } from './fixtures/sentinel_layer.js';

const H = 6, W = 6, C = 2, K = 4;
const SENTINEL_MODULE = new URL('./fixtures/sentinel_layer.ts', import.meta.url).href;
const SGD_SPEC = { momentum: 0.9, weightDecay: 1e-3, decayFilter: 'kernels-only' as const };
/** AGC's lambda in the FRN tests: small enough to clip these random-data gradients. */
const AGC = 0.02;
const STEP_SETTINGS = { seed: 5, labelSmoothing: 0.1, mixup: 0.4 };

const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor): tfl.SymbolicTensor => layer.apply(x) as tfl.SymbolicTensor;

/** Sentinel → conv3x3(4) → FRN → TLU → conv3x3(4, s2) → FRN → TLU → GAP → dense(K) 'classifier'. */
function frnModel(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [H, W, C] });
  let h = apply(new Sentinel({}), input);
  h = apply(tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.heNormal({ seed }) }), h);
  h = apply(new TLU(), apply(new FilterResponseNormalization(), h));
  h = apply(tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tfl.initializers.heNormal({ seed: seed + 1 }) }), h);
  h = apply(new TLU(), apply(new FilterResponseNormalization(), h));
  h = apply(tfl.layers.globalAveragePooling2d({}), h);
  return tfl.model({ inputs: input, outputs: apply(tfl.layers.dense({ units: K, name: 'classifier', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) }), h) });
}

/** Sentinel → conv3x3(4, no bias: BN makes its gradient 0) → BN (groups of `groupSize` images) → ReLU → GAP → dense(K). */
function bnModel(seed: number, groupSize?: number): tfl.LayersModel {
  const input = tfl.input({ shape: [H, W, C] });
  let h = apply(new Sentinel({}), input);
  h = apply(tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tfl.initializers.heNormal({ seed }) }), h);
  h = apply(tfl.layers.reLU(), apply(new BatchNormalization({ groupSize, momentum: 0.5 }), h));
  h = apply(tfl.layers.globalAveragePooling2d({}), h);
  return tfl.model({ inputs: input, outputs: apply(tfl.layers.dense({ units: K, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) }), h) });
}

/** Sentinel → flatten → dense(K). */
function denseModel(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [H, W, C] });
  const h = apply(tfl.layers.flatten(), apply(new Sentinel({}), input));
  return tfl.model({ inputs: input, outputs: apply(tfl.layers.dense({ units: K, kernelInitializer: tfl.initializers.glorotUniform({ seed }) }), h) });
}

/** A seeded batch of `B` images; `sentinels` puts a value into the first pixel of the given images. */
function batch(B: number, seed: number, sentinels: Array<[number, number]> = []): { x: tf.Tensor; y: tf.Tensor } {
  const x = randn([B, H, W, C], seed).data;
  for (const [image, value] of sentinels) x[image * H * W * C] = value;
  const r = rng(seed + 1000);
  return { x: tf.tensor4d(Float32Array.from(x), [B, H, W, C]), y: tf.tensor1d(Array.from({ length: B }, () => Math.floor(r() * K)), 'int32') };
}

function inProcess(model: tfl.LayersModel, sgd: ConstructorParameters<typeof SGD>[0] = SGD_SPEC, agc?: number): Trainable {
  const params = trainableParams(model);
  let optimizer: NamedOptimizer = new SGD(sgd);
  if (agc !== undefined) {
    // As the workers build it by default: the classifier's kernel and bias unclipped.
    optimizer = withAdaptiveGradientClipping(optimizer, { clipping: agc, exclude: params.map((p) => p.name).filter((n) => n.startsWith('classifier/')) });
  }
  return { model, optimizer, params };
}

function refStep(t: Trainable, b: { x: tf.Tensor; y: tf.Tensor }, step: number, settings: { seed?: number; labelSmoothing?: number; mixup?: number } = STEP_SETTINGS) {
  return trainStep(t, b, { lr: 0.05, numClasses: K, step, ...settings });
}

function values(ts: tf.Tensor[]): Float32Array[] {
  return ts.map((t) => t.dataSync() as Float32Array);
}

/** Largest norm-relative difference over the tensors. */
function maxRelError(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((v, i) => relError(v, b[i])));
}

async function withDisposed<T>(ts: tf.Tensor[], fn: (v: Float32Array[]) => T): Promise<T> {
  try {
    return fn(values(ts));
  } finally {
    tf.dispose(ts);
  }
}

const STEPS = [
  { B: 8, seed: 1 },
  { B: 8, seed: 2 },
  { B: 7, seed: 3 }, // uneven shards with W = 2: 4 + 3 images
  { B: 8, seed: 4 },
];

/** Handled at once (so that a failure is not an unhandled rejection), awaited by its test. */
function early<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

describe('parallel trainer', () => {
  // Worker start-up (loading TF.js) dominates: every trainer of this file starts in the first hooks, concurrently.
  const bn = { grouped: inProcess(bnModel(4, 4), { momentum: 0.9 }), whole: inProcess(bnModel(4), { momentum: 0.9 }) };
  const drift = { model: denseModel(7) };
  const failing = { model: denseModel(8) };
  let bnStarting: Promise<ParallelTrainer>;
  let driftStarting: Promise<ParallelTrainer>;
  let failingStarting: Promise<ParallelTrainer>;
  let exitingStarting: Promise<ParallelTrainer>;

  before(async () => {
    await useCpu();
    tf.env().set('PROD', true); // no TF.js console banner (the workers inherit the flag)
    // The BN trainer's model normalises whole batches; on 2 workers a batch of 8 is normalised 4 by 4.
    bnStarting = early(createParallelTrainer({ workers: 2, model: bn.whole.model, backend: 'cpu', optimizer: { sgd: { momentum: 0.9 } }, imports: [SENTINEL_MODULE], timeoutMs: 60_000 }));
    driftStarting = early(createParallelTrainer({ workers: 2, model: drift.model, backend: 'cpu', imports: [SENTINEL_MODULE], checkEvery: 2, optimizer: { sgd: { momentum: 0 } } }));
    // Start-up failures (before TF.js loads in the worker, so they are cheap).
    failingStarting = early(createParallelTrainer({ workers: 1, model: failing.model, backend: 'cpu', imports: ['./no/such/module.ts'] }));
    exitingStarting = early(createParallelTrainer({ workers: 2, model: failing.model, backend: 'cpu', imports: [new URL('./fixtures/exit_on_import.ts', import.meta.url).href] }));
  });

  after(async () => {
    for (const p of [bnStarting, driftStarting]) await p.then((t) => t.dispose(), () => undefined);
    for (const m of [bn.grouped.model, bn.whole.model, drift.model, failing.model]) m.dispose();
    bn.grouped.optimizer.dispose();
    bn.whole.optimizer.dispose();
  });

  describe('batch-independent model (FRN + TLU): W = 1 and W = 2 equal single-thread trainStep', () => {
    let ref: Trainable;
    /** The same without AGC (to show that AGC clipped something). */
    let plain: Trainable;
    let w1: ParallelTrainer | undefined;
    let w2: ParallelTrainer | undefined;
    const losses: number[][] = [[], [], []];
    const corrects: number[][] = [[], [], []];

    before(async () => {
      ref = inProcess(frnModel(3), SGD_SPEC, AGC);
      plain = inProcess(frnModel(3));
      const common: Omit<ParallelTrainerOptions, 'workers' | 'model'> = {
        backend: 'cpu', optimizer: { sgd: SGD_SPEC, agc: { clipping: AGC } }, ...STEP_SETTINGS, checkEvery: 1, imports: [SENTINEL_MODULE],
      };
      // W = 1 starts from the initial weights; W = 2 resumes from the reference after its first step.
      const starting1 = createParallelTrainer({ ...common, workers: 1, model: ref.model, timeoutMs: 500 });
      const b0 = batch(STEPS[0].B, STEPS[0].seed);
      const r0 = refStep(ref, b0, 0);
      refStep(plain, b0, 0);
      losses[0].push(r0.loss);
      corrects[0].push(r0.correct);
      const state = ref.optimizer.getState();
      const starting2 = createParallelTrainer({ ...common, workers: 2, model: ref.model, optimizerState: state, timeoutMs: 1000 });
      state.forEach((s) => s.tensor.dispose());
      [w1, w2] = await Promise.all([starting1, starting2]);
      const r1 = await w1.step(b0, { lr: 0.05, step: 0 });
      losses[1].push(r1.loss);
      corrects[1].push(r1.correct);
      tf.dispose([b0.x, b0.y]);
    });

    after(async () => {
      await w1?.dispose();
      await w2?.dispose();
      for (const t of [ref, plain]) {
        t.optimizer.dispose();
        t.model.dispose();
      }
    });

    test('same loss, accuracy and parameters (to float32 summation order) after 4 steps with momentum, decay, AGC, smoothing and mixup', async () => {
      const p1 = w1 as ParallelTrainer, p2 = w2 as ParallelTrainer;
      assert.equal(p1.backend, 'cpu');
      assert.equal(p2.workers, 2);
      for (let s = 1; s < STEPS.length; s++) {
        const b = batch(STEPS[s].B, STEPS[s].seed);
        const r = refStep(ref, b, s);
        refStep(plain, b, s);
        const [a1, a2] = [await p1.step(b, { lr: 0.05, step: s }), await p2.step(b, { lr: 0.05, step: s })];
        for (const [i, x] of [r, a1, a2].entries()) {
          losses[i].push(x.loss);
          corrects[i].push(x.correct);
          assert.equal(x.size, STEPS[s].B);
        }
        tf.dispose([b.x, b.y]);
      }
      assert.ok(relError(losses[1], losses[0]) < 1e-5, `W=1 losses ${losses[1]} vs ${losses[0]}`);
      assert.ok(relError(losses[2], losses[0].slice(1)) < 1e-5, `W=2 losses ${losses[2]} vs ${losses[0]}`);
      assert.deepEqual(corrects[1], corrects[0]);
      assert.deepEqual(corrects[2], corrects[0].slice(1));
      const trained = values(ref.model.getWeights());
      const e1 = await withDisposed(await p1.getWeights(), (v) => maxRelError(v, trained));
      const [e2, e12] = await withDisposed(await p2.getWeights(), async (v) => [maxRelError(v, trained), await withDisposed(await p1.getWeights(), (u) => maxRelError(v, u))]);
      assert.ok(e1 < 1e-5, `W=1 vs single thread: ${e1}`);
      assert.ok(e2 < 1e-5, `W=2 vs single thread: ${e2}`);
      assert.ok(e12 < 1e-5, `W=2 vs W=1: ${e12}`);
      // The reference moved, and AGC clipped: equality is not the trivial kind.
      const fresh = frnModel(3);
      assert.ok(maxRelError(trained, values(fresh.getWeights())) > 1e-3);
      assert.ok(maxRelError(trained, values(plain.model.getWeights())) > 1e-4, 'AGC changed nothing');
      fresh.dispose();
    });

    test('the two workers hold bit-identical weights', async () => {
      const sums = await (w2 as ParallelTrainer).checksums();
      assert.equal(sums.length, 2);
      assert.equal(sums[0], sums[1]);
    });

    test('syncTo copies weights and optimizer state into another model of the same architecture', async () => {
      const target = frnModel(99);
      const opt = new SGD(SGD_SPEC);
      await (w1 as ParallelTrainer).syncTo(target, opt); // (AGC is stateless: the state is SGD's)
      const got = values(target.getWeights());
      await withDisposed(await (w1 as ParallelTrainer).getWeights(), (v) => assert.deepEqual(got, v));
      const refState = ref.optimizer.getState();
      const state = opt.getState();
      const names = trainableParams(target).map((p) => p.name);
      assert.equal(state.length, refState.length);
      assert.ok(state.length > 0);
      state.forEach((s, i) => {
        assert.equal(s.name, `${names[i]}/momentum`, 'state named by the target model');
        assert.ok(relError(s.tensor.dataSync(), refState[i].tensor.dataSync()) < 1e-5, s.name);
      });
      tf.dispose([...state, ...refState].map((s) => s.tensor));
      opt.dispose();
      target.dispose();
    });

    test('a step leaves no tensor on the main thread; setOptimizerState round-trips', async () => {
      const p1 = w1 as ParallelTrainer;
      const b = batch(8, 21);
      await assertNoLeakAsync(async () => {
        await p1.step(b, { lr: 0.01, step: 10 });
      }, 'step');
      const state = await p1.getOptimizerState();
      const zeros = state.map((s) => ({ name: s.name, tensor: tf.zerosLike(s.tensor) }));
      await p1.setOptimizerState(zeros);
      const back = await p1.getOptimizerState();
      back.forEach((s) => assert.ok(s.tensor.dataSync().every((v) => v === 0)));
      tf.dispose([...state, ...zeros, ...back].map((s) => s.tensor));
      tf.dispose([b.x, b.y]);
    });

    test('step arguments are checked on the main thread, naming the argument', async () => {
      const p2 = w2 as ParallelTrainer;
      const good = batch(8, 5);
      const wrong = { x: tf.zeros([8, H, W, 1]), y: good.y };
      const one = batch(1, 6);
      await assert.rejects(p2.step(wrong, { lr: 0.1, step: 0 }), /'batch\.x'.*\[8,6,6,1\].*\[B,6,6,2\]/);
      await assert.rejects(p2.step(one, { lr: 0.1, step: 0 }), /'batch\.x'.*batch of 1.*one image per worker \(2\)/);
      await assert.rejects(p2.step({ x: good.x, y: tf.zeros([7], 'int32') }, { lr: 0.1, step: 0 }), /'batch\.y'/);
      await assert.rejects(p2.step(good, { lr: -1, step: 0 }), /'lr'.*got -1/);
      await assert.rejects(p2.step(good, { lr: 0.1, step: 1.5 }), /'step'/);
      const first = p2.step(good, { lr: 0, step: 0 });
      await assert.rejects(p2.step(good, { lr: 0, step: 0 }), /already running/);
      await first;
      tf.dispose([good.x, good.y, wrong.x, one.x, one.y]);
    });

    test('a diverging step throws DivergenceError naming the layer, applies nothing, and leaves the trainer usable', async () => {
      const p2 = w2 as ParallelTrainer;
      const before = values(await p2.getWeights());
      const b = batch(8, 7, [[5, NaN]]);
      await assert.rejects(p2.step(b, { lr: 0.1, step: 0 }), (e: unknown) => e instanceof DivergenceError && e.kind === 'loss' && e.step === 0);
      const good = batch(8, 8);
      await assert.rejects(p2.step(good, { lr: 0.1, step: 1, lossLimit: 1e-6 }), (e: unknown) => e instanceof DivergenceError && e.kind === 'explosion');
      await withDisposed(await p2.getWeights(), (v) => assert.deepEqual(v, before, 'nothing applied'));
      await p2.step(good, { lr: 0.1, step: 1 });
      tf.dispose([b.x, b.y, good.x, good.y]);
    });

    test('a stuck worker: the step fails after the barrier timeout, naming the worker; dispose does not wait for it', async () => {
      const p2 = w2 as ParallelTrainer;
      const B = 8;
      const b = batch(B, 9, [[shardOf(B, 2, 1).start, SLEEP], [B - 1 - shardOf(B, 2, 1).start, SLEEP]]);
      const t0 = performance.now();
      await assert.rejects(p2.step(b, { lr: 0.1, step: 0 }), /worker 0 failed: barrier timed out after 1000 ms waiting for worker\(s\) 1/);
      const dt = performance.now() - t0;
      assert.ok(dt >= 950 && dt < 8000, `failed after ${dt} ms`);
      await assert.rejects(p2.step(b, { lr: 0.1, step: 0 }), /unusable after an earlier failure.*timed out/);
      const t1 = performance.now();
      await p2.dispose();
      assert.ok(performance.now() - t1 < 3000, 'dispose waited for the stuck worker');
      await assert.rejects(p2.getWeights(), /disposed/);
      tf.dispose([b.x, b.y]);
    });

    test('a worker that never replies: the step fails after the main thread\'s timeout; dispose does not wait for it', async () => {
      const p1 = w1 as ParallelTrainer;
      const b = batch(8, 10, [[0, SLEEP], [7, SLEEP]]);
      const t0 = performance.now();
      await assert.rejects(p1.step(b, { lr: 0.1, step: 0 }), /no reply from worker\(s\) 0 within 1500 ms/);
      const dt = performance.now() - t0;
      assert.ok(dt >= 1450 && dt < 9000, `failed after ${dt} ms`);
      await assert.rejects(p1.checksums(), /unusable.*no reply/);
      const t1 = performance.now();
      await p1.dispose();
      assert.ok(performance.now() - t1 < 3000, 'dispose waited for the stuck worker');
      tf.dispose([b.x, b.y]);
    });
  });

  describe('BatchNorm: each worker normalises its own shard (images per device)', () => {
    let trainer: ParallelTrainer | undefined;
    const { grouped, whole } = bn;

    before(async () => {
      trainer = await bnStarting;
    });

    test('W = 2 equals single-thread BN with groups of B/2 (weights and averaged moving statistics), not whole-batch BN', async () => {
      const p = trainer as ParallelTrainer;
      for (let s = 0; s < 3; s++) {
        const b = batch(8, 30 + s);
        const r = refStep(grouped, b, s, {});
        refStep(whole, b, s, {});
        const got = await p.step(b, { lr: 0.05, step: s });
        assert.ok(Math.abs(got.loss - r.loss) < 1e-5 * Math.abs(r.loss), `loss ${got.loss} vs ${r.loss}`);
        tf.dispose([b.x, b.y]);
      }
      const mine = values(await p.getWeights());
      const moving = whole.model.weights.map((w) => !w.trainable);
      assert.ok(moving.some((m) => m), 'the model has moving statistics');
      const e = maxRelError(mine, values(grouped.model.getWeights()));
      assert.ok(e < 1e-5, `vs groups of 4: ${e}`);
      const trainable = (ws: Float32Array[]) => ws.filter((_w, i) => !moving[i]);
      const d = maxRelError(trainable(mine), trainable(values(whole.model.getWeights())));
      assert.ok(d > 1e-3, `vs whole-batch BN: ${d} (should differ)`);
    });

    test('a throwing worker rejects the step at once with its message; the waiting worker is released', async () => {
      const p = trainer as ParallelTrainer;
      const b = batch(8, 40, [[4, THROW]]);
      const t0 = performance.now();
      await assert.rejects(p.step(b, { lr: 0.1, step: 3 }), /worker 1 failed: sentinel: injected failure/);
      assert.ok(performance.now() - t0 < 5000, 'waited for a timeout instead of aborting');
      await assert.rejects(p.step(b, { lr: 0.1, step: 3 }), /unusable.*sentinel: injected failure/);
      tf.dispose([b.x, b.y]);
    });
  });

  test('copies that drift apart are detected by the weight hashes', async () => {
    const p = await driftStarting;
    try {
      const good = batch(8, 50);
      const bad = batch(8, 51, [[4, CORRUPT]]);
      // Worker 1 overwrites one of its weights during the first step; with checkEvery 2 the hashes are compared
      // after the second.
      await p.step(bad, { lr: 0.1, step: 0 });
      await assert.rejects(p.step(good, { lr: 0.1, step: 1 }), /weights differ after step 1/);
      tf.dispose([good.x, good.y, bad.x, bad.y]);
    } finally {
      await p.dispose();
    }
  });

  test('a worker that cannot start rejects creation with its message or exit code', async () => {
    await assert.rejects(failingStarting, /worker 0 failed to start: .*no\/such\/module/);
    await assert.rejects(exitingStarting, /worker [01] exited unexpectedly \(code 3\)/);
  });

  test('parallelOptimizerSpec carries the run settings, AGC only when on', () => {
    const settings = { momentum: 0.8, nesterov: true, weightDecay: 2e-5, decayFilter: 'no-gains-biases' as const };
    assert.deepEqual(parallelOptimizerSpec({ ...settings, agc: 0 }), { sgd: settings });
    assert.deepEqual(parallelOptimizerSpec({ ...settings, agc: 0.01 }), { sgd: settings, agc: { clipping: 0.01 } });
  });

  test('bad options name the option (no worker started)', async () => {
    const model = denseModel(9);
    const base = { workers: 2, model };
    await assert.rejects(createParallelTrainer({ ...base, workers: 0 }), /'workers'.*got 0/);
    await assert.rejects(createParallelTrainer({ ...base, workers: 1.5 }), /'workers'/);
    await assert.rejects(createParallelTrainer({ ...base, model: {} as tfl.LayersModel }), /'model'.*tf\.LayersModel/);
    await assert.rejects(createParallelTrainer({ ...base, backend: 'gpu' as 'cpu' }), /'backend'/);
    await assert.rejects(createParallelTrainer({ ...base, numClasses: 1 }), /'numClasses'/);
    await assert.rejects(createParallelTrainer({ ...base, labelSmoothing: 1 }), /'labelSmoothing'/);
    await assert.rejects(createParallelTrainer({ ...base, timeoutMs: 0 }), /'timeoutMs'/);
    await assert.rejects(createParallelTrainer({ ...base, imports: [''] }), /'imports'/);
    await assert.rejects(createParallelTrainer({ ...base, optimizer: { sgd: { decayFilter: (() => true) as unknown as 'all' } } }), /'optimizer\.sgd\.decayFilter'.*predicates cannot cross/);
    const stray = tf.scalar(0);
    await assert.rejects(createParallelTrainer({ ...base, optimizerState: [{ name: 'nope/momentum', tensor: stray }] }), /'optimizerState'.*'nope\/momentum'/);
    stray.dispose();
    const input = tfl.input({ shape: [4] });
    const flat = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor });
    await assert.rejects(createParallelTrainer({ ...base, model: flat }), /'model'.*one image input/);
    flat.dispose();
    model.dispose();
  });
});
