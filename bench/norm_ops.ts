/**
 * Per-op speed of the normalizations at x = 64×32×32×64 float32 (16 MiB), forward and forward+backward, the
 * composite path (TF.js elementwise ops) against the fused kernels (src/kernels/fused), on `wasm` and `cpu`
 * (both with batchfree's other kernels installed by `init`), next to
 * - the memory floor: a forward+backward moves at least 5 × 16 MiB (read x, write y; read x and dy, write dx),
 *   timed here with the copy bandwidth of this machine (`Float32Array.prototype.set` on 256 MiB, read + write
 *   counted, as PEERS.md);
 * - PyTorch 1.13's figures on one thread from PEERS.md (measured on this kind of machine, not in this run).
 *
 * Prints a table (median wall ms and median process-CPU ms per call) and writes `.bench/norm_ops.json`.
 *
 *   npx tsx bench/norm_ops.ts [--iters 15] [--cpu-iters 3] [--only wasm|cpu] [--ops frn_tlu,gn32,...]
 *
 * Forward+backward is `tf.grads(op)([x, ...params], dy)` with a given `dy` (no extra loss ops), gradients for x
 * and every parameter. The machine may be shared: compare ratios taken in the same run; process CPU time is the
 * less noisy figure.
 */
import '@tensorflow/tfjs-backend-wasm';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { tf } from '../src/engine.js';
import { init } from '../src/init.js';
import { fusedConfig } from '../src/kernels/fused/index.js';
import { filterResponseNorm, filterResponseNormTlu, tlu } from '../src/ops/filter_response_norm.js';
import { groupNorm, instanceNorm, layerNorm } from '../src/ops/group_norm.js';
import { batchNormTraining } from '../src/ops/batch_norm.js';
import { proxyNormActivation } from '../src/ops/proxy_norm.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const ITERS = Number(opt('iters', '15'));
const CPU_ITERS = Number(opt('cpu-iters', '3'));
const ONLY = opt('only', '');
const OPS_FILTER = opt('ops', '').split(',').filter((s) => s !== '');
const SHAPE = [64, 32, 32, 64];
const C = SHAPE[3];
const BYTES = SHAPE.reduce((a, b) => a * b, 1) * 4;

/** PyTorch 1.13, one thread, ms per call at this shape (PEERS.md). */
const PYTORCH_1T: Record<string, { fwd: number; fwdBwd: number }> = {
  frn_tlu: { fwd: 7.18, fwdBwd: 115.97 },
  gn32: { fwd: 1.85, fwdBwd: 11.57 },
  ln: { fwd: 2.03, fwdBwd: 13.48 },
  in: { fwd: 5.48, fwdBwd: 10.18 },
  bn: { fwd: 5.42, fwdBwd: 12.34 },
  relu: { fwd: 1.16, fwdBwd: 3.41 },
};

/** An op on `x` and its parameters `p` (all differentiated in the backward timing). */
interface OpDef { key: string; label: string; params: number; run: (x: tf.Tensor, p: tf.Tensor[]) => tf.Tensor; fused: boolean }
const t1 = (t: tf.Tensor) => t as tf.Tensor1D;
const OPS: OpDef[] = [
  { key: 'frn_tlu', label: 'FRN + TLU', params: 3, fused: true,
    run: (x, [g, b, t]) => (fusedConfig.enabled
      ? filterResponseNormTlu(x, { gamma: t1(g), beta: t1(b), tau: t1(t) })
      : tlu(filterResponseNorm(x, { gamma: t1(g), beta: t1(b) }), t)) },
  { key: 'gn32', label: 'GroupNorm(32)', params: 2, fused: true, run: (x, [g, b]) => groupNorm(x, { groups: 32, gamma: g, beta: b }) },
  { key: 'ln', label: 'LayerNorm (H,W,C)', params: 2, fused: true, run: (x, [g, b]) => layerNorm(x, { gamma: g, beta: b }) },
  { key: 'in', label: 'InstanceNorm', params: 2, fused: true, run: (x, [g, b]) => instanceNorm(x, { gamma: g, beta: b }) },
  { key: 'bn', label: 'BatchNorm (training)', params: 2, fused: true, run: (x, [g, b]) => batchNormTraining(x, { gamma: g, beta: b }).y },
  { key: 'pn_relu', label: 'proxy-norm act. relu', params: 4, fused: true,
    run: (x, [g, b, bt, gt]) => proxyNormActivation(x, { activation: 'relu', gamma: t1(g), beta: t1(b), betaTilde: t1(bt), gammaTilde: t1(gt) }) },
  { key: 'pn_swish', label: 'proxy-norm act. swish', params: 4, fused: true,
    run: (x, [g, b, bt, gt]) => proxyNormActivation(x, { activation: 'swish', gamma: t1(g), beta: t1(b), betaTilde: t1(bt), gammaTilde: t1(gt) }) },
  { key: 'pn_gelu', label: 'proxy-norm act. gelu', params: 4, fused: true,
    run: (x, [g, b, bt, gt]) => proxyNormActivation(x, { activation: 'gelu', gamma: t1(g), beta: t1(b), betaTilde: t1(bt), gammaTilde: t1(gt) }) },
  { key: 'relu', label: 'ReLU (reference)', params: 0, fused: false, run: (x) => tf.relu(x) },
];

