/**
 * Memory check of `batchfree bench`: the number of live tensors (`tf.memory().numTensors`), the bytes they hold
 * and the process's resident set size over N training steps of the reference network, in-process. A training
 * loop that leaks nothing is flat: the same tensor count after every step, and an RSS that stops growing once the
 * backend's heap has reached its working size (the first steps, excluded from the comparison, allocate it). RSS
 * is compared after full garbage collections (V8's major collections come every few hundred steps: between them
 * the RSS of a loop that leaks nothing climbs ~20 KiB per step, then drops).
 * @module
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { tf } from '../engine.js';
import { init } from '../init.js';
import type { NormName } from '../layers/factory.js';
import { SGD } from '../optim/sgd.js';
import { type Trainable, trainableParams, trainStep } from '../train/loop.js';
import { benchNet, syntheticBatch } from './nets.js';

/** Options of {@link benchMemory}. */
export interface MemoryBenchOptions {
  /** Training steps; default 500. */
  steps?: number;
  /** Norm+activation of the reference network; default `'frn'`. */
  norm?: NormName;
  /** Backend; default `'wasm'` (with batchfree's kernels). */
  backend?: 'wasm' | 'cpu';
  /** Images per step; default 64. */
  batch?: number;
  /** Steps run before the first sample (allocation of the working set); default min(10, steps / 5), at least 1. */
  settle?: number;
  /** RSS growth between the first and the last full collection still called flat, MiB; default 4. */
  rssToleranceMiB?: number;
  /** Full garbage collections (then a sample of the retained RSS and JS heap) spread over the steps; default 10. */
  collections?: number;
  /** Samples kept in the result (evenly spaced, first and last included); default 50. */
  keepSamples?: number;
  log?: (line: string) => void;
}

/** A quantity's first and last sample and its largest rise above the first. */
export interface Drift {
  first: number;
  last: number;
  /** max over the samples of (sample - first). */
  maxDrift: number;
}

/** What the process retains after a full garbage collection following a step. */
export interface RetainedSample {
  step: number;
  rssMiB: number;
  heapMiB: number;
}

/** One sample, after a step. */
export interface MemorySample {
  step: number;
  tensors: number;
  tensorMiB: number;
  rssMiB: number;
}

/** What {@link benchMemory} measured. */
export interface MemoryBenchResult {
  norm: string;
  backend: string;
  batch: number;
  /** Steps run in all (the settling steps included). */
  steps: number;
  /** Steps before the first sample. */
  settle: number;
  tensors: Drift;
  /** Bytes held by tensors, MiB. */
  tensorMiB: Drift;
  rssMiB: Drift;
  /** RSS growth, MiB: last minus first {@link retained} sample. */
  rssGrowthMiB: number;
  /** Samples at the collection points, after a full collection when {@link collected}. */
  retained: RetainedSample[];
  /** Whether V8's full collection could be called (else the retained samples are plain ones). */
  collected: boolean;
  rssToleranceMiB: number;
  /** No tensor growth (the count never rose above the first sample) and RSS growth below the tolerance. */
  flat: boolean;
  /** Loss of the first and the last step. */
  firstLoss: number;
  lastLoss: number;
  /** Evenly spaced samples (at most `keepSamples`). */
  samples: MemorySample[];
}

const MiB = 2 ** 20;

function drift(values: number[]): Drift {
  const first = values[0];
  return { first, last: values[values.length - 1], maxDrift: Math.max(...values.map((v) => v - first)) };
}

/** V8's full garbage collection: `globalThis.gc` when exposed, else the flag is turned on and `gc` fetched from a fresh context. */
function fullCollector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Trains the reference network `steps` steps and samples tensors and RSS after each one past the settling steps. */
export async function benchMemory(options: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const { steps = 500, norm = 'frn', backend = 'wasm', batch: batchSize = 64, rssToleranceMiB = 4, keepSamples = 50, collections = 10, log = () => undefined } = options;
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`benchMemory: argument 'steps' is invalid: got ${steps}, expected a whole number >= 2`);
  const settle = Math.max(1, Math.min(options.settle ?? Math.min(10, Math.floor(steps / 5)), steps - 1));
  await init({ backend });
  const net = benchNet('reference', norm);
  const t: Trainable = { model: net, optimizer: new SGD({ momentum: 0.9 }), params: trainableParams(net) };
  const batch = syntheticBatch(batchSize);
  const all: MemorySample[] = [];
  const retained: RetainedSample[] = [];
  const gc = fullCollector();
  const collectEvery = Math.max(1, Math.floor((steps - settle) / Math.max(1, collections)));
  const losses: number[] = [];
  log(`memory: ${steps} steps of the reference network (${norm}, ${backend}, batch ${batchSize})...`);
  try {
    for (let step = 0; step < steps; step++) {
      losses.push(trainStep(t, batch, { lr: 0.01, numClasses: 10, step, seed: 1 }).loss);
      if (step + 1 < settle) continue;
      const m = tf.memory();
      all.push({ step: step + 1, tensors: m.numTensors, tensorMiB: m.numBytes / MiB, rssMiB: process.memoryUsage.rss() / MiB });
      if ((step + 1 - settle) % collectEvery === 0 || step + 1 === steps) {
        gc?.();
        const u = process.memoryUsage();
        retained.push({ step: step + 1, rssMiB: u.rss / MiB, heapMiB: u.heapUsed / MiB });
      }
      if ((step + 1) % 100 === 0) log(`  step ${step + 1}: ${m.numTensors} tensors, RSS ${(process.memoryUsage.rss() / MiB).toFixed(1)} MiB`);
    }
  } finally {
    t.optimizer.dispose();
    net.dispose();
    tf.dispose([batch.x, batch.y]);
  }
  const tensors = drift(all.map((s) => s.tensors));
  const rssMiB = drift(all.map((s) => s.rssMiB));
  const rssGrowthMiB = retained[retained.length - 1].rssMiB - retained[0].rssMiB;
  const stride = Math.max(1, Math.ceil(all.length / Math.max(2, keepSamples)));
  const samples = all.filter((_s, i) => i % stride === 0 || i === all.length - 1);
  return {
    norm, backend: tf.getBackend(), batch: batchSize, steps, settle, tensors, tensorMiB: drift(all.map((s) => s.tensorMiB)), rssMiB,
    rssGrowthMiB, retained, collected: gc !== undefined, rssToleranceMiB, flat: tensors.maxDrift === 0 && rssGrowthMiB < rssToleranceMiB,
    firstLoss: losses[0], lastLoss: losses[losses.length - 1], samples,
  };
}
