import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, gunzipSync } from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idxToDataset, isGzip, parseIdx, parseIdxAsync, parseIdxHeader } from '../../src/data/idx.js';
import { readIdxFile } from '../../src/data/node_datasets.js';

/** Test-side IDX writer: magic 00 00 type rank, big-endian uint32 dims, big-endian values. */
const TYPE_CODES = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e } as const;
const SIZES = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 } as const;
type T = keyof typeof TYPE_CODES;

function makeIdx(type: T, shape: number[], values: number[]): Uint8Array {
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + values.length * SIZES[type]);
  const v = new DataView(out.buffer);
  out[2] = TYPE_CODES[type];
  out[3] = shape.length;
  shape.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  values.forEach((x, i) => {
    const o = header + i * SIZES[type];
    if (type === 'uint8') v.setUint8(o, x);
    else if (type === 'int8') v.setInt8(o, x);
    else if (type === 'int16') v.setInt16(o, x, false);
    else if (type === 'int32') v.setInt32(o, x, false);
    else if (type === 'float32') v.setFloat32(o, x, false);
    else v.setFloat64(o, x, false);
  });
  return out;
}

const SAMPLES: Record<T, number[]> = {
  uint8: [0, 1, 127, 128, 254, 255],
  int8: [-128, -1, 0, 1, 64, 127],
  int16: [-32768, -300, 0, 258, 1000, 32767],
  int32: [-2147483648, -70000, 0, 65537, 123456789, 2147483647],
  float32: [-1.5, 0, 0.25, 3.0e10, -7.125, 1e-20],
  float64: [-1.5, 0, Math.PI, 1e300, -1e-300, 2 ** 53],
};

