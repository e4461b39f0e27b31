/**
 * `batchfree bench`, in-process with tiny settings (one section at a time): the JSON has each section's fields and
 * they agree with one another (images/s = batch / ms per step, floors in the ratio of the bytes moved, the PyTorch
 * ratios from the peer's figures), the memory check finds no leak and the command leaves no tensor behind, the
 * PyTorch peer is run through the given Python (a stand-in script here) or reported as not available, and bad
 * options name the option. No timing assertions.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CommanderError } from 'commander';
import { type BenchReport } from '../../src/cli/bench.js';
import { type CliIO, createProgram } from '../../src/cli/program.js';
import { tf } from '../../src/engine.js';
import { opPeerFigures } from '../../src/bench/report.js';
import { median, quantile } from '../../src/bench/stats.js';
import { readTorchResults, startTorchTrainSession } from '../../src/bench/torch.js';
import type { OpsBenchResult } from '../../src/bench/ops.js';

const root = mkdtempSync(join(tmpdir(), 'batchfree-bench-'));

/** Runs `batchfree bench ...args` in-process; returns its output, its error and the JSON it wrote. */
async function bench(name: string, ...args: string[]): Promise<{ out: string; err: string; error?: unknown; report?: BenchReport }> {
  let out = '', err = '';
  const io: CliIO = { out: (t) => { out += t; }, err: (t) => { err += t; } };
  const file = join(root, `${name}.json`);
  try {
    await createProgram(io, { exitOverride: true }).parseAsync(['node', 'batchfree', 'bench', '--quick', '--out', file, ...args]);
  } catch (error) {
    return { out, err, error };
  }
  return { out, err, report: existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as BenchReport : undefined };
}

/** A results.json as the PyTorch peer script writes it (figures made up; the names are the script's). */
const PEER_RESULTS = {
  env: { torch: '9.9-test' },
  train: {
    frn_tlu: { 1: { ms_per_step: 40, images_per_s: 100 }, 2: { ms_per_step: 20, images_per_s: 200 } },
    bn_relu: { 1: { ms_per_step: 16, images_per_s: 250 }, 2: { ms_per_step: 8, images_per_s: 500 } },
  },
  ops: {
    1: { 'FRN+TLU (plain ops)': { fwd_ms: 7, fwdbwd_ms: 110 }, 'clone (reference)': { fwd_ms: 1, fwdbwd_ms: 2 } },
    2: { 'GroupNorm(32)': { fwd_ms: 1, fwdbwd_ms: 2.5 } },
  },
};

/**
 * A stand-in for the system Python: `-c 'import torch'` succeeds; the `-c` step server (batchfree's interleaved
 * measurement) says it is ready, records each request and answers with a made-up step time: 40 ms on 1 thread;
 * for the FRN network on 2 threads 1000 ms for its first 5 requests (the warm-up), 10 ms for the next 3 and 30 ms
 * after (so that warm-up and median are tested); run on a script, it writes PEER_RESULTS to the `--out-dir` it is
 * given and records its arguments.
 */
function fakePython(): string {
  const path = join(root, 'python');
  const requests = join(root, 'peer-requests.txt');
  writeFileSync(join(root, 'peer.json'), JSON.stringify(PEER_RESULTS));
  writeFileSync(path, [
    '#!/bin/sh',
    'if [ "$1" = "-c" ]; then',
    '  case "$2" in *sys.stdin*)',
    '    echo \'BATCHFREE {"ready": "9.9-test"}\'; n=0',
    '    while read -r line; do',
    `      echo "$line" >> ${JSON.stringify(requests)}`,
    '      case "$line" in',
    '        *\'"threads":1\'*) echo \'BATCHFREE {"ms": 40, "loss": 2.5}\';;',
    '        *frn_tlu*) n=$((n + 1)); ms=30; [ $n -le 8 ] && ms=10; [ $n -le 5 ] && ms=1000; echo "BATCHFREE {\\"ms\\": $ms, \\"loss\\": 2.5}";;',
    '        *) echo \'BATCHFREE {"ms": 10, "loss": 2.5}\';;',
    '      esac',
    '    done;;',
    '  esac',
    '  exit 0',
    'fi',
    `echo "$@" > ${JSON.stringify(join(root, 'peer-args.txt'))}`,
    'while [ $# -gt 0 ]; do [ "$1" = "--out-dir" ] && dir="$2"; shift; done',
    'mkdir -p "$dir"',
    `cp ${JSON.stringify(join(root, 'peer.json'))} "$dir/results.json"`,
    'echo "train frn_tlu thr=1: 40 ms/step"',
  ].join('\n'));
  chmodSync(path, 0o755);
  return path;
}

