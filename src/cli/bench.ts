/**
 * `batchfree bench`: how fast batchfree trains on this CPU, and whether it leaks. Three sections (`--only`):
 * - `train`: images/s of a training step at batch 64 for the reference network (BN+ReLU, GN+ReLU, FRN+TLU, LN+PN)
 *   and ResNetV2-20, on stock TF.js `cpu`, batchfree on one thread (wasm + kernels) and on two workers, with the
 *   PyTorch peer when `--torch` finds it, and the ratios;
 * - `ops`: each normalization's forward and forward+backward at 64×32×32×64, fused vs composite, against the
 *   memory floor and PyTorch;
 * - `memory`: live tensors and RSS over N training steps.
 * Prints tables and writes everything to a JSON file (`--out`). Node-only (worker threads, child processes).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { NORM_NAMES, type NormName } from '../layers/factory.js';
import { benchMemory, type MemoryBenchResult } from '../bench/memory.js';
import { BENCH_MODELS, type BenchModel } from '../bench/nets.js';
import { BENCH_OPS, benchOps, OP_SHAPE, OPS_WARMUP_CALLS, type OpsBenchResult } from '../bench/ops.js';
import { PEERS_TRAIN_MS } from '../bench/peers.js';
import { memoryTable, opPeerFigures, opsTable, threadTable, trainTable } from '../bench/report.js';
import { machineInfo } from '../bench/stats.js';
import { DEFAULT_PYTHON, defaultTorchScript, readTorchResults, runTorchPeer, startTorchTrainSession, type TorchPeer } from '../bench/torch.js';
import { benchTraining, DEFAULT_ENGINES, DEFAULT_WARMUP_MS, DEFAULT_WARMUP_STEPS, ENGINE_PATTERN, profileTrainStep, type TrainBenchResult, type TrainRow, withPeerRows } from '../bench/train.js';
import { wholeNumber, wholeNumberList } from './parse.js';
import type { CliIO } from './program.js';
import { VERSION } from './version.js';

/** The sections of `batchfree bench`, in run order. */
export const BENCH_SECTIONS = ['train', 'ops', 'memory'] as const;
/** One of {@link BENCH_SECTIONS}. */
export type BenchSection = typeof BENCH_SECTIONS[number];

/** A comma-separated list whose items all pass `ok`. */
function listOf(what: string, ok: (item: string) => boolean): (value: string) => string[] {
  return (value) => {
    const items = value.split(',').map((s) => s.trim());
    if (items.length === 0 || items.some((i) => i === '' || !ok(i))) throw new InvalidArgumentError(`Expected comma-separated ${what}.`);
    return [...new Set(items)];
  };
}

const sectionList = listOf(`sections among ${BENCH_SECTIONS.join(', ')}`, (s) => (BENCH_SECTIONS as readonly string[]).includes(s));
const normList = listOf(`norms among ${NORM_NAMES.join(', ')}`, (s) => (NORM_NAMES as readonly string[]).includes(s));
const modelList = listOf(`networks among ${BENCH_MODELS.join(', ')}`, (s) => (BENCH_MODELS as readonly string[]).includes(s));
const engineList = listOf('engines among cpu-stock, cpu, wasm-stock, wasm, w<N> (N workers)', (s) => ENGINE_PATTERN.test(s));
const opList = listOf(`op keys among ${BENCH_OPS.map((o) => o.key).join(', ')}`, (s) => BENCH_OPS.some((o) => o.key === s));
const backendList = listOf('backends among wasm, cpu', (s) => s === 'wasm' || s === 'cpu');

function shapeOf(value: string): number[] {
  const v = wholeNumberList(value);
  if (v.length !== 4) throw new InvalidArgumentError('Expected 4 comma-separated whole numbers B,H,W,C.');
  return v;
}

/** The parsed options (those depending on `--quick` resolved). */
interface BenchSettings {
  only: BenchSection[];
  quick: boolean;
  out: string;
  batch: number;
  models: BenchModel[];
  norms: NormName[];
  resnetNorms: NormName[];
  engines: string[];
  steps: number;
  rounds: number;
  warmup: number;
  warmupS: number;
  stockSteps: number;
  stockBudgetS: number;
  profile: boolean;
  torch: boolean;
  torchScript: string;
  torchResults?: string;
  python: string;
  ops: string[];
  opBackends: Array<'wasm' | 'cpu'>;
  opShape: number[];
  iters: number;
  cpuIters: number;
  memorySteps: number;
  memoryNorm: NormName;
}

