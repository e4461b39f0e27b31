/**
 * Data-parallel training throughput: the PEERS.md reference network (conv3x3(16) → NORM → ACT → conv3x3(32, s2) →
 * NORM → ACT → conv3x3(64, s2) → NORM → ACT → global average pool → dense(10), 28x28x1 inputs, batch 64, plain SGD)
 * trained in-process on the main thread, and by `createParallelTrainer` with W = 1 and W = 2 workers.
 *
 * The machine is shared: the configurations are measured in interleaved rounds (one block of steps of each per
 * round), and the table reports medians of the per-step times and the load average seen.
 *
 *   npx tsx bench/parallel.ts [--norms frn,bn,gn] [--backend wasm] [--batch 64] [--rounds 5] [--steps 6] [--out FILE]
 *
 * Prints a table and writes `.bench/parallel.json` (or `--out`). On Linux it also reports the CPU time of the
 * training threads and the time they were runnable without a core (other processes), and from the CPU times an
 * estimate of the rate with one idle core per thread.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { tf, tfl } from '../src/engine.js';
import { init } from '../src/init.js';
import { applyLayers, createNormActivation, type NormName } from '../src/layers/index.js';
import { SGD } from '../src/optim/sgd.js';
import { trainableParams, trainStep, type Trainable } from '../src/train/loop.js';
import { createParallelTrainer, type ParallelTrainer, threadTimes } from '../src/train/parallel/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const norms = arg('norms', 'frn,bn,gn').split(',') as NormName[];
const backend = arg('backend', 'wasm') as 'wasm' | 'cpu';
const batchSize = Number(arg('batch', '64'));
const rounds = Number(arg('rounds', '5'));
const stepsPerRound = Number(arg('steps', '6'));
const outFile = arg('out', '.bench/parallel.json');
const warmup = 3;

/** The reference network of PEERS.md with the given normalization + activation. */
function referenceNet(norm: NormName, seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [28, 28, 1] });
  let h: tfl.SymbolicTensor = input;
  [16, 32, 64].forEach((filters, i) => {
    const conv = tfl.layers.conv2d({
      filters, kernelSize: 3, strides: i === 0 ? 1 : 2, padding: 'same', useBias: false,
      kernelInitializer: tfl.initializers.heNormal({ seed: seed + i }),
    });
    h = conv.apply(h) as tfl.SymbolicTensor;
    h = applyLayers(createNormActivation(norm, norm === 'gn' ? { groups: 8 } : {}), h) as tfl.SymbolicTensor;
  });
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 10, name: 'classifier', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 9 }) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** A fixed random batch (the data does not matter for speed). */
function makeBatch(seed: number): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => ({
    x: tf.randomNormal([batchSize, 28, 28, 1], 0, 1, 'float32', seed),
    y: tf.cast(tf.floor(tf.mul(tf.randomUniform([batchSize], 0, 1, 'float32', seed + 1), 9.999)), 'int32'),
  }));
}

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Config {
  name: string;
  workers: number;
  run(step: number): Promise<void>;
  times: number[];
  /** Per parallel step: the slowest worker's compute and the mean barrier wait, ms. */
  compute: number[];
  wait: number[];
  /** Per step: CPU time of all training threads, the largest of one thread, and the mean runnable wait, ms. */
  cpu: number[];
  cpuMax: number[];
  starved: number[];
  dispose(): Promise<void>;
}

interface Row {
  norm: string;
  config: string;
  workers: number;
  medianMs: number;
  imagesPerSecond: number;
  p25Ms: number;
  p75Ms: number;
  steps: number;
  computeMs?: number;
  waitMs?: number;
  speedupVsW1?: number;
  /** Median CPU time of the training threads per step (sum over threads), ms. */
  cpuMs?: number;
  /** Median time a training thread was runnable but not running per step (mean over threads), ms. */
  starvedMs?: number;
  /** Images/s if each training thread had a core to itself: batch / median(largest per-thread CPU time). */
  freeCoreImagesPerSecond?: number;
}

