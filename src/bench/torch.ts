/**
 * The PyTorch peer of `batchfree bench --torch`: runs the project's `torch_peer.py` (the reference network's
 * training step with BN+ReLU, GN(8)+ReLU and FRN+TLU on 1 and 2 threads, and the per-op table at 64×64×32×32) with
 * the system Python, and reads its `results.json`; and measures the peer's training step of one network on its
 * own ({@link measureTorchTrain}), so that the training benchmark can time PyTorch right before and after
 * batchfree on the same network (this machine's speed drifts by tens of percent over minutes).
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorLine } from './stats.js';

/** The Python that has Debian's `python3-torch` (not a pyenv or venv one). */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** The reference network's norm names of `batchfree bench` → the peer script's network kinds. */
export const TORCH_TRAIN_KINDS: Readonly<Record<string, string>> = { bn: 'bn_relu', gn: 'gn_relu', frn: 'frn_tlu' };

/** The peer script's op names → `benchOps`' op keys. */
export const TORCH_OP_KEYS: Readonly<Record<string, string>> = {
  'BatchNorm2d (train)': 'bn',
  'GroupNorm(32)': 'gn32',
  'LayerNorm(C,H,W)': 'ln',
  InstanceNorm2d: 'in',
  'FRN+TLU (plain ops)': 'frn_tlu',
  'ReLU (reference)': 'relu',
};

/** What the PyTorch peer gave (or why it gave nothing). */
export interface TorchPeer {
  /** `'measured'`: results read; `'unavailable'`: Python or torch missing; `'failed'`: the script failed. */
  status: 'measured' | 'unavailable' | 'failed';
  /** Why not measured. */
  reason?: string;
  /** The results file read. */
  resultsFile?: string;
  /** torch version the script reported. */
  version?: string;
  /** Training step of the reference network: by our norm name (`bn`, `gn`, `frn`), by thread count. */
  train: Record<string, Record<string, { msPerStep: number; imagesPerSecond: number }>>;
  /** Per-op ms per call: by thread count, by op key (`bn`, `gn32`, `ln`, `in`, `frn_tlu`, `relu`). */
  ops: Record<string, Record<string, { fwd: number; fwdBwd: number }>>;
}

/** The directory holding batchfree's `package.json`, searched upwards from this module (src/ or dist/src/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'batchfree') return dir;
      } catch {
        // not ours: keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** The peer script's default location: `../shared/bench/torch_peer.py` relative to the repository root. */
export function defaultTorchScript(): string {
  return resolve(repoRoot(), '..', 'shared', 'bench', 'torch_peer.py');
}

/** Whether `python` can import torch; the reason when not. */
export function torchAvailable(python = DEFAULT_PYTHON): { ok: boolean; reason?: string } {
  if (!existsSync(python)) return { ok: false, reason: `${python} not found` };
  const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
  if (r.error !== undefined) return { ok: false, reason: errorLine(r.error) };
  if (r.status !== 0) return { ok: false, reason: `${python} cannot import torch (${(r.stderr ?? '').trim().split('\n').pop() ?? `exit ${r.status}`})` };
  return { ok: true };
}

/** Options of {@link runTorchPeer}. */
export interface TorchPeerOptions {
  /** Python to run; default {@link DEFAULT_PYTHON}. */
  python?: string;
  /** The peer script; default {@link defaultTorchScript}. */
  script?: string;
  /** Where the script writes `results.json` and `results.md`. */
  outDir: string;
  /** `--quick` (fewer repetitions) and `--no-wait` (do not wait for a quiet machine). */
  quick?: boolean;
  /** Each line the script prints. */
  log?: (line: string) => void;
}

/**
 * Runs the peer script (threads 1 and 2, no bandwidth section) and reads its results; never throws: a missing
 * Python, torch or script gives status `'unavailable'`, a failing script `'failed'`.
 */
export async function runTorchPeer(options: TorchPeerOptions): Promise<TorchPeer> {
  const python = options.python ?? DEFAULT_PYTHON;
  const script = options.script ?? defaultTorchScript();
  const none = (status: TorchPeer['status'], reason: string): TorchPeer => ({ status, reason, train: {}, ops: {} });
  const available = torchAvailable(python);
  if (!available.ok) return none('unavailable', available.reason ?? 'torch cannot be imported');
  if (!existsSync(script)) return none('unavailable', `peer script ${script} not found (--torch-script)`);
  const args = [script, '--out-dir', options.outDir, '--threads', '1,2', '--no-bw', ...(options.quick === true ? ['--quick', '--no-wait'] : [])];
  const r = await runPython(python, args, options.log);
  const code = r.error !== undefined ? errorLine(r.error) : r.status ?? 'killed';
  if (code !== 0) return none('failed', `${script} exited with ${code}`);
  return readTorchResults(join(options.outDir, 'results.json'));
}