function settingsOf(o: Record<string, unknown>): BenchSettings {
  const quick = o.quick === true;
  const pick = <T>(key: string, full: T, short: T): T => (o[key] as T | undefined) ?? (quick ? short : full);
  return {
    only: o.only as BenchSection[], quick, out: String(o.out), batch: o.batch as number,
    models: o.models as BenchModel[], norms: o.norms as NormName[], resnetNorms: o.resnetNorms as NormName[], engines: o.engines as string[],
    steps: pick('steps', 20, 4), rounds: pick('rounds', 4, 2), warmup: pick('warmup', DEFAULT_WARMUP_STEPS, 5), warmupS: pick('warmupS', DEFAULT_WARMUP_MS / 1000, 0), stockSteps: o.stockSteps as number,
    stockBudgetS: o.stockBudgetS as number, profile: o.profile === true,
    torch: o.torch === true || typeof o.torchResults === 'string', torchScript: (o.torchScript as string | undefined) ?? defaultTorchScript(),
    torchResults: o.torchResults as string | undefined, python: String(o.python),
    ops: o.ops as string[], opBackends: o.opBackends as Array<'wasm' | 'cpu'>, opShape: o.opShape as number[],
    iters: pick('iters', 15, 3), cpuIters: pick('cpuIters', 3, 1), memorySteps: pick('memorySteps', 500, 50), memoryNorm: o.memoryNorm as NormName,
  };
}

/** What `batchfree bench` writes to `--out`. */
export interface BenchReport {
  command: 'batchfree bench';
  version: string;
  date: string;
  settings: BenchSettings;
  machine: ReturnType<typeof machineInfo>;
  /** 1, 5, 15-minute load averages at the end. */
  loadAverageEnd: number[];
  sections: BenchSection[];
  /** The PyTorch peer: measured, unavailable or failed (with the reason), or not asked for. */
  torch: TorchPeer | { status: 'not run'; reason: string };
  train?: TrainBenchResult & { profile?: Record<string, Array<{ kernel: string; ms: number; calls: number }>> };
  ops?: OpsBenchResult & { pytorch: { source: string; figures: Record<string, { fwd: number; fwdBwd: number }> } };
  memory?: MemoryBenchResult;
}