interface Timing { wallMs: number; cpuMs: number; minWallMs: number }
interface Row {
  op: string; label: string; backend: string; path: 'composite' | 'fused' | 'stock';
  fwd?: Timing; fwdBwd?: Timing; error?: string;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Median wall and process-CPU ms (and the fastest wall time) of `f` over `iters` calls after `warmup` calls
 * (the warm-up also lets V8 replace the baseline code of the WebAssembly loops by optimised code).
 */
function time(f: () => void, iters: number, warmup = 5): Timing {
  for (let i = 0; i < warmup; i++) f();
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < iters; i++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    f();
    wall.push(performance.now() - w0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu), minWallMs: Math.min(...wall) };
}

/** Copy bandwidth (bytes/s, read + write counted) of `Float32Array.prototype.set` on 256 MiB. */
function copyBandwidth(): { bytesPerSecond: number; ms: number } {
  const n = (256 * 2 ** 20) / 4;
  const src = new Float32Array(n).fill(1), dst = new Float32Array(n);
  const t = time(() => dst.set(src), 5, 2);
  return { bytesPerSecond: (2 * n * 4) / (t.wallMs / 1000), ms: t.wallMs };
}

function measure(backend: string, op: OpDef, path: Row['path'], iters: number): Row {
  fusedConfig.enabled = path === 'fused';
  const row: Row = { op: op.key, label: op.label, backend, path };
  const x = tf.randomNormal(SHAPE);
  const dy = tf.randomNormal(SHAPE);
  const params = Array.from({ length: op.params }, (_, k) => (k === 0 ? tf.ones([C]) : tf.zeros([C])));
  try {
    row.fwd = time(() => tf.tidy(() => op.run(x, params)).dispose(), iters);
    const grads = tf.grads((...t: tf.Tensor[]) => op.run(t[0], t.slice(1)));
    row.fwdBwd = time(() => tf.dispose(grads([x, ...params], dy)), iters);
  } catch (e) {
    row.error = (e as Error).message;
  } finally {
    tf.dispose([x, dy, ...params]);
    fusedConfig.enabled = true;
  }
  return row;
}

async function main(): Promise<void> {
  const bandwidth = copyBandwidth();
  const floorMs = (5 * BYTES) / bandwidth.bytesPerSecond * 1000;
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`copy bandwidth (Float32Array.set, 256 MiB): ${(bandwidth.bytesPerSecond / 1e9).toFixed(1)} GB/s (read + write); ` +
    `memory floor of fwd+bwd at 16 MiB (5 x 16 MiB): ${floorMs.toFixed(2)} ms`);

  const rows: Row[] = [];
  for (const backend of ['wasm', 'cpu'].filter((b) => ONLY === '' || b === ONLY)) {
    await init({ backend: backend as 'wasm' | 'cpu' });
    const iters = backend === 'cpu' ? CPU_ITERS : ITERS;
    for (const op of OPS.filter((o) => OPS_FILTER.length === 0 || OPS_FILTER.includes(o.key))) {
      const paths: Row['path'][] = op.fused ? ['composite', 'fused'] : ['stock'];
      for (const path of paths) {
        const row = measure(backend, op, path, iters);
        rows.push(row);
        const f = (t?: Timing) => (t === undefined ? '-' : `${t.wallMs.toFixed(2)} (${t.cpuMs.toFixed(2)})`);
        console.error(`  ${backend} ${op.key} ${path}: fwd ${f(row.fwd)} fwd+bwd ${f(row.fwdBwd)}${row.error ? ` ERROR ${row.error}` : ''}`);
      }
    }
  }

  // Table: one line per op and backend.
  const header = ['op', 'backend', 'composite fwd', 'fused fwd', 'composite fwd+bwd', 'fused fwd+bwd', 'speed-up', 'fused / floor', 'PyTorch 1 thr fwd / fwd+bwd'];
  const lines = [header];
  const ms = (t?: Timing) => (t === undefined ? '-' : t.wallMs.toFixed(2));
  for (const backend of [...new Set(rows.map((r) => r.backend))]) {
    for (const op of [...new Set(rows.filter((r) => r.backend === backend).map((r) => r.op))]) {
      const mine = rows.filter((r) => r.backend === backend && r.op === op);
      const comp = mine.find((r) => r.path !== 'fused'), fused = mine.find((r) => r.path === 'fused');
      const torch = PYTORCH_1T[op.replace(/^pn_.*/, '')];
      const best = fused ?? comp;
      lines.push([
        mine[0].label, backend, ms(comp?.fwd), ms(fused?.fwd), ms(comp?.fwdBwd), ms(fused?.fwdBwd),
        comp?.fwdBwd && fused?.fwdBwd ? `${(comp.fwdBwd.wallMs / fused.fwdBwd.wallMs).toFixed(1)}x` : '-',
        best?.fwdBwd ? `${(best.fwdBwd.wallMs / floorMs).toFixed(2)}x` : '-',
        torch === undefined ? '-' : `${torch.fwd} / ${torch.fwdBwd}`,
      ]);
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  console.log('\nms per call, median wall time (64x32x32x64 float32; floor and PyTorch as above):');
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, k) => (k < 2 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }

  mkdirSync('.bench', { recursive: true });
  writeFileSync('.bench/norm_ops.json', JSON.stringify({
    date: new Date().toISOString(), shape: SHAPE, machine: { cores: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
    copyBandwidthBytesPerSecond: bandwidth.bytesPerSecond, memoryFloorMs: floorMs, pytorch1Thread: PYTORCH_1T,
    iters: { wasm: ITERS, cpu: CPU_ITERS }, rows,
  }, null, 2));
  console.log('\nwrote .bench/norm_ops.json');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
