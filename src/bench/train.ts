/**
 * Training throughput of `batchfree bench`: images/s of one training step (forward + backward + plain SGD update,
 * `trainStep` / `ParallelTrainer.step`) of the benchmark networks (`nets.ts`) on several engines:
 *
 * - `cpu-stock`: TF.js' `cpu` backend with its own kernels (batchfree's kernels and fused normalizations
 *   removed): pure JavaScript, ~20 s per step of the reference network at batch 64, so a step or two only;
 * - `cpu`: the `cpu` backend with batchfree's kernels;
 * - `wasm-stock`: TF.js' `wasm` backend with its own kernels (fails: it has no `Conv2DBackpropFilter`);
 * - `wasm`: batchfree on one thread (wasm backend + batchfree's kernels and fused normalizations);
 * - `wN` (`w2`, ...): batchfree on N worker threads (`createParallelTrainer`, wasm in each worker).
 *
 * The machine may be shared and its speed drifts: `wasm`, the worker engines and, when given, the PyTorch peer (its
 * steps on 1 and 2 threads, timed by itself) are measured in interleaved rounds (a block of steps of each per round)
 * and reported as medians; the slow engines one after another. Each in-process step also
 * records the thread's CPU time and the time it was runnable without a core (Linux), each worker step the
 * slowest worker's compute and the barrier waits.
 * @module
 */
import { loadavg } from 'node:os';
import { tf } from '../engine.js';
import { init } from '../init.js';
import { fusedConfig } from '../kernels/fused/index.js';
import { registerFastKernels, restoreStockKernels } from '../kernels/register.js';
import type { NormName } from '../layers/factory.js';
import { SGD } from '../optim/sgd.js';
import { type Trainable, trainableParams, trainStep } from '../train/loop.js';
import { createParallelTrainer, threadTimes } from '../train/parallel/index.js';
import { type BenchModel, benchNet, syntheticBatch } from './nets.js';
import { errorLine, median, quantile } from './stats.js';
import { TORCH_TRAIN_KINDS, type TorchPeer, type TorchTrainSession } from './torch.js';

/** Engines `batchfree bench` measures by default: stock cpu, batchfree on one thread, batchfree on two workers. */
export const DEFAULT_ENGINES = ['cpu-stock', 'wasm', 'w2'] as const;
/** Engine names: `cpu-stock`, `cpu`, `wasm-stock`, `wasm`, or `w<N>` (N ≥ 1 workers). */
export const ENGINE_PATTERN = /^(cpu-stock|cpu|wasm-stock|wasm|w[1-9]\d*)$/;

/** What an engine name means. */
export interface EngineSpec {
  name: string;
  backend: 'cpu' | 'wasm';
  /** TF.js' own kernels only (no batchfree kernels, no fused normalizations). */
  stock: boolean;
  /** Worker threads; 0 = in-process on the main thread. */
  workers: number;
}

/** The {@link EngineSpec} of `name` (see {@link ENGINE_PATTERN}). @throws naming the engine when unknown. */
export function parseEngine(name: string): EngineSpec {
  if (!ENGINE_PATTERN.test(name)) throw new Error(`benchTraining: argument 'engines' is invalid: got '${name}', expected cpu-stock, cpu, wasm-stock, wasm or w<N> (N workers)`);
  if (name.startsWith('w') && name !== 'wasm' && name !== 'wasm-stock') return { name, backend: 'wasm', stock: false, workers: Number(name.slice(1)) };
  const [backend, suffix] = name.split('-') as ['cpu' | 'wasm', string | undefined];
  return { name, backend, stock: suffix === 'stock', workers: 0 };
}

/** Engines measured one after another with few steps (the others are interleaved). */
function isSequential(e: EngineSpec): boolean {
  return e.stock || e.backend === 'cpu';
}

/**
 * Untimed steps before the timed ones: at least {@link DEFAULT_WARMUP_STEPS} steps and {@link DEFAULT_WARMUP_MS}
 * of them. V8 compiles TF.js' and batchfree's per-step JavaScript long after the first steps (functions called a
 * few times per step reach its optimizing tier after hundreds of steps), on helper threads that compete with the
 * workers for the two cores. Measured on the reference net, BN, two workers: the threads other than the workers
 * used 6.9 ms of CPU per step over steps 0-249, 4.4 over 250-499, 4.0 over 500-749 and 2.2-2.4 from step 750 on
 * (to step 2,500; --trace-opt: 427 compilations in the first 100 steps, still ~30 per 100 steps at step 800); a
 * trainer warmed up for 800 steps ran 10-12% faster than one after 50 (steps 50-130), interleaved in one process.
 * A training run spends nearly all its steps in that steady state; 15 s reach it (~750 steps of the reference
 * net on two workers).
 */
