/**
 * The tables `batchfree bench` prints from its sections' results.
 * @module
 */
import type { MemoryBenchResult } from './memory.js';
import { OP_SHAPE, type OpsBenchResult } from './ops.js';
import { PEERS_COPY_BANDWIDTH, PEERS_OPS_MS } from './peers.js';
import { fixed, formatTable, times } from './table.js';
import type { TorchPeer } from './torch.js';
import type { TrainRow } from './train.js';

const NETWORK_LABELS: Record<string, string> = { reference: 'reference net', resnet20: 'ResNetV2-20' };
const NORM_LABELS: Record<string, string> = { bn: 'BN+ReLU', gn: 'GN(8)+ReLU', frn: 'FRN+TLU', 'ln+pn': 'LN+PN', 'gn+pn': 'GN+PN' };

/** Images/s: 2 decimals below 1, 1 below 100, none above. */
const rate = (v: number | undefined): string => fixed(v, v === undefined || v >= 100 ? 0 : v >= 1 ? 1 : 2);

/** The engine column: `wasm (1 thread)`, `batchfree W=2`, `PyTorch 2 thr`. */
function engineLabel(r: TrainRow): string {
  if (r.engine === 'pytorch') return r.threads > 0 ? `PyTorch ${r.threads} thr` : 'PyTorch';
  if (/^w\d+$/.test(r.engine)) return r.engine === 'w1' ? '1 worker (wasm)' : `${r.engine.slice(1)} workers (wasm)`;
  return r.engine;
}

/** The training table: one line per network and engine, PyTorch's lines after each network's. */
export function trainTable(rows: readonly TrainRow[], batch: number): string {
  const body = rows.map((r) => {
    const notes = [r.error === undefined ? '' : `fails: ${r.error}`, r.skipped ?? '', r.note ?? ''].filter((s) => s !== '').join('; ');
    const spread = r.p25Ms === undefined || r.p75Ms === undefined ? '-' : `${fixed(r.p25Ms)}-${fixed(r.p75Ms)}`;
    return [
      NETWORK_LABELS[r.model] ?? r.model, NORM_LABELS[r.norm] ?? r.norm, engineLabel(r), fixed(r.msPerStep), spread,
      rate(r.imagesPerSecond),
      times(r.vsStockCpu), times(r.vsPyTorch), r.engine === 'pytorch' && r.steps === 0 ? '' : String(r.steps), notes,
    ];
  });
  const header = ['network', 'norm', 'engine', 'ms/step', 'p25-p75', 'img/s', 'vs cpu-stock', 'vs PyTorch', 'steps', 'notes'];
  return `Training throughput, batch ${batch} (forward + backward + SGD update; median wall time per step; ` +
    `vs PyTorch = img/s over PyTorch's at the same thread count, its steps timed in the same interleaved rounds as batchfree's when it ran live):\n${formatTable(header, body, [0, 1, 2, 9])}`;
}

/**
 * Where the training threads' time went, for the rows that report it: CPU ms per step (the main thread's, or
 * the sum over the workers), ms runnable without a core (other processes), the slowest worker's compute and
 * the barrier wait, and the rate with one idle core per thread (batch / largest per-thread CPU time). Empty
 * string when no row has them.
 */
export function threadTable(rows: readonly TrainRow[]): string {
  const body = rows.filter((r) => r.cpuMs !== undefined || r.computeMs !== undefined).map((r) => [
    NETWORK_LABELS[r.model] ?? r.model, NORM_LABELS[r.norm] ?? r.norm, engineLabel(r), fixed(r.msPerStep), fixed(r.cpuMs), fixed(r.starvedMs),
    fixed(r.computeMs), fixed(r.waitMs), rate(r.freeCoreImagesPerSecond),
  ]);
  if (body.length === 0) return '';
  return 'Where the time went (medians, ms per step; cpu = CPU time of the training threads, summed; starved = runnable without a core, ' +
    'mean per thread; compute / wait = slowest worker\'s forward+backward / mean barrier wait; free-core img/s = batch / largest per-thread CPU time):\n' +
    formatTable(['network', 'norm', 'engine', 'wall', 'cpu', 'starved', 'compute', 'wait', 'free-core img/s'], body, 3);
}

/** PyTorch's figures for the ops table: measured in this run (same shape only), else PEERS.md's; by op key. */
export function opPeerFigures(ops: OpsBenchResult, torch: TorchPeer | undefined): { source: string; figures: Record<string, { fwd: number; fwdBwd: number }> } {
  const sameShape = ops.shape.length === 4 && ops.shape.every((d, i) => d === OP_SHAPE[i]);
  if (!sameShape) return { source: `none (shape differs from ${OP_SHAPE.join('x')})`, figures: {} };
  const measured = torch?.ops['1'];
  if (torch?.status === 'measured' && measured !== undefined) return { source: `PyTorch ${torch.version ?? ''} 1 thread, this run`.replace('  ', ' '), figures: measured };
  return { source: 'PyTorch 1.13 1 thread, PEERS.md', figures: { ...PEERS_OPS_MS[1] } };
}

/** Milliseconds with 2 decimals, or 2 significant digits below 0.1. */
const msText = (v: number): string => (v < 0.1 ? v.toPrecision(2) : v.toFixed(2));

