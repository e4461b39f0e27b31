/**
 * End-to-end: a sweep report opens in headless Chromium (Debian's `chromium`) without errors, its DOM holds the
 * table and the charts, and a screenshot shows them (a non-blank picture). Skipped, saying why, where Chromium is
 * not installed (`apt-get install -y chromium`; CI installs it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { renderReport } from '../../src/experiments/report.js';
import { summarizeRuns, type RunRecord } from '../../src/experiments/results.js';

function chromiumPath(): string | null {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p;
  return null;
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--hide-scrollbars'];

/** Fraction of the sampled rows of an 8-bit RGB(A) PNG whose pixels are not all white: a blank page scores 0. */
function inkedRowFraction(png: Buffer): number {
  const width = png.readUInt32BE(16), height = png.readUInt32BE(20), colorType = png[25];
  const channels = colorType === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let off = 8; off < png.length;) {
    const len = png.readUInt32BE(off), type = png.toString('ascii', off + 4, off + 8);
    if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = 1 + width * channels;
  // undo the PNG row filters (types 0-4) to read true pixel values
  const prev = new Uint8Array(width * channels), cur = new Uint8Array(width * channels);
  let inked = 0;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * stride];
    for (let i = 0; i < width * channels; i++) {
      const x = raw[y * stride + 1 + i], a = i >= channels ? cur[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c) : 0;
      cur[i] = (x + pred) & 255;
    }
    let rowInk = false;
    for (let i = 0; i < width * channels && !rowInk; i += channels) rowInk = cur[i] < 200 || cur[i + 1] < 200 || cur[i + 2] < 200;
    if (rowInk) inked++;
    prev.set(cur);
  }
  return inked / height;
}

describe('report.html in headless Chromium', () => {
  const chromium = chromiumPath();
  it('opens without errors, holds the table and the SVG charts, and a screenshot shows them', { skip: chromium === null ? 'chromium is not installed (apt-get install -y chromium)' : false, timeout: 120_000 }, async () => {
    const runs: RunRecord[] = [2, 32].flatMap((g) => [0, 1].map((seed) => ({
      key: `bn-${g}-${seed}`, method: 'BN', groupSize: g, seed, config: {}, status: 'done' as const,
      curve: [1, 2, 3].map((epoch) => ({ epoch, step: epoch * 10, trainLoss: 1 / epoch, testLoss: 1 / epoch, testAccuracy: 0.6 + 0.1 * epoch - (g === 2 ? 0.05 : 0) })),
      lossCurve: [10, 20, 30].map((step) => ({ step, loss: 2 / step })),
      testAccuracy: 0.9 - (g === 2 ? 0.05 : 0) + 0.01 * seed, testLoss: 0.3, seconds: 1, imagesPerSecond: 100,
    })));
    const html = await renderReport({ title: 'e2e report', dataset: 'synthetic', model: 'resnet-8', mode: 'fixed', epochs: 3, notes: [], runs, cells: summarizeRuns(runs), baseline: 'BN' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchfree-e2e-'));
    const page = path.join(dir, 'report.html');
    fs.writeFileSync(page, html);
    const profile = path.join(dir, 'profile');
    // 1. the DOM after load: the page parsed, the table and three charts are there
    const dom = execFileSync(chromium!, [...FLAGS, `--user-data-dir=${profile}`, '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
    assert.match(dom, /<table>/);
    assert.equal((dom.match(/<svg/g) ?? []).length, 3, 'three charts in the rendered DOM');
    // 2. a screenshot: the picture must hold ink (text and charts), not a blank page
    const shot = path.join(dir, 'shot.png');
    const r = spawnSync(chromium!, [...FLAGS, `--user-data-dir=${profile}`, `--screenshot=${shot}`, '--window-size=1200,1600', `file://${page}`], { timeout: 60_000, encoding: 'utf8' });
    assert.equal(r.status, 0, `chromium exited with ${r.status}: ${r.stderr}`);
    const png = fs.readFileSync(shot);
    assert.equal(png.toString('ascii', 1, 4), 'PNG');
    const ink = inkedRowFraction(png);
    assert.ok(ink > 0.3, `only ${(100 * ink).toFixed(1)}% of the screenshot's rows have anything drawn`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