/** Builds the `bench` subcommand. */
export function benchCommand(io: CliIO): Command {
  return new Command('bench')
    .description('Measure training speed (stock TF.js cpu vs batchfree on 1 thread and 2 workers vs PyTorch), per-op speed of the normalizations, and memory over many steps; prints tables and writes JSON.')
    .addOption(new Option('--only <sections>', `sections to run, comma-separated among ${BENCH_SECTIONS.join(', ')}`).argParser(sectionList).default([...BENCH_SECTIONS], BENCH_SECTIONS.join(',')))
    .addOption(new Option('--quick', 'a short smoke run: fewer steps and calls, slow engines for the first network only, PyTorch --quick'))
    .addOption(new Option('--out <file>', 'JSON results').default('.bench/bench.json'))
    // train
    .addOption(new Option('--batch <n>', 'train, memory: images per step').argParser(wholeNumber(2)).default(64))
    .addOption(new Option('--models <list>', `train: networks among ${BENCH_MODELS.join(', ')}`).argParser(modelList).default([...BENCH_MODELS], BENCH_MODELS.join(',')))
    .addOption(new Option('--norms <list>', 'train: norm+activation names of the reference network').argParser(normList).default(['bn', 'gn', 'frn', 'ln+pn'], 'bn,gn,frn,ln+pn'))
    .addOption(new Option('--resnet-norms <list>', 'train: norm+activation names of ResNetV2-20').argParser(normList).default(['frn'], 'frn'))
    .addOption(new Option('--engines <list>', "train: 'cpu-stock' (TF.js cpu, its own kernels), 'cpu' (+ batchfree kernels), 'wasm-stock', 'wasm' (batchfree, 1 thread), 'w<N>' (batchfree on N workers)").argParser(engineList).default([...DEFAULT_ENGINES], DEFAULT_ENGINES.join(',')))
    .addOption(new Option('--steps <n>', 'train: timed steps of wasm and the worker engines (default 20; --quick 4)').argParser(wholeNumber(1)))
    .addOption(new Option('--rounds <n>', 'train: interleaved rounds the steps are spread over (default 4; --quick 2)').argParser(wholeNumber(1)))
    .addOption(new Option('--warmup <n>', `train: untimed steps of wasm and the worker engines first, at least (default ${DEFAULT_WARMUP_STEPS}; --quick 5)`).argParser(wholeNumber(0)))
    .addOption(new Option('--warmup-s <s>', `train: ... and for at least this many seconds, until V8 has compiled the per-step code (default ${DEFAULT_WARMUP_MS / 1000}; --quick 0)`).argParser(wholeNumber(0)))
    .addOption(new Option('--stock-steps <n>', 'train: timed steps of cpu-stock, cpu and wasm-stock (cpu-stock at batch 64: ~20 s per reference-net step, ~6 min per ResNetV2-20 step)').argParser(wholeNumber(1)).default(1))
    .addOption(new Option('--stock-budget-s <s>', 'train: stop the steps of cpu-stock, cpu and wasm-stock after this many seconds (after one step at least)').argParser(wholeNumber(1)).default(120))
    .addOption(new Option('--profile', 'train: per-kernel times of one reference-net step on wasm for each norm'))
    .addOption(new Option('--torch', `train, ops: run the PyTorch peer (${DEFAULT_PYTHON} with torch; its --quick with --quick) and compare side by side`))
    .addOption(new Option('--torch-script <path>', 'the PyTorch peer script (default: ../shared/bench/torch_peer.py from the repository root)'))
    .addOption(new Option('--torch-results <file>', "read the peer's results.json from an earlier run instead of running it (implies --torch)"))
    .addOption(new Option('--python <path>', 'Python with torch').default(DEFAULT_PYTHON))
    // ops
    .addOption(new Option('--ops <list>', `ops: op keys among ${BENCH_OPS.map((o) => o.key).join(', ')}`).argParser(opList).default(BENCH_OPS.map((o) => o.key), 'all'))
    .addOption(new Option('--op-backends <list>', 'ops: backends among wasm, cpu').argParser(backendList).default(['wasm'], 'wasm'))
    .addOption(new Option('--op-shape <B,H,W,C>', 'ops: NHWC shape of x (PyTorch figures only at the default)').argParser(shapeOf).default([...OP_SHAPE], OP_SHAPE.join(',')))
    .addOption(new Option('--iters <n>', 'ops: timed calls per measurement on wasm (default 15; --quick 3)').argParser(wholeNumber(1)))
    .addOption(new Option('--cpu-iters <n>', 'ops: timed calls per measurement on cpu (default 3; --quick 1)').argParser(wholeNumber(1)))
    // memory
    .addOption(new Option('--memory-steps <n>', 'memory: training steps (default 500; --quick 50)').argParser(wholeNumber(2)))
    .addOption(new Option('--memory-norm <name>', 'memory: norm+activation of the reference network').choices(NORM_NAMES).default('frn'))
    .addHelpText('after', [
      '',
      'Examples:',
      '  batchfree bench                                  # everything (long: cpu-stock steps take ~20 s on the reference net, ~6 min on ResNetV2-20)',
      '  batchfree bench --quick --torch                  # smoke run, with the PyTorch peer',
      '  batchfree bench --only ops --ops frn_tlu,gn32',
      '  batchfree bench --only train --models reference --norms frn --engines wasm,w1,w2',
      '',
      'The machine may be shared: figures are medians, the engines interleaved; compare ratios taken in one run.',
    ].join('\n'))
    .action(async (opts: Record<string, unknown>) => {
      const report = await runBench(settingsOf(opts), io);
      mkdirSync(dirname(report.settings.out), { recursive: true });
      writeFileSync(report.settings.out, `${JSON.stringify(report, null, 1)}\n`);
      io.out(`wrote ${report.settings.out}\n`);
    });
}

