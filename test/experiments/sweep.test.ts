import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../../src/engine.js';
import { planSweep, runSweep } from '../../src/experiments/sweep.js';
import type { RunDependencies } from '../../src/train/run.js';
import { tinyData, tinyModel } from '../train/tiny.js';

describe('planSweep', () => {
  const base = { dataset: 'synthetic' as const, batchSize: 32, lr: 0.1, epochs: 1 };

  it('fixed mode: BN once per group size, batch-independent methods once, the global batch unchanged', () => {
    const cells = planSweep({ methods: ['BN', 'FRN+TLU', 'NF-ResNet+AGC'], groupSizes: [32, 8, 2], seeds: [0, 1], mode: 'fixed', base, out: 'x' });
    assert.equal(cells.length, 3 * 2 + 2 + 2);
    const bn2 = cells.find((c) => c.method === 'BN' && c.groupSize === 2 && c.seed === 1)!;
    assert.deepEqual([bn2.settings.norm, bn2.settings.groupSize, bn2.settings.batchSize, bn2.settings.seed], ['bn', 2, 32, 1]);
    const frn = cells.filter((c) => c.method === 'FRN+TLU');
    assert.deepEqual(frn.map((c) => c.groupSize), [0, 0]);
    assert.equal(frn[0].settings.groupSize, undefined);
    const nf = cells.find((c) => c.method === 'NF-ResNet+AGC')!;
    assert.deepEqual([nf.settings.model, nf.settings.norm, nf.settings.agc], ['nf-resnet', 'none', 0.01]);
    assert.equal(new Set(cells.map((c) => c.key)).size, cells.length, 'keys are unique');
  });

  it('scaled mode: every method at every group size, global batch = devices x g, learning rate scaled linearly', () => {
    const cells = planSweep({ methods: ['BN', 'GN'], groupSizes: [4, 2], seeds: [0], mode: 'scaled', devices: 8, base, out: 'x' });
    assert.equal(cells.length, 4);
    const gn2 = cells.find((c) => c.method === 'GN' && c.groupSize === 2)!;
    assert.equal(gn2.settings.batchSize, 16);
    assert.ok(Math.abs((gn2.settings.lr as number) - 0.1 * 16 / 32) < 1e-12);
  });

  it('passes the BN momentum to BN only (the other norms have no moving statistics)', () => {
    const cells = planSweep({ methods: ['BN', 'GN'], groupSizes: [2], seeds: [0], mode: 'fixed', base: { ...base, bnMomentum: 0.9 }, out: 'x' });
    assert.equal(cells.find((c) => c.method === 'BN')!.settings.bnMomentum, 0.9);
    assert.equal('bnMomentum' in cells.find((c) => c.method === 'GN')!.settings, false);
  });

  it('rejects unknown methods, group sizes that do not divide the batch, and empty seeds', () => {
    assert.throws(() => planSweep({ methods: ['XN'], groupSizes: [2], seeds: [0], mode: 'fixed', base, out: 'x' }), /argument 'methods'.*'XN'/);
    assert.throws(() => planSweep({ methods: ['BN'], groupSizes: [3], seeds: [0], mode: 'fixed', base, out: 'x' }), /argument 'groupSizes'.*divisors of the global batch 32/);
    assert.throws(() => planSweep({ methods: ['BN'], groupSizes: [2], seeds: [], mode: 'fixed', base, out: 'x' }), /argument 'seeds'/);
  });
});

describe('runSweep', () => {
  const deps: Partial<RunDependencies> = {
    setBackend: async () => { await tf.setBackend('cpu'); return 'cpu'; },
    loadData: () => tinyData(64, 32),
    buildModel: (config, d) => tinyModel(d.inputShape, d.numClasses, config.seed + 1),
  };
  const base = { dataset: 'synthetic' as const, batchSize: 16, lr: 0.05, epochs: 1, warmupEpochs: 0, checkpointEvery: 0, logEvery: 1 };

  it('trains every cell, writes results.json and report.html, and reuses finished runs (refusing other settings)', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'batchfree-sweep-'));
    const options = { methods: ['BN', 'GN'], groupSizes: [16, 4], seeds: [0], mode: 'fixed' as const, base, out, quiet: true, log: () => {}, runOptions: { deps } };
    const first = await runSweep(options);
    assert.equal(first.runs.length, 3); // BN at 16 and 4, GN once
    assert.ok(first.runs.every((r) => r.status === 'done' && r.testAccuracy >= 0 && r.curve.length === 1 && (r.lossCurve ?? []).length > 0));
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    assert.equal(saved.cells.length, 3);
    assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /<svg/);
    const lines: string[] = [];
    const again = await runSweep({ ...options, log: (l: string) => lines.push(l) });
    assert.equal(lines.filter((l) => l.endsWith('reused')).length, 3, 'nothing retrained');
    assert.deepEqual(again.cells, first.cells);
    await assert.rejects(runSweep({ ...options, base: { ...base, lr: 0.1 } }), /trained with other settings/);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