describe('parseIdx', () => {
  for (const type of Object.keys(TYPE_CODES) as T[]) {
    it(`reads ${type} values big-endian with their shape, plain and gzipped`, () => {
      const bytes = makeIdx(type, [2, 3], SAMPLES[type]);
      for (const input of [bytes, new Uint8Array(gzipSync(bytes))]) {
        const idx = parseIdx(input, { gunzip: (b) => gunzipSync(b) });
        assert.equal(idx.dtype, type);
        assert.deepEqual(idx.shape, [2, 3]);
        const expected = type === 'float32' ? SAMPLES[type].map(Math.fround) : SAMPLES[type];
        assert.deepEqual(Array.from(idx.data), expected);
      }
    });
  }

  it('reads a rank-3 image file and a rank-1 label file at a non-zero byte offset', () => {
    const images = makeIdx('uint8', [2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const padded = new Uint8Array(images.length + 5);
    padded.set(images, 5);
    const idx = parseIdx(padded.subarray(5));
    assert.deepEqual(idx.shape, [2, 2, 3]);
    assert.deepEqual(Array.from(idx.data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const labels = parseIdx(makeIdx('uint8', [3], [7, 0, 9]));
    assert.deepEqual(labels.shape, [3]);
    assert.deepEqual(Array.from(labels.data), [7, 0, 9]);
  });

  it('accepts an empty file (zero items)', () => {
    const idx = parseIdx(makeIdx('uint8', [0, 28, 28], []));
    assert.deepEqual(idx.shape, [0, 28, 28]);
    assert.equal(idx.data.length, 0);
  });

  it('parseIdxAsync decompresses gzip with DecompressionStream', async () => {
    const bytes = makeIdx('int16', [3], [-5, 0, 300]);
    const idx = await parseIdxAsync(new Uint8Array(gzipSync(bytes)));
    assert.deepEqual(Array.from(idx.data), [-5, 0, 300]);
    const plain = await parseIdxAsync(bytes);
    assert.deepEqual(Array.from(plain.data), [-5, 0, 300]);
    await assert.rejects(parseIdxAsync(Uint8Array.of(0x1f, 0x8b, 1, 2, 3)), /parseIdxAsync: .*fail to decompress/);
  });

  it('detects gzip from the magic bytes', () => {
    assert.equal(isGzip(Uint8Array.of(0x1f, 0x8b, 8)), true);
    assert.equal(isGzip(makeIdx('uint8', [1], [3])), false);
    assert.equal(isGzip(Uint8Array.of(0x1f)), false);
  });

  const good = makeIdx('uint8', [2, 2], [1, 2, 3, 4]);
  const errors: Array<{ name: string; bytes: Uint8Array; pattern: RegExp }> = [
    { name: 'too short for a magic', bytes: Uint8Array.of(0, 0, 8), pattern: /got 3 bytes, expected at least 4 bytes/ },
    { name: 'bad magic', bytes: Uint8Array.of(0x12, 0x34, 8, 1, 0, 0, 0, 0), pattern: /got magic 0x12 0x34 0x08 0x01, expected an IDX magic/ },
    { name: 'unknown type byte', bytes: Uint8Array.of(0, 0, 0x0a, 1, 0, 0, 0, 0), pattern: /got type byte 0x0a, expected one of 0x08 \(uint8\)/ },
    { name: 'rank 0', bytes: Uint8Array.of(0, 0, 8, 0), pattern: /got rank 0, expected rank >= 1/ },
    { name: 'truncated header', bytes: Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1, 0, 0), pattern: /got 10 bytes, expected at least 16 bytes \(header of a rank-3/ },
    { name: 'missing values', bytes: good.subarray(0, good.length - 1), pattern: /got 15 bytes, expected 16 bytes \(header 12 \+ 2x2 = 4 uint8/ },
    { name: 'trailing bytes', bytes: Uint8Array.from([...good, 0]), pattern: /got 17 bytes, expected 16 bytes/ },
    { name: 'int32 value count', bytes: makeIdx('int32', [3], [1, 2, 3]).subarray(0, 15), pattern: /got 15 bytes, expected 20 bytes .*int32 values of 4 byte/ },
  ];
  for (const e of errors) {
    it(`rejects ${e.name}, naming the argument`, () => {
      assert.throws(() => parseIdx(e.bytes), (err: Error) => {
        assert.match(err.message, /^parseIdx: argument 'bytes' is invalid/);
        assert.match(err.message, e.pattern);
        return true;
      });
      assert.throws(() => parseIdx(e.bytes, { source: "file 'x.idx'" }), /Error: parseIdx: file 'x\.idx' is invalid/);
    });
  }

  it('rejects gzip bytes without a gunzip function, and corrupt gzip', () => {
    const gz = new Uint8Array(gzipSync(good));
    assert.throws(() => parseIdx(gz), /parseIdx: argument 'bytes' is invalid: got gzip-compressed bytes, expected .*options\.gunzip.*parseIdxAsync/);
    const corrupt = gz.slice(0, 12);
    assert.throws(() => parseIdx(corrupt, { gunzip: (b) => gunzipSync(b) }), /parseIdx: argument 'bytes' is invalid: got gzip bytes that fail to decompress/);
  });

  it('rejects a non-Uint8Array argument', () => {
    assert.throws(() => parseIdx([0, 0, 8, 1] as unknown as Uint8Array), /parseIdx: argument 'bytes' is invalid: got 'object', expected a Uint8Array/);
  });

  it('parseIdxHeader reports the implied total size', () => {
    const h = parseIdxHeader(makeIdx('float64', [4, 5], new Array(20).fill(0)));
    assert.deepEqual(h, { dtype: 'float64', shape: [4, 5], headerBytes: 12, elementBytes: 8, totalBytes: 12 + 160 });
  });
});

describe('idxToDataset', () => {
  it('scales uint8 pixels by 1/255, gives C = 1 for rank 3, and checks labels', () => {
    const px = [0, 255, 51, 102, 7, 8, 9, 10];
    const ds = idxToDataset(parseIdx(makeIdx('uint8', [2, 2, 2], px)), parseIdx(makeIdx('uint8', [2], [3, 1])), { name: 't', numClasses: 4 });
    assert.deepEqual([ds.count, ds.height, ds.width, ds.channels, ds.numClasses, ds.name], [2, 2, 2, 1, 4, 't']);
    assert.deepEqual(Array.from(ds.images), px.map((v) => Math.fround(v / 255)));
    assert.deepEqual(Array.from(ds.labels), [3, 1]);
  });

  it('keeps rank-4 channels, infers numClasses and honours limit', () => {
    const px = Array.from({ length: 3 * 1 * 2 * 3 }, (_, i) => i * 10);
    const ds = idxToDataset(parseIdx(makeIdx('uint8', [3, 1, 2, 3], px)), parseIdx(makeIdx('uint8', [3], [0, 5, 2])), { name: 't', limit: 2 });
    assert.deepEqual([ds.count, ds.height, ds.width, ds.channels, ds.numClasses], [2, 1, 2, 3, 6]);
    assert.equal(ds.images.length, 12);
    assert.deepEqual(Array.from(ds.labels), [0, 5]);
  });

  it('rejects mismatched counts, bad ranks and out-of-range labels', () => {
    const img = parseIdx(makeIdx('uint8', [2, 1, 1], [1, 2]));
    assert.throws(() => idxToDataset(img, parseIdx(makeIdx('uint8', [3], [0, 1, 2])), { name: 't' }), /idxToDataset: argument 'labels' is invalid: got '3 labels', expected 2 labels/);
    assert.throws(() => idxToDataset(parseIdx(makeIdx('uint8', [2], [1, 2])), parseIdx(makeIdx('uint8', [2], [0, 1])), { name: 't' }), /argument 'images' is invalid: got 'shape \[2\]'/);
    assert.throws(() => idxToDataset(img, parseIdx(makeIdx('uint8', [2], [0, 9])), { name: 't', numClasses: 5 }), /argument 'fields\.labels\[1\]' is invalid: got 9, expected a class in \[0, 4\]/);
    assert.throws(() => idxToDataset(img, parseIdx(makeIdx('float32', [2], [0, 1])), { name: 't' }), /argument 'labels' is invalid: got 'dtype float32'/);
  });
});

describe('readIdxFile', () => {
  it('reads plain and .gz files, and plain prefixes with a limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'batchfree-idx-'));
    try {
      const values = Array.from({ length: 5 * 2 * 3 }, (_, i) => (i * 37) % 256);
      const bytes = makeIdx('uint8', [5, 2, 3], values);
      writeFileSync(join(dir, 'a'), bytes);
      writeFileSync(join(dir, 'a.gz'), gzipSync(bytes));
      for (const f of ['a', 'a.gz']) {
        const all = readIdxFile(join(dir, f));
        assert.deepEqual(all.shape, [5, 2, 3]);
        assert.deepEqual(Array.from(all.data), values);
        const some = readIdxFile(join(dir, f), { limit: 2 });
        assert.deepEqual(some.shape, [2, 2, 3]);
        assert.deepEqual(Array.from(some.data), values.slice(0, 12));
      }
      const ints = makeIdx('int32', [4], [-1, 2, -3, 4]);
      writeFileSync(join(dir, 'i'), ints);
      assert.deepEqual(Array.from(readIdxFile(join(dir, 'i'), { limit: 3 }).data), [-1, 2, -3]);
      // A size mismatch is caught even when only a prefix is read.
      writeFileSync(join(dir, 'bad'), bytes.subarray(0, bytes.length - 1));
      assert.throws(() => readIdxFile(join(dir, 'bad'), { limit: 1 }), /readIdxFile: file '.*bad' is invalid: got 45 bytes, expected 46 bytes/);
      assert.throws(() => readIdxFile(join(dir, 'bad')), /parseIdx: file '.*bad' is invalid: got 45 bytes, expected 46 bytes/);
      assert.throws(() => readIdxFile(join(dir, 'nope')), /readIdxFile: argument 'path' is invalid: got '.*nope', expected an existing IDX file/);
      assert.throws(() => readIdxFile(join(dir, 'a'), { limit: -1 }), /argument 'options\.limit' is invalid/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