export const DEFAULT_WARMUP_STEPS = 50;
/** See {@link DEFAULT_WARMUP_STEPS}. */
export const DEFAULT_WARMUP_MS = 15_000;

/** Options of {@link benchTraining}. */
export interface TrainBenchOptions {
  /** Networks; default both of `BENCH_MODELS`. */
  models?: readonly BenchModel[];
  /** Norm+activation names for the reference network; default `bn`, `gn`, `frn`, `ln+pn`. */
  norms?: readonly NormName[];
  /** Norm+activation names for ResNet-20; default `frn`. */
  resnetNorms?: readonly NormName[];
  /** Engines (see {@link parseEngine}); default {@link DEFAULT_ENGINES}. */
  engines?: readonly string[];
  /** Images per step; default 64. */
  batch?: number;
  /** Timed steps of each interleaved engine (`wasm`, `wN`); default 20. */
  steps?: number;
  /** Interleaved rounds the steps are spread over; default 4. */
  rounds?: number;
  /** Untimed steps of each interleaved engine first, at least; default {@link DEFAULT_WARMUP_STEPS}. */
  warmup?: number;
  /** ... and for at least this many ms; default {@link DEFAULT_WARMUP_MS}. */
  warmupMs?: number;
  /** Timed steps of the sequential engines (`cpu-stock`, `cpu`, `wasm-stock`; `cpu-stock` has no warm-up step); default 1. */
  stockSteps?: number;
  /** Stop a sequential engine's steps once this many ms have passed (after at least one step); default 120000. */
  stockBudgetMs?: number;
  /** Run the sequential engines for the first network (the first model's first norm) only; default false. */
  stockFirstOnly?: boolean;
  /** Learning rate of the SGD steps; default 0.01. */
  lr?: number;
  /**
   * The PyTorch peer (a running {@link TorchTrainSession}): on the reference network with a norm it has
   * ({@link TORCH_TRAIN_KINDS}), its steps on 1 and 2 threads are timed in the same interleaved rounds as
   * batchfree's engines, after {@link PEER_WARMUP_STEPS} warm-up steps each.
   */
  peer?: Pick<TorchTrainSession, 'version' | 'step'>;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One engine's figures for one network. */
export interface TrainRow {
  model: BenchModel;
  norm: string;
  /** Engine name, or `'pytorch'` for the peer's rows. */
  engine: string;
  /** Threads doing the work: 1 in-process, N for `wN`, the peer's thread count. */
  threads: number;
  /** Timed steps. */
  steps: number;
  /** Untimed steps before them (warm-up). */
  warmup: number;
  /** Median wall ms per step. */
  msPerStep?: number;
  p25Ms?: number;
  p75Ms?: number;
  /** batch / median step time. */
  imagesPerSecond?: number;
  /** Median CPU ms per step: the main thread's (in-process), the sum over the workers' threads (`wN`). */
  cpuMs?: number;
  /** Median ms per step a training thread was runnable but had no core (other processes; mean over threads). */
  starvedMs?: number;
  /** `wN`: median of the slowest worker's forward + backward. */
  computeMs?: number;
  /** `wN`: median of the mean barrier wait. */
  waitMs?: number;
  /** Images/s if each training thread had a core to itself: batch / median of the largest per-thread CPU time. */
  freeCoreImagesPerSecond?: number;
  /** Loss of the first and the last step (a sanity check: finite). */
  firstLoss?: number;
  lastLoss?: number;
  /** imagesPerSecond / the same network's `cpu-stock` imagesPerSecond. */
  vsStockCpu?: number;
  /** imagesPerSecond / PyTorch's at the same thread count (measured in this run). */
  vsPyTorch?: number;
  /** Why there are no figures: the error... */
  error?: string;
  /** ...or why the row was skipped. */
  skipped?: string;
  /** What the figures mean beyond the columns. */
  note?: string;
}

/** What {@link benchTraining} measured. */
export interface TrainBenchResult {
  batch: number;
  steps: number;
  rounds: number;
  /** Least warm-up steps and ms of the interleaved engines (each row has its own count). */
  warmup: number;
  warmupMs: number;
  stockSteps: number;
  rows: TrainRow[];
  /** 1-minute load average after each network's measurements. */
  loadAverages: number[];
}

/** One timed step. */
interface StepSample {
  wallMs: number;
  loss: number;
  cpuMs?: number;
  cpuMaxMs?: number;
  starvedMs?: number;
  computeMs?: number;
  waitMs?: number;
}

/** A network being trained by one engine. */
interface Runner {
  /** The row's engine name and thread count. */
  engine: string;
  threads: number;
  /** One step (sets everything but `wallMs`, unless the engine timed the step itself). */
  run(step: number): Promise<Omit<StepSample, 'wallMs'> & { wallMs?: number }>;
  dispose(): Promise<void>;
  samples: StepSample[];
  losses: number[];
  /** Steps run so far (timed or not), and of them the warm-up ones. */
  steps: number;
  warmupSteps: number;
  /** Warm-up of this runner when not the interleaved engines' (at least this many steps, no minimum time). */
  warmupOverride?: number;
  error?: string;
  note?: string;
}

/** Measures the training throughput (see the module description). */
export async function benchTraining(options: TrainBenchOptions = {}): Promise<TrainBenchResult> {
  const {
    models = ['reference', 'resnet20'], norms = ['bn', 'gn', 'frn', 'ln+pn'], resnetNorms = ['frn'], engines = DEFAULT_ENGINES,
    batch = 64, steps = 20, rounds: roundsWanted = 4, warmup = DEFAULT_WARMUP_STEPS, warmupMs = DEFAULT_WARMUP_MS, stockSteps = 1, stockBudgetMs = 120_000, stockFirstOnly = false, lr = 0.01,
    log = () => undefined, peer,
  } = options;
  const specs = engines.map(parseEngine);
  const rounds = Math.max(1, Math.min(roundsWanted, steps));
  const perRound = Math.ceil(steps / rounds);
  const result: TrainBenchResult = { batch, steps: rounds * perRound, rounds, warmup, warmupMs, stockSteps, rows: [], loadAverages: [] };
  let first = true;
  for (const model of models) {
    for (const norm of model === 'reference' ? norms : resnetNorms) {
      for (const spec of specs.filter(isSequential)) {
        if (stockFirstOnly && !first) {
          result.rows.push({ model, norm, engine: spec.name, threads: 1, steps: 0, warmup: 0, skipped: 'slow engines measured for the first network only (--quick)' });
          continue;
        }
        log(`train: ${model} ${norm} on ${spec.name}...`);
        const row = await measureSequential(spec, model, norm, { batch, steps: stockSteps, budgetMs: stockBudgetMs, lr });
        log(`  ${describe(row)}`);
        result.rows.push(row);
      }
      first = false;
      const interleaved = specs.filter((s) => !isSequential(s));
      if (interleaved.length > 0) {
        const withPeer = peer !== undefined && model === 'reference' && norm in TORCH_TRAIN_KINDS ? peer : undefined;
        const names = [...interleaved.map((s) => s.name), ...(withPeer === undefined ? [] : PEER_THREADS.map((t) => `PyTorch ${t} thr`))];
        log(`train: ${model} ${norm} on ${names.join(', ')} (${rounds} rounds of ${perRound} steps after >= ${warmup} warm-up steps and >= ${(warmupMs / 1000).toFixed(0)} s${withPeer === undefined ? '' : `; PyTorch ${PEER_WARMUP_STEPS}`})...`);
        const rows = await measureInterleaved(interleaved, model, norm, { batch, rounds, perRound, warmup, warmupMs, lr, peer: withPeer });
        for (const r of rows) log(`  ${describe(r)}`);
        result.rows.push(...rows);
      }
      result.loadAverages.push(loadavg()[0]);
    }
  }
  return result;
}

/** `wasm: 41.2 ms/step, 1553 img/s (20 steps)` or the error. */
function describe(r: TrainRow): string {
  if (r.error !== undefined) return `${r.engine}: fails: ${r.error}`;
  if (r.skipped !== undefined) return `${r.engine}: skipped: ${r.skipped}`;
  return `${r.engine}: ${r.msPerStep?.toFixed(1)} ms/step, ${r.imagesPerSecond?.toFixed(0)} img/s (${r.steps} steps)`;
}

/** Thread counts the PyTorch peer is timed on. */
export const PEER_THREADS = [1, 2] as const;
/** Untimed steps of the PyTorch peer before its timed ones (its own script takes 5). */
export const PEER_WARMUP_STEPS = 5;

/** The PyTorch peer's reference network with `norm` on `threads` threads: each step timed by the peer itself. */
function peerRunner(peer: Pick<TorchTrainSession, 'version' | 'step'>, norm: NormName, threads: number, batch: number): Runner {
  return {
    engine: 'pytorch', threads, samples: [], losses: [], steps: 0, warmupSteps: 0, warmupOverride: PEER_WARMUP_STEPS,
    note: `PyTorch ${peer.version}, its steps interleaved with batchfree's rounds`,
    run: async () => {
      const r = await peer.step(norm, threads, batch);
      return { loss: r.loss, wallMs: r.ms };
    },
    dispose: async () => undefined,
  };
}

/** An in-process runner on the current backend. */
function inProcessRunner(spec: EngineSpec, model: BenchModel, norm: NormName, batchSize: number, lr: number): Runner {
  const net = benchNet(model, norm);
  const t: Trainable = { model: net, optimizer: new SGD({ momentum: 0 }), params: trainableParams(net) };
  const batch = syntheticBatch(batchSize);
  return {
    engine: spec.name, threads: 1, samples: [], losses: [], steps: 0, warmupSteps: 0,
    run: async (step) => {
      const t0 = threadTimes();
      const c0 = process.cpuUsage();
      const { loss } = trainStep(t, batch, { lr, numClasses: 10, step, seed: 1 });
      const c = process.cpuUsage(c0);
      const t1 = threadTimes();
      const cpuMs = t0 !== undefined && t1 !== undefined ? t1.cpuMs - t0.cpuMs : (c.user + c.system) / 1000;
      const starvedMs = t0 !== undefined && t1 !== undefined ? t1.runnableWaitMs - t0.runnableWaitMs : undefined;
      return { loss, cpuMs, cpuMaxMs: cpuMs, starvedMs };
    },
    dispose: async () => {
      t.optimizer.dispose();
      net.dispose();
      tf.dispose([batch.x, batch.y]);
    },
  };
}

/** A runner training on `spec.workers` worker threads (the main thread's backend only builds the model). */
async function workersRunner(spec: EngineSpec, model: BenchModel, norm: NormName, batchSize: number, lr: number): Promise<Runner> {
  const net = benchNet(model, norm);
  const batch = syntheticBatch(batchSize);
  try {
    const trainer = await createParallelTrainer({ workers: spec.workers, model: net, backend: spec.backend, optimizer: { sgd: { momentum: 0 } }, seed: 1, checkEvery: 0 });
    const bn = norm === 'bn' || norm === 'brn';
    return {
      engine: spec.name, threads: spec.workers, samples: [], losses: [], steps: 0, warmupSteps: 0,
      note: bn && spec.workers > 1 ? `BN statistics over each worker's shard (~${Math.floor(batchSize / spec.workers)} images)` : undefined,
      run: async (step) => {
        const r = await trainer.step(batch, { lr, step });
        const cpu = r.timings.map((x) => x.cpuMs);
        const known = cpu.every((v) => v !== undefined) ? (cpu as number[]) : undefined;
        return {
          loss: r.loss,
          computeMs: Math.max(...r.timings.map((x) => x.computeMs)),
          waitMs: r.timings.reduce((s, x) => s + x.waitMs, 0) / r.timings.length,
          cpuMs: known?.reduce((a, b) => a + b, 0),
          cpuMaxMs: known === undefined ? undefined : Math.max(...known),
          starvedMs: known === undefined ? undefined : r.timings.reduce((a, x) => a + (x.runnableWaitMs ?? 0), 0) / r.timings.length,
        };
      },
      dispose: async () => {
        await trainer.dispose();
        net.dispose();
        tf.dispose([batch.x, batch.y]);
      },
    };
  } catch (e) {
    net.dispose();
    tf.dispose([batch.x, batch.y]);
    throw e;
  }
}

/** Times one step of `runner` into its samples. */
async function timedStep(runner: Runner, record: boolean): Promise<void> {
  const w0 = performance.now();
  const s = await runner.run(runner.steps++);
  const wallMs = s.wallMs ?? performance.now() - w0;
  runner.losses.push(s.loss);
  if (record) runner.samples.push({ ...s, wallMs });
}

/** The row of a runner's samples. */
function summarize(runner: Runner, model: BenchModel, norm: string, batch: number): TrainRow {
  const { samples } = runner;
  const row: TrainRow = { model, norm, engine: runner.engine, threads: runner.threads, steps: samples.length, warmup: runner.warmupSteps };
  if (runner.note !== undefined) row.note = runner.note;
  if (runner.error !== undefined) row.error = runner.error;
  if (samples.length === 0) return row;
  const wall = samples.map((s) => s.wallMs);
  row.msPerStep = median(wall);
  row.p25Ms = quantile(wall, 0.25);
  row.p75Ms = quantile(wall, 0.75);
  row.imagesPerSecond = (batch / row.msPerStep) * 1000;
  const med = (k: keyof StepSample): number | undefined => {
    const v = samples.map((s) => s[k]);
    return v.every((x) => x !== undefined) ? median(v as number[]) : undefined;
  };
  row.cpuMs = med('cpuMs');
  row.starvedMs = med('starvedMs');
  row.computeMs = med('computeMs');
  row.waitMs = med('waitMs');
  const cpuMax = med('cpuMaxMs');
  if (cpuMax !== undefined && cpuMax > 0) row.freeCoreImagesPerSecond = (batch / cpuMax) * 1000;
  row.firstLoss = runner.losses[0];
  row.lastLoss = runner.losses[runner.losses.length - 1];
  return row;
}

/** A sequential engine: `steps` timed steps in-process (1 warm-up step except on `cpu-stock`), within `budgetMs`. */
async function measureSequential(spec: EngineSpec, model: BenchModel, norm: NormName, o: { batch: number; steps: number; budgetMs: number; lr: number }): Promise<TrainRow> {
  const warmup = spec.name === 'cpu-stock' ? 0 : 1;
  await init({ backend: spec.backend });
  if (spec.stock) {
    restoreStockKernels(spec.backend);
    fusedConfig.enabled = false;
  }
  let runner: Runner | undefined;
  try {
    runner = inProcessRunner(spec, model, norm, o.batch, o.lr);
    const start = performance.now();
    for (; runner.warmupSteps < warmup; runner.warmupSteps++) await timedStep(runner, false);
    while (runner.samples.length < o.steps) {
      await timedStep(runner, true);
      if (performance.now() - start > o.budgetMs) break;
    }
    const row = summarize(runner, model, norm, o.batch);
    if (spec.name === 'cpu-stock') row.note = 'TF.js cpu kernels only (pure JavaScript): no warm-up step';
    return row;
  } catch (e) {
    return { model, norm, engine: spec.name, threads: 1, steps: runner?.samples.length ?? 0, warmup, error: errorLine(e) };
  } finally {
    await runner?.dispose();
    if (spec.stock) {
      fusedConfig.enabled = true;
      registerFastKernels(spec.backend);
    }
  }
}

/**
 * The interleaved engines (and the PyTorch peer when given): warm-up steps of each (at least `warmup` steps and
 * `warmupMs`; the peer {@link PEER_WARMUP_STEPS}), then `rounds` rounds of `perRound` steps of each in turn.
 */
async function measureInterleaved(specs: EngineSpec[], model: BenchModel, norm: NormName,
  o: { batch: number; rounds: number; perRound: number; warmup: number; warmupMs: number; lr: number; peer?: Pick<TorchTrainSession, 'version' | 'step'> }): Promise<TrainRow[]> {
  await init({ backend: 'wasm' });
  const runners: Runner[] = [];
  const failed: TrainRow[] = [];
  for (const spec of specs) {
    try {
      runners.push(spec.workers > 0 ? await workersRunner(spec, model, norm, o.batch, o.lr) : inProcessRunner(spec, model, norm, o.batch, o.lr));
    } catch (e) {
      failed.push({ model, norm, engine: spec.name, threads: Math.max(1, spec.workers), steps: 0, warmup: 0, error: errorLine(e) });
    }
  }
  const peers = o.peer === undefined ? [] : PEER_THREADS.map((t) => peerRunner(o.peer as Pick<TorchTrainSession, 'version' | 'step'>, norm, t, o.batch));
  runners.push(...peers);
  const live = (): Runner[] => runners.filter((r) => r.error === undefined);
  const guarded = async (r: Runner, record: boolean): Promise<void> => {
    try {
      await timedStep(r, record);
    } catch (e) {
      r.error = errorLine(e);
    }
  };
  try {
    for (const r of live()) {
      const start = performance.now();
      const [steps, ms] = r.warmupOverride === undefined ? [o.warmup, o.warmupMs] : [r.warmupOverride, 0];
      while (r.error === undefined && (r.warmupSteps < steps || performance.now() - start < ms)) {
        await guarded(r, false);
        r.warmupSteps++;
      }
    }
    for (let round = 0; round < o.rounds; round++) {
      for (const r of live()) for (let i = 0; i < o.perRound; i++) await guarded(r, true);
    }
  } finally {
    for (const r of runners) await r.dispose();
  }
  const rows = runners.map((r) => summarize(r, model, norm, o.batch));
  return [
    ...specs.map((s) => (rows.find((r) => r.engine === s.name) ?? failed.find((r) => r.engine === s.name)) as TrainRow),
    ...rows.filter((r) => r.engine === 'pytorch'),
  ];
}

/**
 * Puts the PyTorch peer's rows after each network's rows: the ones timed in the interleaved rounds, else the
 * peer script's own figures (reference network, the norms it has: `bn`, `gn`, `frn`; one row per thread count),
 * else one row saying why there are none; and adds the ratios: `vsStockCpu` (to the same network's `cpu-stock`
 * row) and `vsPyTorch` (to PyTorch at the same thread count).
 */
export function withPeerRows(rows: readonly TrainRow[], torch: TorchPeer | undefined, torchNote: string): TrainRow[] {
  const out: TrainRow[] = [];
  const groups = [...new Set(rows.map((r) => `${r.model}\u0000${r.norm}`))];
  for (const g of groups) {
    const [model, norm] = g.split('\u0000') as [BenchModel, string];
    const group = rows.filter((r) => r.model === model && r.norm === norm).map((r) => ({ ...r }));
    const mine = group.filter((r) => r.engine !== 'pytorch');
    const peer = group.filter((r) => r.engine === 'pytorch');
    const version = `PyTorch ${torch?.version ?? ''}`.trim();
    const figures = model === 'reference' ? torch?.train[norm] : undefined;
    if (peer.length === 0 && figures !== undefined && Object.keys(figures).length > 0) {
      for (const [threads, f] of Object.entries(figures)) {
        peer.push({ model, norm, engine: 'pytorch', threads: Number(threads), steps: 0, warmup: 0, msPerStep: f.msPerStep, imagesPerSecond: f.imagesPerSecond, note: version });
      }
    } else if (peer.length === 0) {
      const why = torch?.status === 'measured' ? (model === 'reference' ? 'the peer has no such network' : 'the peer has the reference network only') : torchNote;
      peer.push({ model, norm, engine: 'pytorch', threads: 0, steps: 0, warmup: 0, skipped: why });
    }
    const stock = mine.find((r) => r.engine === 'cpu-stock')?.imagesPerSecond;
    for (const r of mine) {
      if (r.imagesPerSecond === undefined) continue;
      if (stock !== undefined && r.engine !== 'cpu-stock') r.vsStockCpu = r.imagesPerSecond / stock;
      const p = peer.find((q) => q.threads === r.threads && q.imagesPerSecond !== undefined);
      if (p?.imagesPerSecond !== undefined) r.vsPyTorch = r.imagesPerSecond / p.imagesPerSecond;
    }
    out.push(...mine, ...peer);
  }
  return out;
}

/** Per-kernel time of one training step of the reference network on wasm + batchfree kernels (after 3 warm-up steps). */
export async function profileTrainStep(norm: NormName, batchSize = 64): Promise<Array<{ kernel: string; ms: number; calls: number }>> {
  await init({ backend: 'wasm' });
  const runner = inProcessRunner(parseEngine('wasm'), 'reference', norm, batchSize, 0.01);
  try {
    for (let i = 0; i < 3; i++) await runner.run(i);
    const info = await tf.profile(async () => {
      await runner.run(3);
    });
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += Number(k.kernelTimeMs);
      e.calls++;
      byKernel.set(k.name, e);
    }
    return [...byKernel].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms);
  } finally {
    await runner.dispose();
  }
}