/** The per-op table: composite and fused times, speed-up, ratio to the memory floor, PyTorch. */
export function opsTable(ops: OpsBenchResult, peer: { source: string; figures: Record<string, { fwd: number; fwdBwd: number }> }): string {
  const body: string[][] = [];
  const ms = (v?: { wallMs: number }): string => fixed(v?.wallMs, 2);
  for (const backend of [...new Set(ops.rows.map((r) => r.backend))]) {
    for (const op of [...new Set(ops.rows.filter((r) => r.backend === backend).map((r) => r.op))]) {
      const mine = ops.rows.filter((r) => r.backend === backend && r.op === op);
      const comp = mine.find((r) => r.path !== 'fused'), fused = mine.find((r) => r.path === 'fused');
      const best = fused?.fwdBwd !== undefined ? fused : comp;
      const torch = peer.figures[op];
      const errors = mine.filter((r) => r.error !== undefined).map((r) => `${r.path} fails: ${r.error}`).join('; ');
      body.push([
        mine[0].label, backend, ms(comp?.fwd), ms(fused?.fwd), ms(comp?.fwdBwd), ms(fused?.fwdBwd),
        comp?.fwdBwd !== undefined && fused?.fwdBwd !== undefined ? times(comp.fwdBwd.wallMs / fused.fwdBwd.wallMs) : '-',
        best?.fwd !== undefined ? times(best.fwd.wallMs / ops.fwdFloorMs) : '-',
        best?.fwdBwd !== undefined ? times(best.fwdBwd.wallMs / ops.fwdBwdFloorMs) : '-',
        best?.fwdBwd !== undefined && best.fwdBwdFloor !== undefined ? `${times(best.fwdBwd.wallMs / best.fwdBwdFloor.wallMs)} (${fixed(best.fwdBwdFloor.wallMs, 2)})` : '-',
        torch === undefined ? '-' : `${fixed(torch.fwd, 2)} / ${fixed(torch.fwdBwd, 2)}`,
        torch !== undefined && best?.fwdBwd !== undefined ? times(torch.fwdBwd / best.fwdBwd.wallMs) : '-',
        errors,
      ]);
    }
  }
  const header = ['op', 'backend', 'comp. fwd', 'fused fwd', 'comp. fwd+bwd', 'fused fwd+bwd', 'speed-up', 'fwd/floor', 'fwd+bwd/floor', 'fwd+bwd/adj. floor (ms)', 'PyTorch fwd / fwd+bwd', 'PyTorch/ours', 'errors'];
  const bw = ops.bandwidth.bytesPerSecond / 1e9;
  return `Per op, x = ${ops.shape.join('x')} float32 (${(ops.bytes / 2 ** 20).toFixed(ops.bytes < 2 ** 20 ? 3 : 0)} MiB), ms per call (median wall time); ` +
    `memory floor at the copy bandwidth measured here (${bw.toFixed(1)} GB/s, read + write; PEERS.md, idle machine: ${(PEERS_COPY_BANDWIDTH[1] / 1e9).toFixed(1)}): fwd ${msText(ops.fwdFloorMs)} ms (2 x bytes), ` +
    `fwd+bwd ${msText(ops.fwdBwdFloorMs)} ms (5 x bytes); adj. floor = a copy moving 5 x bytes timed right after each fused (or stock) call, ` +
    `the same moments of the machine (median ms); PyTorch: ${peer.source}; PyTorch/ours = fwd+bwd speed ratio (> 1: ours faster):\n` +
    formatTable(header, body, [0, 1, 12]);
}

/** The memory table: tensors, tensor bytes and RSS, first / last / largest rise, and the verdict. */
export function memoryTable(m: MemoryBenchResult): string {
  const body = [
    ['live tensors', String(m.tensors.first), String(m.tensors.last), String(m.tensors.maxDrift)],
    ['tensor MiB', fixed(m.tensorMiB.first, 2), fixed(m.tensorMiB.last, 2), fixed(m.tensorMiB.maxDrift, 2)],
    ['RSS MiB', fixed(m.rssMiB.first), fixed(m.rssMiB.last), fixed(m.rssMiB.maxDrift)],
  ];
  const growth = m.rssGrowthMiB;
  const r = m.retained;
  const how = `(${m.collected ? 'after full collections ' : ''}at steps ${r[0].step} and ${r[r.length - 1].step}; JS heap ` +
    `${r[0].heapMiB.toFixed(1)} -> ${r[r.length - 1].heapMiB.toFixed(1)} MiB)`;
  const verdict = m.flat
    ? `flat: no tensor growth, RSS growth ${growth.toFixed(1)} MiB < ${m.rssToleranceMiB} MiB ${how}`
    : `NOT flat: tensors +${m.tensors.maxDrift} at most, RSS growth ${growth.toFixed(1)} MiB (tolerance ${m.rssToleranceMiB} MiB) ${how}`;
  return `Memory over ${m.steps} training steps of the reference net (${m.norm}, ${m.backend}, batch ${m.batch}; samples after step ${m.settle} to ${m.steps}):\n` +
    `${formatTable(['', 'first', 'last', 'max drift'], body)}${verdict}\n`;
}
