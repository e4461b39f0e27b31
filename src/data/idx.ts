/**
 * The IDX format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * `0x00 0x00 <type> <rank>`, `rank` big-endian uint32 dimensions, then the values, big-endian, row-major.
 * Gzip-compressed files (magic `1f 8b`) are recognised. Browser-safe: synchronous decompression needs a
 * `gunzip` function (the Node loaders pass `zlib.gunzipSync`); {@link parseIdxAsync} uses the platform's
 * `DecompressionStream` instead.
 * @module
 */
import { argumentError } from '../ops/validate.js';
import { bytesToUnitFloat, type Dataset, makeDataset } from './dataset.js';

/** Element types of IDX files, by their type byte. */
export type IdxDataType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
/** The typed array holding the values of each {@link IdxDataType}. */
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

const TYPES: Record<number, { dtype: IdxDataType; bytes: number }> = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
};

/** The header of an IDX file. */
export interface IdxHeader {
  dtype: IdxDataType;
  /** Dimensions, outermost first (e.g. `[60000, 28, 28]`). */
  shape: number[];
  /** Size of the header (`4 + 4 * rank`). */
  headerBytes: number;
  /** Size of one element. */
  elementBytes: number;
  /** Total file size implied by the header. */
  totalBytes: number;
}

/** A parsed IDX file. */
export interface IdxTensor {
  dtype: IdxDataType;
  shape: number[];
  /** Values in row-major order; for `uint8`/`int8` a view on the input bytes (no copy). */
  data: IdxArray;
}

/** Options of {@link parseIdx}. */
export interface ParseIdxOptions {
  /** What the bytes are, for error messages (e.g. a file path); default: the argument `bytes`. */
  source?: string;
  /** Synchronous gzip decompressor, required when the bytes are gzip-compressed (e.g. Node's `zlib.gunzipSync`). */
  gunzip?: (bytes: Uint8Array) => Uint8Array;
}

/** `op: <source> is invalid: got G, expected E`, the IDX flavour of {@link argumentError}. */
function idxError(op: string, source: string | undefined, given: string, expected: string): Error {
  return new Error(`${op}: ${source ?? "argument 'bytes'"} is invalid: got ${given}, expected ${expected}`);
}

/** True when `bytes` start with the gzip magic `1f 8b`. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const hex = (v: number, digits = 2): string => `0x${v.toString(16).padStart(digits, '0')}`;

/**
 * Reads and checks the header of uncompressed IDX bytes: the magic, the type byte, the rank (≥ 1) and that
 * the header is complete. Does not compare the total size with `bytes.length` (see {@link parseIdx}).
 * @param op name used in errors; default `'parseIdxHeader'`.
 */
