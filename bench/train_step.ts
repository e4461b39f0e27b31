/**
 * Training-step speed of the PEERS.md reference network (bench/reference_net.ts), batch 64, 28x28x1, plain SGD,
 * with BN+ReLU and FRN+TLU, on: the stock `cpu` backend (a few steps: ~18 s each), `cpu` with batchfree's
 * kernels (at most 5 steps), the stock `wasm` backend (expected to fail: no `Conv2DBackpropFilter`), and `wasm` with batchfree's
 * kernels. Prints a table (median wall ms/step, median process CPU ms/step, images/s) and writes
 * `.bench/train_step.json`.
 *
 *   npx tsx bench/train_step.ts [--steps 30] [--cpu-steps 2] [--cpu-budget-s 90] [--only wasm] [--profile]
 *
 * `--profile` adds the per-kernel time of one step on wasm + batchfree kernels. The machine may be shared:
 * the process CPU time is less sensitive to other load than the wall time; both are medians.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { tf } from '../src/engine.js';
import { init } from '../src/init.js';
import { registerFastKernels, restoreStockKernels } from '../src/kernels/register.js';
import { NormAct, referenceNet, syntheticBatch } from './reference_net.js';

interface Config { name: string; backend: 'cpu' | 'wasm'; fast: boolean }
interface Row {
  config: string; normAct: NormAct; steps: number;
  wallMsMedian?: number; cpuMsMedian?: number; imagesPerSecond?: number; firstLoss?: number; lastLoss?: number; error?: string;
}

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const STEPS = Number(opt('steps', '30'));
const CPU_STEPS = Number(opt('cpu-steps', '2'));
const CPU_BUDGET_MS = Number(opt('cpu-budget-s', '90')) * 1000;
const ONLY = opt('only', '');
const PROFILE = args.includes('--profile');
const BATCH = 64;

const ALL_CONFIGS: Config[] = [
  { name: 'cpu (stock)', backend: 'cpu', fast: false },
  { name: 'cpu + batchfree kernels', backend: 'cpu', fast: true },
  { name: 'wasm (stock)', backend: 'wasm', fast: false },
  { name: 'wasm + batchfree kernels', backend: 'wasm', fast: true },
];
const CONFIGS = ALL_CONFIGS.filter((c) => ONLY === '' || c.backend === ONLY);
const NORMS: NormAct[] = ['bn_relu', 'frn_tlu'];

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(config: Config, normAct: NormAct): Promise<Row> {
  await init({ backend: config.backend });
  if (!config.fast) restoreStockKernels(config.backend);
  else registerFastKernels(config.backend);
  const slow = config.backend === 'cpu' && !config.fast;
  const steps = slow ? CPU_STEPS : config.backend === 'cpu' ? Math.min(STEPS, 5) : STEPS;
  const warmup = slow ? 1 : config.backend === 'cpu' ? 1 : 3;
  const { x, labels } = syntheticBatch(BATCH);
  const net = referenceNet(normAct);
  const row: Row = { config: config.name, normAct, steps: 0 };
  try {
    const losses: number[] = [];
    const wall: number[] = [], cpu: number[] = [];
    const start = performance.now();
    for (let i = 0; i < warmup + steps; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      losses.push(net.step(x, labels));
      const t1 = performance.now();
      const c = process.cpuUsage(c0);
      if (i >= warmup) {
        wall.push(t1 - t0);
        cpu.push((c.user + c.system) / 1000);
      }
      if (slow && performance.now() - start > CPU_BUDGET_MS && wall.length > 0) break;
    }
    row.steps = wall.length;
    row.wallMsMedian = median(wall);
    row.cpuMsMedian = median(cpu);
    row.imagesPerSecond = BATCH / (row.wallMsMedian / 1000);
    row.firstLoss = losses[0];
    row.lastLoss = losses[losses.length - 1];
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0].slice(0, 160);
  } finally {
    net.dispose();
    tf.dispose([x, labels]);
  }
  return row;
}

async function profile(normAct: NormAct): Promise<Array<{ kernel: string; ms: number; calls: number }>> {
  await init({ backend: 'wasm' });
  registerFastKernels('wasm');
  const { x, labels } = syntheticBatch(BATCH);
  const net = referenceNet(normAct);
  for (let i = 0; i < 3; i++) net.step(x, labels);
  const info = await tf.profile(() => { net.step(x, labels); });
  net.dispose();
  tf.dispose([x, labels]);
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.calls++;
    byKernel.set(k.name, e);
  }
  return [...byKernel].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms);
}

const rows: Row[] = [];
const loadBefore = loadavg();
for (const normAct of NORMS) {
  for (const config of CONFIGS) {
    const row = await measure(config, normAct);
    rows.push(row);
    const figures = row.error !== undefined ? `fails: ${row.error}` :
      `${row.wallMsMedian?.toFixed(1)} ms/step wall, ${row.cpuMsMedian?.toFixed(1)} ms CPU, ${row.imagesPerSecond?.toFixed(0)} img/s (${row.steps} steps)`;
    console.log(`${normAct.padEnd(8)} ${config.name.padEnd(26)} ${figures}`);
  }
}
const loadAfter = loadavg();

/** PyTorch 1.13 CPU, one thread, same network (PEERS.md), ms/step. */
const PYTORCH_1_THREAD_MS: Record<NormAct, number> = { bn_relu: 13.5, frn_tlu: 32.9 };
const stock = (n: NormAct) => rows.find((r) => r.normAct === n && r.config === 'cpu (stock)');
console.log('\n| NORM+ACT | engine | ms/step (wall, median) | CPU ms/step (median) | images/s | vs stock cpu | vs PyTorch 1 thread | steps |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const base = stock(r.normAct)?.wallMsMedian;
  const speedup = base !== undefined && r.wallMsMedian !== undefined ? `${(base / r.wallMsMedian).toFixed(0)}x` : '-';
  const torch = r.wallMsMedian !== undefined ? `${(PYTORCH_1_THREAD_MS[r.normAct] / r.wallMsMedian).toFixed(2)}x` : '-';
  if (r.error !== undefined) console.log(`| ${r.normAct} | ${r.config} | fails: ${r.error} | | | | | |`);
  else console.log(`| ${r.normAct} | ${r.config} | ${r.wallMsMedian?.toFixed(1)} | ${r.cpuMsMedian?.toFixed(1)} | ${r.imagesPerSecond?.toFixed(0)} | ${speedup} | ${torch} | ${r.steps} |`);
}
console.log(`\nload average before ${loadBefore.map((l) => l.toFixed(1)).join('/')}, after ${loadAfter.map((l) => l.toFixed(1)).join('/')} (${cpus().length} cores): figures are noisy when it exceeds 1.`);

const profiles: Record<string, unknown> = {};
if (PROFILE) {
  for (const normAct of NORMS) {
    const p = await profile(normAct);
    profiles[normAct] = p;
    console.log(`\nkernels of one ${normAct} step, wasm + batchfree kernels (ms, calls):`);
    for (const k of p.slice(0, 15)) console.log(`  ${k.kernel.padEnd(26)} ${k.ms.toFixed(2).padStart(8)} ${String(k.calls).padStart(4)}`);
  }
}

mkdirSync('.bench', { recursive: true });
writeFileSync('.bench/train_step.json', JSON.stringify({
  date: new Date().toISOString(), node: process.version, tfjs: tf.version_core, cores: cpus().length, cpuModel: cpus()[0]?.model,
  batch: BATCH, loadBefore, loadAfter, pytorch1ThreadMs: PYTORCH_1_THREAD_MS, rows, profiles,
}, null, 2));
console.log('wrote .bench/train_step.json');