describe('batchfree bench', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  test('ops: composite and fused rows, floors from the measured bandwidth and adjacent copies, no PyTorch figures at another shape', async () => {
    const r = await bench('ops', '--only', 'ops', '--op-shape', '2,4,4,32', '--ops', 'frn_tlu,relu', '--iters', '2');
    assert.equal(r.error, undefined, String(r.error));
    const rep = r.report as BenchReport;
    assert.deepEqual(rep.sections, ['ops']);
    assert.equal(rep.train, undefined);
    assert.equal(rep.memory, undefined);
    const ops = rep.ops as NonNullable<BenchReport['ops']>;
    assert.deepEqual(ops.shape, [2, 4, 4, 32]);
    assert.equal(ops.bytes, 2 * 4 * 4 * 32 * 4);
    assert.ok(ops.bandwidth.bytesPerSecond > 0);
    assert.ok(Math.abs(ops.fwdBwdFloorMs - (5 * ops.bytes / ops.bandwidth.bytesPerSecond) * 1000) < 1e-9 * ops.fwdBwdFloorMs);
    assert.ok(Math.abs(ops.fwdBwdFloorMs / ops.fwdFloorMs - 2.5) < 1e-9);
    assert.deepEqual(ops.rows.map((x) => `${x.op}/${x.path}/${x.backend}`), ['frn_tlu/composite/wasm', 'frn_tlu/fused/wasm', 'relu/stock/wasm']);
    for (const row of ops.rows) {
      assert.equal(row.error, undefined, `${row.op} ${row.path}: ${row.error}`);
      for (const t of [row.fwd, row.fwdBwd]) {
        assert.ok(t !== undefined && t.calls === 2 && t.wallMs > 0 && t.minWallMs <= t.wallMs, `${row.op} ${row.path} timing`);
      }
      // The adjacent floors: a copy timed after each call of the fused and stock paths (not the composite one).
      const floors = [row.fwdFloor, row.fwdBwdFloor];
      if (row.path === 'composite') assert.deepEqual(floors, [undefined, undefined]);
      else for (const t of floors) assert.ok(t !== undefined && t.calls === 2 && t.wallMs > 0, `${row.op} ${row.path} adjacent floor`);
    }
    assert.match(r.out, /adj\. floor/);
    assert.deepEqual(ops.pytorch.figures, {});
    assert.match(ops.pytorch.source, /shape differs/);
    assert.match(r.out, /FRN \+ TLU\s+wasm/);
    assert.match(r.out, /wrote .*ops\.json/);
  });

  test('memory: no tensor growth over the steps, and nothing left behind', async () => {
    const before = tf.memory().numTensors;
    const r = await bench('memory', '--only', 'memory', '--memory-steps', '6', '--batch', '4');
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(tf.memory().numTensors, before, 'the command disposed its model, optimizer and batch');
    const m = (r.report as BenchReport).memory as NonNullable<BenchReport['memory']>;
    assert.equal(m.steps, 6);
    assert.equal(m.batch, 4);
    assert.equal(m.norm, 'frn');
    assert.equal(m.samples.length, 6 - m.settle + 1, 'one sample after each step from the settling step on');
    assert.equal(m.samples[m.samples.length - 1].step, 6);
    assert.ok(m.tensors.first > 0);
    assert.equal(m.tensors.maxDrift, 0, 'a training step leaks no tensor');
    assert.equal(m.tensors.first, Math.min(...m.samples.map((s) => s.tensors)));
    // Full collections reachable in Node: the retained RSS after them, at every step of so short a run.
    assert.equal(m.collected, true);
    assert.deepEqual(m.retained.map((x) => x.step), m.samples.map((x) => x.step));
    assert.ok(m.retained.every((x) => x.rssMiB > 0 && x.heapMiB > 0));
    assert.equal(m.rssGrowthMiB, m.retained[m.retained.length - 1].rssMiB - m.retained[0].rssMiB);
    assert.equal(m.flat, m.rssGrowthMiB < m.rssToleranceMiB);
    assert.ok(Number.isFinite(m.firstLoss) && Number.isFinite(m.lastLoss));
    assert.match(r.out, /live tensors/);
    assert.match(r.out, /flat|NOT flat/);
  });

  test('train: wasm and 2 workers after a timed warm-up, images/s from the step times, "PyTorch not available" without torch', async () => {
    const r = await bench('train', '--only', 'train', '--models', 'reference', '--norms', 'frn', '--engines', 'wasm,w2', '--batch', '4',
      '--steps', '2', '--warmup', '3', '--warmup-s', '1', '--torch', '--python', join(root, 'no-such-python'));
    assert.equal(r.error, undefined, String(r.error));
    const rep = r.report as BenchReport;
    assert.deepEqual(rep.sections, ['train']);
    assert.equal(rep.torch.status, 'unavailable');
    const train = rep.train as NonNullable<BenchReport['train']>;
    assert.equal(train.batch, 4);
    assert.deepEqual([train.warmup, train.warmupMs], [3, 1000]);
    assert.deepEqual(train.rows.map((x) => `${x.model}/${x.norm}/${x.engine}/${x.threads}`), ['reference/frn/wasm/1', 'reference/frn/w2/2', 'reference/frn/pytorch/0']);
    for (const row of train.rows.slice(0, 2)) {
      assert.equal(row.error, undefined, `${row.engine}: ${row.error}`);
      assert.equal(row.steps, 2);
      // A second of warm-up at batch 4 takes more than the 3 steps asked for (each step well under 300 ms).
      assert.ok(row.warmup > 3, `${row.engine}: ${row.warmup} warm-up steps in 1 s`);
      const ms = row.msPerStep as number;
      assert.ok(ms > 0);
      assert.ok(Math.abs((row.imagesPerSecond as number) - 4000 / ms) < 1e-9 * (row.imagesPerSecond as number));
      assert.ok((row.p25Ms as number) <= ms && ms <= (row.p75Ms as number));
      assert.ok(Number.isFinite(row.firstLoss) && Number.isFinite(row.lastLoss));
      assert.equal(row.vsStockCpu, undefined, 'no cpu-stock row to compare with');
    }
    const w2 = train.rows[1];
    assert.ok(w2.computeMs !== undefined && w2.waitMs !== undefined, 'worker timings');
    assert.match(train.rows[2].skipped as string, /PyTorch not available/);
    assert.match(r.out, /PyTorch not available/);
    assert.match(r.out, /2 workers \(wasm\)/);
  });

  test('train: the PyTorch peer is run with --quick through --python and its figures give the ratios', async () => {
    const python = fakePython();
    const script = join(root, 'peer_script.py');
    writeFileSync(script, '# stand-in\n');
    const r = await bench('torch', '--only', 'train', '--models', 'reference', '--norms', 'frn,ln+pn', '--engines', 'wasm', '--batch', '4',
      '--steps', '4', '--rounds', '2', '--warmup', '0', '--warmup-s', '0', '--torch', '--python', python, '--torch-script', script);
    assert.equal(r.error, undefined, String(r.error));
    const args = readFileSync(join(root, 'peer-args.txt'), 'utf8').trim().split(' ');
    assert.equal(args[0], script);
    for (const a of ['--quick', '--no-wait', '--no-bw', '--out-dir']) assert.ok(args.includes(a), `${a} passed to the peer`);
    const rep = r.report as BenchReport;
    assert.equal(rep.torch.status, 'measured');
    const rows = (rep.train as NonNullable<BenchReport['train']>).rows;
    // FRN: PyTorch's steps timed in the same rounds (its own step times, the median of the timed ones).
    const frn = rows.filter((x) => x.norm === 'frn');
    assert.deepEqual(frn.map((x) => `${x.engine}/${x.threads}/${x.steps}/${x.warmup}`), ['wasm/1/4/0', 'pytorch/1/4/5', 'pytorch/2/4/5']);
    assert.deepEqual([frn[1].msPerStep, frn[1].imagesPerSecond, frn[2].msPerStep, frn[2].imagesPerSecond], [40, 100, 10, 400]);
    assert.match(frn[1].note as string, /PyTorch 9\.9-test.*interleaved/);
    const ours = frn[0].imagesPerSecond as number;
    assert.ok(Math.abs((frn[0].vsPyTorch as number) - ours / 100) < 1e-12 * ours, 'ratio to PyTorch at 1 thread');
    // The requests: FRN only (LN+PN is not a peer network), 1 and 2 threads in turn per round, the bench's batch.
    const requests = readFileSync(join(root, 'peer-requests.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; threads: number; batch: number });
    assert.deepEqual(requests.map((q) => `${q.kind}/${q.threads}/${q.batch}`), [
      ...Array<string>(5).fill('frn_tlu/1/4'), ...Array<string>(5).fill('frn_tlu/2/4'),
      'frn_tlu/1/4', 'frn_tlu/1/4', 'frn_tlu/2/4', 'frn_tlu/2/4', 'frn_tlu/1/4', 'frn_tlu/1/4', 'frn_tlu/2/4', 'frn_tlu/2/4',
    ]);
    const lnpn = rows.filter((x) => x.norm === 'ln+pn');
    assert.equal(lnpn[0].vsPyTorch, undefined, 'the peer has no LN+PN network');
    assert.match(lnpn[1].skipped as string, /no such network/);
    assert.match(r.out, /PyTorch 2 thr/);
  });

  test('PyTorch results: op names and thread counts mapped; the ops table uses them only at PEERS.md\'s shape', () => {
    const file = join(root, 'results.json');
    writeFileSync(file, JSON.stringify(PEER_RESULTS));
    const peer = readTorchResults(file);
    assert.equal(peer.status, 'measured');
    assert.equal(peer.version, '9.9-test');
    assert.deepEqual(peer.train, {
      frn: { 1: { msPerStep: 40, imagesPerSecond: 100 }, 2: { msPerStep: 20, imagesPerSecond: 200 } },
      bn: { 1: { msPerStep: 16, imagesPerSecond: 250 }, 2: { msPerStep: 8, imagesPerSecond: 500 } },
    });
    assert.deepEqual(peer.ops, { 1: { frn_tlu: { fwd: 7, fwdBwd: 110 } }, 2: { gn32: { fwd: 1, fwdBwd: 2.5 } } });
    assert.equal(readTorchResults(join(root, 'missing.json')).status, 'failed');

    const ops = { shape: [64, 32, 32, 64] } as OpsBenchResult;
    assert.deepEqual(opPeerFigures(ops, peer).figures, { frn_tlu: { fwd: 7, fwdBwd: 110 } });
    assert.match(opPeerFigures(ops, undefined).source, /PEERS\.md/);
    assert.equal(opPeerFigures(ops, undefined).figures.bn.fwdBwd, 12.34);
    assert.deepEqual(opPeerFigures({ shape: [64, 32, 32, 32] } as OpsBenchResult, peer).figures, {});
  });

  test('PyTorch step session: a peer that dies fails the pending and later steps with the reason; no script, no session', async () => {
    const python = join(root, 'dying-python');
    writeFileSync(python, ['#!/bin/sh', 'echo \'BATCHFREE {"ready": "9.9-test"}\'', 'read -r line', 'echo "RuntimeError: out of luck" >&2', 'exit 3'].join('\n'));
    chmodSync(python, 0o755);
    const script = join(root, 'peer_script.py');
    writeFileSync(script, '# stand-in\n');
    const session = await startTorchTrainSession({ python, script });
    assert.ok(session !== undefined);
    assert.equal(session.version, '9.9-test');
    await assert.rejects(session.step('bn', 1, 64), /exited with 3: RuntimeError: out of luck/);
    await assert.rejects(session.step('frn', 2, 64), /exited with 3/);
    await assert.rejects(session.step('ln+pn', 1, 64), /no reference network with 'ln\+pn'/);
    await session.close();
    const reasons: string[] = [];
    assert.equal(await startTorchTrainSession({ python, script: join(root, 'none.py') }, (why) => reasons.push(why)), undefined);
    assert.match(reasons[0], /none\.py not found/);
    assert.equal(await startTorchTrainSession({ python: join(root, 'no-such-python'), script }, (why) => reasons.push(why)), undefined);
    assert.match(reasons[1], /no-such-python/);
  });

  test('median and quantiles interpolate between order statistics', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(quantile([10, 0, 20, 30, 40], 0.25), 10);
    assert.equal(quantile([0, 10], 0.75), 7.5);
    assert.ok(Number.isNaN(median([])));
  });

  test('bad options name the option and what was expected', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--only', 'train,speed'], /option '--only <sections>' argument 'train,speed' is invalid\. Expected comma-separated sections among train, ops, memory/],
      [['--engines', 'wasm,gpu'], /option '--engines <list>' argument 'wasm,gpu' is invalid\. Expected comma-separated engines/],
      [['--norms', 'frn,xn'], /option '--norms <list>' argument 'frn,xn' is invalid/],
      [['--op-shape', '1,2,3'], /option '--op-shape <B,H,W,C>' argument '1,2,3' is invalid\. Expected 4 comma-separated whole numbers/],
      [['--memory-steps', '1'], /option '--memory-steps <n>' argument '1' is invalid\. Expected a whole number >= 2/],
      [['--ops', 'frn'], /option '--ops <list>' argument 'frn' is invalid\. Expected comma-separated op keys/],
    ];
    for (const [args, expected] of cases) {
      const r = await bench('bad', ...args);
      assert.ok(r.error instanceof CommanderError && r.error.exitCode !== 0, `${args.join(' ')}: a commander error`);
      assert.match(r.err, expected, args.join(' '));
    }
    assert.ok(!existsSync(join(root, 'bad.json')), 'nothing written');
  });
});