export function parseIdxHeader(bytes: Uint8Array, source?: string, op = 'parseIdxHeader'): IdxHeader {
  if (!(bytes instanceof Uint8Array)) throw argumentError(op, 'bytes', typeof bytes, 'a Uint8Array');
  if (bytes.length < 4) throw idxError(op, source, `${bytes.length} bytes`, 'at least 4 bytes (an IDX header)');
  if (isGzip(bytes)) throw idxError(op, source, 'gzip-compressed bytes', 'uncompressed IDX bytes (decompress first)');
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw idxError(op, source, `magic ${hex(bytes[0])} ${hex(bytes[1])} ${hex(bytes[2])} ${hex(bytes[3])}`, 'an IDX magic 0x00 0x00 <type> <rank>');
  }
  const type = TYPES[bytes[2]];
  if (type === undefined) {
    throw idxError(op, source, `type byte ${hex(bytes[2])}`, 'one of 0x08 (uint8), 0x09 (int8), 0x0b (int16), 0x0c (int32), 0x0d (float32), 0x0e (float64)');
  }
  const rank = bytes[3];
  if (rank < 1) throw idxError(op, source, 'rank 0', 'rank >= 1 (the fourth byte of the magic)');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw idxError(op, source, `${bytes.length} bytes`, `at least ${headerBytes} bytes (header of a rank-${rank} IDX file)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const shape: number[] = [];
  let elements = 1;
  for (let d = 0; d < rank; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    elements *= n;
  }
  return { dtype: type.dtype, shape, headerBytes, elementBytes: type.bytes, totalBytes: headerBytes + elements * type.bytes };
}

/**
 * Decodes the values of IDX bytes whose header is `header` (big-endian to native order).
 * @param body the bytes after the header, at least `count` elements.
 * @internal
 */
export function decodeIdxValues(header: Pick<IdxHeader, 'dtype' | 'elementBytes'>, body: Uint8Array, count: number): IdxArray {
  switch (header.dtype) {
    case 'uint8': return body.subarray(0, count);
    case 'int8': return new Int8Array(body.buffer, body.byteOffset, count);
    default: {
      const view = new DataView(body.buffer, body.byteOffset, count * header.elementBytes);
      if (header.dtype === 'int16') {
        const out = new Int16Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false);
        return out;
      }
      if (header.dtype === 'int32') {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false);
        return out;
      }
      if (header.dtype === 'float32') {
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);
        return out;
      }
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

/**
 * Parses an IDX file held in memory, plain or gzip-compressed.
 *
 * Checks the magic (`00 00`), the type byte, the rank, and that the byte count equals the header's
 * `4 + 4 * rank + prod(shape) * elementSize` exactly; each error names the source and what was expected.
 * @param bytes the file's bytes.
 * @throws if the bytes are gzip-compressed and no `options.gunzip` is given (use {@link parseIdxAsync}).
 */
export function parseIdx(bytes: Uint8Array, options: ParseIdxOptions = {}): IdxTensor {
  const op = 'parseIdx';
  if (!(bytes instanceof Uint8Array)) throw argumentError(op, 'bytes', typeof bytes, 'a Uint8Array');
  let raw = bytes;
  if (isGzip(bytes)) {
    if (options.gunzip === undefined) {
      throw idxError(op, options.source, 'gzip-compressed bytes',
        "uncompressed IDX bytes, or options.gunzip (e.g. zlib.gunzipSync), or parseIdxAsync");
    }
    try {
      raw = options.gunzip(bytes);
    } catch (e) {
      throw idxError(op, options.source, `gzip bytes that fail to decompress (${(e as Error).message})`, 'a valid gzip stream');
    }
  }
  const header = parseIdxHeader(raw, options.source, op);
  if (raw.length !== header.totalBytes) {
    const elements = header.shape.reduce((a, b) => a * b, 1);
    throw idxError(op, options.source, `${raw.length} bytes`,
      `${header.totalBytes} bytes (header ${header.headerBytes} + ${header.shape.join('x')} = ${elements} ${header.dtype} values of ${header.elementBytes} byte(s))`);
  }
  const elements = (header.totalBytes - header.headerBytes) / header.elementBytes;
  const data = decodeIdxValues(header, raw.subarray(header.headerBytes), elements);
  return { dtype: header.dtype, shape: header.shape, data };
}

/** Gzip decompression with the platform's `DecompressionStream` (browsers, Node ≥ 18). */
export async function gunzipAsync(bytes: Uint8Array): Promise<Uint8Array> {
  const DS = (globalThis as { DecompressionStream?: new (format: string) => TransformStream<Uint8Array, Uint8Array> }).DecompressionStream;
  if (DS === undefined) throw new Error('gunzipAsync: this platform has no DecompressionStream; decompress the bytes yourself and call parseIdx');
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DS('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * {@link parseIdx} that decompresses gzip bytes itself (with `DecompressionStream`), for browsers.
 */
export async function parseIdxAsync(bytes: Uint8Array, options: Omit<ParseIdxOptions, 'gunzip'> = {}): Promise<IdxTensor> {
  if (bytes instanceof Uint8Array && isGzip(bytes)) {
    let raw: Uint8Array;
    try {
      raw = await gunzipAsync(bytes);
    } catch (e) {
      throw idxError('parseIdxAsync', options.source, `gzip bytes that fail to decompress (${(e as Error).message})`, 'a valid gzip stream');
    }
    return parseIdx(raw, options);
  }
  return parseIdx(bytes, options);
}

/** Options of {@link idxToDataset}. */
export interface IdxToDatasetOptions {
  /** Dataset name, e.g. `'mnist/train'`. */
  name: string;
  /** Number of classes; default: largest label + 1. */
  numClasses?: number;
  /** Class names (length `numClasses`). */
  classNames?: readonly string[];
  /** Keep only the first `limit` examples; default all. */
  limit?: number;
}

/**
 * A {@link Dataset} from an IDX image file (`[N,H,W]` or `[N,H,W,C]`; uint8 pixels scaled by 1/255, float
 * values kept) and an IDX label file (`[N]`, integer type).
 */
export function idxToDataset(images: IdxTensor, labels: IdxTensor, options: IdxToDatasetOptions): Dataset {
  const op = 'idxToDataset';
  if (images.shape.length !== 3 && images.shape.length !== 4) {
    throw argumentError(op, 'images', `shape [${images.shape.join(',')}]`, 'an IDX file of rank 3 [N,H,W] or 4 [N,H,W,C]');
  }
  if (labels.shape.length !== 1) throw argumentError(op, 'labels', `shape [${labels.shape.join(',')}]`, 'an IDX file of rank 1 [N]');
  const [n, height, width, channels = 1] = images.shape;
  if (labels.shape[0] !== n) throw argumentError(op, 'labels', `${labels.shape[0]} labels`, `${n} labels (one per image)`);
  if (labels.dtype === 'float32' || labels.dtype === 'float64') throw argumentError(op, 'labels', `dtype ${labels.dtype}`, 'an integer IDX type');
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
    throw argumentError(op, 'options.limit', options.limit, 'a whole number >= 0');
  }
  const count = options.limit === undefined ? n : Math.min(n, options.limit);
  const size = height * width * channels;
  let pixels: Float32Array;
  if (images.dtype === 'uint8') pixels = bytesToUnitFloat(images.data.subarray(0, count * size) as Uint8Array);
  else if (images.dtype === 'float32' || images.dtype === 'float64') pixels = Float32Array.from(images.data.subarray(0, count * size));
  else throw argumentError(op, 'images', `dtype ${images.dtype}`, 'uint8 (scaled by 1/255) or float32/float64 values in [0, 1]');
  let maxLabel = -1;
  const labelData = labels.data.subarray(0, count);
  for (let i = 0; i < count; i++) maxLabel = Math.max(maxLabel, labelData[i]);
  const numClasses = options.numClasses ?? Math.max(1, maxLabel + 1);
  const labelArray = labels.dtype === 'uint8' ? Uint8Array.from(labelData) : Int32Array.from(labelData);
  return makeDataset({
    images: pixels, labels: labelArray, count, height, width, channels, numClasses, name: options.name,
    ...(options.classNames === undefined ? {} : { classNames: options.classNames }),
  });
}