/** What {@link runPython} saw: the exit status (null when killed or not started), the output, a start error. */
interface PythonRun {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/**
 * Runs `python args` and collects its output; each non-empty line of stdout and stderr also goes to `onLine` as it
 * arrives. Never rejects (a failure to start is `error`).
 */
function runPython(python: string, args: readonly string[], onLine?: (line: string) => void): Promise<PythonRun> {
  return new Promise((done) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const tails = { stdout: '', stderr: '' };
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      out[stream] += text;
      if (onLine === undefined) return;
      const lines = (tails[stream] + text).split('\n');
      tails[stream] = lines.pop() ?? '';
      for (const l of lines) if (l.trim() !== '') onLine(l);
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    child.on('error', (error) => done({ status: null, ...out, error }));
    child.on('close', (status) => {
      for (const t of [tails.stdout, tails.stderr]) if (t.trim() !== '') onLine?.(t);
      done({ status, ...out });
    });
  });
}

/** Reads a peer script's `results.json` (never throws: an unreadable file gives status `'failed'`). */
export function readTorchResults(file: string): TorchPeer {
  let raw: {
    env?: { torch?: string };
    train?: Record<string, Record<string, { ms_per_step?: number; images_per_s?: number }>>;
    ops?: Record<string, Record<string, { fwd_ms?: number; fwdbwd_ms?: number }>>;
  };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return { status: 'failed', reason: `cannot read ${file}: ${errorLine(e)}`, resultsFile: file, train: {}, ops: {} };
  }
  const peer: TorchPeer = { status: 'measured', resultsFile: file, version: raw.env?.torch, train: {}, ops: {} };
  for (const [norm, kind] of Object.entries(TORCH_TRAIN_KINDS)) {
    for (const [threads, r] of Object.entries(raw.train?.[kind] ?? {})) {
      if (typeof r.ms_per_step !== 'number') continue;
      (peer.train[norm] ??= {})[threads] = { msPerStep: r.ms_per_step, imagesPerSecond: r.images_per_s ?? 64_000 / r.ms_per_step };
    }
  }
  for (const [threads, ops] of Object.entries(raw.ops ?? {})) {
    for (const [name, r] of Object.entries(ops)) {
      const key = TORCH_OP_KEYS[name];
      if (key === undefined || typeof r.fwd_ms !== 'number' || typeof r.fwdbwd_ms !== 'number') continue;
      (peer.ops[threads] ??= {})[key] = { fwd: r.fwd_ms, fwdBwd: r.fwdbwd_ms };
    }
  }
  return peer;
}

/** The peer's training step of one network, by thread count (`'1'`, `'2'`). */
export type TorchTrainFigures = Record<string, { msPerStep: number; imagesPerSecond: number }>;

/** Options of {@link measureTorchTrain}. */
export interface TorchTrainOptions {
  python?: string;
  script?: string;
  /** Thread counts; default 1 and 2. */
  threads?: readonly number[];
  /** Do not wait for a quiet machine (the peer's `--no-wait`). */
  noWait?: boolean;
}

/**
 * The peer script's training step of the reference network with `norm` (`bn`, `gn`, `frn`; see
 * {@link TORCH_TRAIN_KINDS}) on each thread count: its own `bench_train` (5 warm-up and 30 timed steps, median),
 * called from a short Python program that imports the script. Never throws: `undefined` when the peer has no such
 * network or cannot run (`onError` gets the reason).
 */
export async function measureTorchTrain(norm: string, options: TorchTrainOptions = {}, onError?: (reason: string) => void): Promise<TorchTrainFigures | undefined> {
  const kind = TORCH_TRAIN_KINDS[norm];
  if (kind === undefined) return undefined;
  const python = options.python ?? DEFAULT_PYTHON;
  const script = options.script ?? defaultTorchScript();
  if (!existsSync(script)) {
    onError?.(`peer script ${script} not found`);
    return undefined;
  }
  const threads = options.threads ?? [1, 2];
  const program = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(dirname(script))})`,
    'import importlib',
    `peer = importlib.import_module(${JSON.stringify(basename(script, '.py'))})`,
    ...(options.noWait === true ? ['peer.QUIET["enabled"] = False'] : []),
    'out = {}',
    `for t in ${JSON.stringify(threads)}:`,
    `    r = peer.bench_train(${JSON.stringify(kind)}, t)`,
    '    out[str(t)] = {"ms": r["ms_per_step"], "ips": r["images_per_s"]}',
    'print("BATCHFREE " + json.dumps(out))',
  ].join('\n');
  const r = await runPython(python, ['-c', program]);
  const line = r.stdout.split('\n').find((l) => l.startsWith('BATCHFREE '));
  if (r.status !== 0 || line === undefined) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    onError?.(r.error !== undefined ? errorLine(r.error) : r.status !== 0 ? `${python} exited with ${r.status}: ${last}` : `${python} printed no figures for ${kind}`);
    return undefined;
  }
  const raw = JSON.parse(line.slice('BATCHFREE '.length)) as Record<string, { ms: number; ips: number }>;
  return Object.fromEntries(Object.entries(raw).map(([t, v]) => [t, { msPerStep: v.ms, imagesPerSecond: v.ips }]));
}
