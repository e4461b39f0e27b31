import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeRuns, formatTable, findCell, RunRecord, SweepResults } from '../../src/experiments/results.js';
import { renderReport } from '../../src/experiments/report.js';

function run(method: string, groupSize: number, seed: number, acc: number, status: RunRecord['status'] = 'done'): RunRecord {
  return {
    key: `${method}-${groupSize}-${seed}`, method, groupSize, seed, config: {}, status,
    curve: [{ epoch: 1, step: 10, trainLoss: 1, testLoss: 1, testAccuracy: acc - 0.05 }, { epoch: 2, step: 20, trainLoss: 0.5, testLoss: 0.6, testAccuracy: acc }],
    lossCurve: [{ step: 10, loss: 1.5 }, { step: 20, loss: 0.7 }],
    testAccuracy: status === 'done' ? acc : NaN, testLoss: 0.6, seconds: 1, imagesPerSecond: 100,
  };
}

const runs = [run('BN', 32, 0, 0.90), run('BN', 32, 1, 0.92), run('BN', 2, 0, 0.80), run('BN', 2, 1, 0.84),
  run('FRN+TLU', 0, 0, 0.91), run('FRN+TLU', 0, 1, 0.91), run('GN+PN', 0, 0, 0.5, 'diverged')];

describe('sweep results', () => {
  it('summarizes each cell as mean ± sample std in percent and counts failed runs', () => {
    const cells = summarizeRuns(runs);
    const bn2 = findCell(cells, 'BN', 2)!;
    assert.ok(Math.abs(bn2.mean - 82) < 1e-9);
    assert.ok(Math.abs(bn2.std - Math.sqrt(8)) < 1e-9); // values 80, 84: sample variance 8
    assert.equal(bn2.n, 2);
    const gnpn = findCell(cells, 'GN+PN', 32)!;
    assert.equal(gnpn.n, 0);
    assert.equal(gnpn.failed, 1);
    // a group-size-independent method (groupSize 0) stands for every column
    assert.equal(findCell(cells, 'FRN+TLU', 2), findCell(cells, 'FRN+TLU', 32));
  });

  it('prints a table with the delta to the baseline per column', () => {
    const text = formatTable({ cells: summarizeRuns(runs), baseline: 'BN' });
    const frn = text.split('\n').find((l) => l.startsWith('FRN+TLU'))!;
    assert.match(frn, /91\.00 ± 0\.00 \(-0\.00\)|91\.00 ± 0\.00 \(\+0\.00\)/); // vs BN at 32: 91 - 91
    assert.match(frn, /\(\+9\.00\)/); // vs BN at 2: 91 - 82
    assert.match(text, /GN\+PN\s+diverged/);
  });

  it('shows one "any group size" column when no method depends on the group size', () => {
    const text = formatTable({ cells: summarizeRuns(runs.filter((r) => r.method !== 'BN')), baseline: 'BN' });
    assert.match(text.split('\n')[0], /any group size/);
    assert.match(text, /FRN\+TLU\s+91\.00 ± 0\.00/);
  });

  it('renders a self-contained HTML report with the table and SVG charts', async () => {
    const results: SweepResults = { title: 'test sweep', dataset: 'synthetic', model: 'resnet-8', mode: 'fixed', epochs: 2, notes: ['a <note>'], runs, cells: summarizeRuns(runs), baseline: 'BN' };
    const html = await renderReport(results);
    assert.match(html, /^<!doctype html>/);
    assert.equal((html.match(/<svg/g) ?? []).length, 3, 'accuracy, test-accuracy curves and loss curves');
    assert.match(html, /<td>82\.00 ± 2\.83<\/td>/);
    assert.match(html, /a &lt;note&gt;/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no script and no network reference');
  });
});