/** Runs the sections of `s`, printing progress to `io.err` and tables to `io.out`. */
async function runBench(s: BenchSettings, io: CliIO): Promise<BenchReport> {
  const log = (line: string): void => io.err(`${line}\n`);
  const machine = machineInfo();
  io.out(`batchfree bench: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, TF.js ${machine.tfjs}, ` +
    `load average ${machine.loadAverage.map((l) => l.toFixed(1)).join(' ')}${machine.loadAverage[0] > 1 ? ' (busy: figures are noisy)' : ''}\n`);
  const sections = BENCH_SECTIONS.filter((x) => s.only.includes(x));
  const report: BenchReport = {
    command: 'batchfree bench', version: VERSION, date: new Date().toISOString(), settings: s, machine, loadAverageEnd: [], sections,
    torch: { status: 'not run', reason: 'PyTorch not run (add --torch)' },
  };

  let torch: TorchPeer | undefined;
  if (s.torch && (sections.includes('train') || sections.includes('ops'))) {
    if (s.torchResults !== undefined) {
      torch = readTorchResults(s.torchResults);
    } else {
      log(`torch: running ${s.torchScript}${s.quick ? ' --quick' : ''} (it waits for a quiet machine unless --quick)...`);
      torch = await runTorchPeer({ python: s.python, script: s.torchScript, outDir: join(dirname(s.out), 'torch'), quick: s.quick, log: (l) => log(`  torch: ${l}`) });
    }
    report.torch = torch;
  }
  const torchNote = torch === undefined ? 'PyTorch not run (add --torch)'
    : torch.status === 'unavailable' ? `PyTorch not available: ${torch.reason}` : `PyTorch failed: ${torch.reason}`;

  if (sections.includes('train')) {
    // A live peer's steps are timed in the same interleaved rounds as batchfree's (the machine's speed drifts).
    const session = torch?.status === 'measured' && s.torchResults === undefined
      ? await startTorchTrainSession({ python: s.python, script: s.torchScript }, (why) => log(`  PyTorch (interleaved): ${why}`))
      : undefined;
    let result: TrainBenchResult;
    try {
      result = await benchTraining({
        models: s.models, norms: s.norms, resnetNorms: s.resnetNorms, engines: s.engines, batch: s.batch, steps: s.steps, rounds: s.rounds,
        warmup: s.warmup, warmupMs: s.warmupS * 1000, stockSteps: s.stockSteps, stockBudgetMs: s.stockBudgetS * 1000, stockFirstOnly: s.quick, log,
        peer: session,
      });
    } finally {
      await session?.close();
    }
    const rows: TrainRow[] = withPeerRows(result.rows, torch, torchNote);
    report.train = { ...result, rows };
    io.out(`\n${trainTable(rows, s.batch)}`);
    const threads = threadTable(rows);
    if (threads !== '') io.out(`\n${threads}`);
    if (torch?.status !== 'measured') {
      const peers = Object.entries(PEERS_TRAIN_MS).map(([n, t]) => `${n} ${t[1]} / ${t[2]} ms`).join(', ');
      io.out(`(${torchNote}. For orientation only, PEERS.md's PyTorch 1.13 reference net at 1 / 2 threads: ${peers}; stock TF.js cpu BN+ReLU 18,700 ms.)\n`);
    }
    const loads = result.loadAverages;
    if (loads.length > 0) io.out(`1-minute load average during the section: ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} (${machine.cores} cores)\n`);
    if (s.profile) {
      report.train.profile = {};
      for (const norm of s.norms) {
        log(`train: profiling one ${norm} step on wasm...`);
        const kernels = await profileTrainStep(norm, s.batch);
        report.train.profile[norm] = kernels;
        io.out(`\nKernels of one reference-net ${norm} step on wasm + batchfree kernels (ms, calls):\n`);
        for (const k of kernels.slice(0, 12)) io.out(`  ${k.kernel.padEnd(28)} ${k.ms.toFixed(2).padStart(8)} ${String(k.calls).padStart(5)}\n`);
      }
    }
  }

  if (sections.includes('ops')) {
    const result = await benchOps({
      shape: s.opShape, ops: s.ops, backends: s.opBackends, iters: s.iters, cpuIters: s.cpuIters,
      warmup: s.quick ? 1 : OPS_WARMUP_CALLS, bandwidthMiB: s.quick ? 64 : 256, log,
    });
    const pytorch = opPeerFigures(result, torch);
    report.ops = { ...result, pytorch };
    io.out(`\n${opsTable(result, pytorch)}`);
  }

  if (sections.includes('memory')) {
    const result = await benchMemory({ steps: s.memorySteps, norm: s.memoryNorm, batch: s.batch, log });
    report.memory = result;
    io.out(`\n${memoryTable(result)}`);
  }
  report.loadAverageEnd = loadavg();
  return report;
}
