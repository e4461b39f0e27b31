/**
 * The PyTorch peer of `batchfree bench --torch`: runs the project's `torch_peer.py` (the reference network's
 * training step with BN+ReLU, GN(8)+ReLU and FRN+TLU on 1 and 2 threads, and the per-op table at 64×64×32×32) with
 * the system Python, and reads its `results.json`; and keeps a peer process that times single training steps on
 * request ({@link startTorchTrainSession}), so that the training benchmark can interleave PyTorch's steps with
 * batchfree's rounds (this machine's speed drifts by tens of percent over minutes).
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
 * A splitter of a stream's chunks into complete lines: each call returns the lines the chunk completes and keeps
 * the unfinished rest for the next call; `rest()` gives what is left at the end.
 */
function lineSplitter(): { push(text: string): string[]; rest(): string } {
  let tail = '';
  return {
    push(text) {
      const lines = (tail + text).split('\n');
      tail = lines.pop() ?? '';
      return lines;
    },
    rest: () => tail,
  };
}

/**
 * Runs `python args` and collects its output; each non-empty line of stdout and stderr also goes to `onLine` as it
 * arrives. Never rejects (a failure to start is `error`).
 */
function runPython(python: string, args: readonly string[], onLine?: (line: string) => void): Promise<PythonRun> {
  return new Promise((done) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const splitters = { stdout: lineSplitter(), stderr: lineSplitter() };
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      out[stream] += text;
      if (onLine === undefined) return;
      for (const l of splitters[stream].push(text)) if (l.trim() !== '') onLine(l);
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    child.on('error', (error) => done({ status: null, ...out, error }));
    child.on('close', (status) => {
      for (const t of [splitters.stdout.rest(), splitters.stderr.rest()]) if (t.trim() !== '') onLine?.(t);
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

/** Options of {@link startTorchTrainSession}. */
export interface TorchSessionOptions {
  python?: string;
  script?: string;
}

/** One training step the peer timed: its own wall time (around the step only) and the step's loss. */
export interface TorchStep {
  ms: number;
  loss: number;
}

/**
 * A running PyTorch peer that times single training steps of the reference network on request, so that the
 * training benchmark can interleave PyTorch's steps with batchfree's rounds (both then see the same phases of
 * this machine, whose speed drifts by tens of percent within minutes). Between requests the Python process
 * blocks on its input and takes no CPU.
 */
export interface TorchTrainSession {
  /** torch's version. */
  readonly version: string;
  /**
   * One training step of the reference network with `norm` (`bn`, `gn`, `frn`: {@link TORCH_TRAIN_KINDS}) on
   * `threads` threads at batch size `batch`; each (norm, threads, batch) has its own network, optimizer and batch
   * (the peer script's `make_net`, SGD lr 0.01, `randn` images and random labels after seed 0, as its
   * `bench_train`). Rejects when the process failed.
   */
  step(norm: string, threads: number, batch: number): Promise<TorchStep>;
  /** Ends the process. */
  close(): Promise<void>;
}

/** The Python side of {@link TorchTrainSession}: a loop over JSON requests on stdin, one reply line each. */
function sessionProgram(script: string): string {
  return [
    'import json, sys, time',
    `sys.path.insert(0, ${JSON.stringify(dirname(script))})`,
    'import importlib',
    `peer = importlib.import_module(${JSON.stringify(basename(script, '.py'))})`,
    'torch, F = peer.torch, peer.F',
    'nets = {}',
    'print("BATCHFREE " + json.dumps({"ready": torch.__version__}), flush=True)',
    'for line in sys.stdin:',
    '    req = json.loads(line)',
    '    key = (req["kind"], req["threads"], req["batch"])',
    '    if torch.get_num_threads() != req["threads"]:',
    '        torch.set_num_threads(req["threads"])',
    '    if key not in nets:',
    '        torch.manual_seed(0)',
    '        net = peer.make_net(req["kind"]).train()',
    '        nets[key] = (net, torch.optim.SGD(net.parameters(), lr=0.01), torch.randn(req["batch"], 1, 28, 28), torch.randint(0, 10, (req["batch"],)))',
    '    net, opt, x, y = nets[key]',
    '    t0 = time.perf_counter()',
    '    opt.zero_grad(set_to_none=True)',
    '    loss = F.cross_entropy(net(x), y)',
    '    loss.backward()',
    '    opt.step()',
    '    value = loss.item()',
    '    ms = (time.perf_counter() - t0) * 1e3',
    '    print("BATCHFREE " + json.dumps({"ms": ms, "loss": value}), flush=True)',
  ].join('\n');
}

/**
 * Starts a {@link TorchTrainSession} (`python` with the peer script's module importable). Never throws:
 * `undefined` when it cannot start (`onError` gets the reason: no script, Python failing or printing no ready line).
 */
export async function startTorchTrainSession(options: TorchSessionOptions = {}, onError?: (reason: string) => void): Promise<TorchTrainSession | undefined> {
  const python = options.python ?? DEFAULT_PYTHON;
  const script = options.script ?? defaultTorchScript();
  if (!existsSync(script)) {
    onError?.(`peer script ${script} not found`);
    return undefined;
  }
  const child = spawn(python, ['-c', sessionProgram(script)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: Array<{ resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }> = [];
  let stderr = '';
  const stdout = lineSplitter();
  let failure: Error | undefined;
  const fail = (e: Error): void => {
    failure ??= e;
    for (const w of waiting.splice(0)) w.reject(failure);
  };
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  child.stdout.on('data', (chunk: Buffer) => {
    for (const l of stdout.push(chunk.toString('utf8'))) {
      if (!l.startsWith('BATCHFREE ')) continue;
      waiting.shift()?.resolve(JSON.parse(l.slice('BATCHFREE '.length)) as Record<string, unknown>);
    }
  });
  const lastError = (): string => stderr.trim().split('\n').pop() ?? '';
  child.on('error', (e) => fail(new Error(`${python}: ${errorLine(e)}`)));
  child.on('close', (code) => fail(new Error(`the PyTorch peer (${python}) exited with ${code}${lastError() === '' ? '' : `: ${lastError()}`}`)));
  child.stdin.on('error', () => undefined); // a closed pipe: the 'close' handler reports why
  const reply = (): Promise<Record<string, unknown>> => failure !== undefined ? Promise.reject(failure)
    : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  let version: string;
  try {
    version = String((await reply()).ready);
  } catch (e) {
    onError?.(errorLine(e));
    child.kill();
    return undefined;
  }
  return {
    version,
    step: async (norm, threads, batch) => {
      const kind = TORCH_TRAIN_KINDS[norm];
      if (kind === undefined) throw new Error(`the PyTorch peer has no reference network with '${norm}' (it has ${Object.keys(TORCH_TRAIN_KINDS).join(', ')})`);
      const pending = reply();
      if (failure === undefined) child.stdin.write(`${JSON.stringify({ kind, threads, batch })}\n`);
      const r = await pending;
      return { ms: Number(r.ms), loss: Number(r.loss) };
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const closed = new Promise<void>((done) => child.once('close', () => done()));
      child.stdin.end();
      await closed;
    },
  };
}