async function main(): Promise<void> {
  tf.env().set('PROD', true);
  const active = await init({ backend });
  const load: number[][] = [loadavg()];
  const rows: Row[] = [];
  console.log(`backend ${active.backend}, batch ${batchSize}, ${rounds} rounds x ${stepsPerRound} steps, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})`);
  console.log(`load average at start: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  const batch = makeBatch(7);
  for (const norm of norms) {
    const configs: Config[] = [];
    // In-process: the main thread's own engine, as `batchfree train` runs without --workers.
    const model = referenceNet(norm, 1);
    const t: Trainable = { model, optimizer: new SGD({ momentum: 0 }), params: trainableParams(model) };
    const local: Config = {
      name: 'in-process', workers: 0, times: [], compute: [], wait: [], cpu: [], cpuMax: [], starved: [],
      run: async (step) => {
        const t0 = threadTimes();
        trainStep(t, batch, { lr: 0.01, numClasses: 10, step, seed: 1 });
        const t1 = threadTimes();
        if (t0 !== undefined && t1 !== undefined) {
          local.cpu.push(t1.cpuMs - t0.cpuMs);
          local.cpuMax.push(t1.cpuMs - t0.cpuMs);
          local.starved.push(t1.runnableWaitMs - t0.runnableWaitMs);
        }
      },
      dispose: async () => {
        t.optimizer.dispose();
        model.dispose();
      },
    };
    configs.push(local);
    for (const workers of [1, 2]) {
      const m = referenceNet(norm, 1);
      const trainer: ParallelTrainer = await createParallelTrainer({ workers, model: m, backend, optimizer: { sgd: { momentum: 0 } }, seed: 1, checkEvery: 0 });
      const c: Config = {
        name: `W=${workers}`, workers, times: [], compute: [], wait: [], cpu: [], cpuMax: [], starved: [],
        run: async (step) => {
          const r = await trainer.step(batch, { lr: 0.01, step });
          c.compute.push(Math.max(...r.timings.map((x) => x.computeMs)));
          c.wait.push(r.timings.reduce((s, x) => s + x.waitMs, 0) / r.timings.length);
          const cpu = r.timings.map((x) => x.cpuMs);
          if (cpu.every((v) => v !== undefined)) {
            c.cpu.push((cpu as number[]).reduce((a, b) => a + b, 0));
            c.cpuMax.push(Math.max(...(cpu as number[])));
            c.starved.push(r.timings.reduce((a, x) => a + (x.runnableWaitMs ?? 0), 0) / r.timings.length);
          }
        },
        dispose: async () => {
          await trainer.dispose();
          m.dispose();
        },
      };
      configs.push(c);
    }
    let step = 0;
    for (const c of configs) for (let i = 0; i < warmup; i++) await c.run(step++);
    configs.forEach((c) => {
      for (const a of [c.compute, c.wait, c.cpu, c.cpuMax, c.starved]) a.length = 0;
    });
    for (let r = 0; r < rounds; r++) {
      for (const c of configs) {
        for (let i = 0; i < stepsPerRound; i++) {
          const t0 = performance.now();
          await c.run(step++);
          c.times.push(performance.now() - t0);
        }
      }
      load.push(loadavg());
    }
    const w1 = median(configs[1].times);
    for (const c of configs) {
      const s = [...c.times].sort((a, b) => a - b);
      const med = median(s);
      const row: Row = {
        norm, config: c.name, workers: c.workers, medianMs: med, imagesPerSecond: (batchSize / med) * 1000,
        p25Ms: s[Math.floor(s.length / 4)], p75Ms: s[Math.floor((3 * s.length) / 4)], steps: s.length,
      };
      if (c.compute.length > 0) {
        row.computeMs = median(c.compute);
        row.waitMs = median(c.wait);
        row.speedupVsW1 = w1 / med;
      }
      if (c.cpu.length > 0) {
        row.cpuMs = median(c.cpu);
        row.starvedMs = median(c.starved);
        row.freeCoreImagesPerSecond = (batchSize / median(c.cpuMax)) * 1000;
      }
      rows.push(row);
    }
    for (const c of configs) await c.dispose();
  }
  tf.dispose([batch.x, batch.y]);

  const pad = (v: string, n: number): string => v.padStart(n);
  const f = (v: number | undefined, digits = 1): string => (v === undefined ? '-' : v.toFixed(digits));
  console.log(`\n${'norm'.padEnd(6)}${pad('config', 11)}${pad('ms/step', 9)}${pad('p25', 7)}${pad('p75', 7)}${pad('img/s', 7)}${pad('vs W=1', 8)}` +
    `${pad('compute', 9)}${pad('wait', 6)}${pad('cpu', 7)}${pad('starved', 9)}${pad('free-core img/s', 17)}`);
  for (const r of rows) {
    console.log(`${r.norm.padEnd(6)}${pad(r.config, 11)}${pad(f(r.medianMs), 9)}${pad(f(r.p25Ms), 7)}${pad(f(r.p75Ms), 7)}${pad(f(r.imagesPerSecond, 0), 7)}` +
      `${pad(r.speedupVsW1 === undefined ? '-' : `${r.speedupVsW1.toFixed(2)}x`, 8)}${pad(f(r.computeMs), 9)}${pad(f(r.waitMs), 6)}` +
      `${pad(f(r.cpuMs), 7)}${pad(f(r.starvedMs), 9)}${pad(f(r.freeCoreImagesPerSecond, 0), 17)}`);
  }
  const loads = load.map((l) => l[0]);
  console.log(`\n1-min load average during the run: median ${median(loads).toFixed(2)}, min ${Math.min(...loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)} (${availableParallelism()} cores)`);
  console.log('ms, medians. compute = slowest worker\'s forward+backward of its shard; wait = mean time at the barriers (includes waiting for the');
  console.log('slower shard); cpu = CPU time of the training threads (sum); starved = time a training thread was runnable but had no core');
  console.log('(other processes); free-core img/s = batch / largest per-thread CPU time: the rate with one idle core per thread (an estimate).');
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify({
    date: new Date().toISOString(), backend: active.backend, batchSize, rounds, stepsPerRound, warmup, cores: availableParallelism(),
    cpu: cpus()[0]?.model, loadAverage1m: loads, rows,
  }, null, 2)}\n`);
  console.log(`wrote ${outFile}`);
}

await main();
