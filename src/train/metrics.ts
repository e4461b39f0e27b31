/**
 * Node-only: the run's metrics file, `<out>/metrics.jsonl` — one JSON object per line, appended as the run
 * goes. Every line has a `type`: `'start'` (config), `'step'` (every `logEvery` steps), `'epoch'` (training
 * and evaluation figures), `'resume'`, `'diverged'`, `'end'` (summary).
 * @module
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** File name of the metrics inside the output directory. */
export const METRICS_FILE = 'metrics.jsonl';

/** One metrics line. */
export interface MetricsLine {
  type: 'start' | 'step' | 'epoch' | 'resume' | 'diverged' | 'end';
  [key: string]: unknown;
}

/**
 * Appends metrics lines to `<out>/metrics.jsonl` and keeps them in memory (the checkpoint stores the lines
 * written so far, so that a resumed run rewrites the file as it was at the checkpoint).
 */
export class MetricsLog {
  readonly path: string;
  private readonly kept: MetricsLine[];

  /**
   * @param outDir the run's output directory (created if needed).
   * @param previous the lines of a checkpoint to continue from: the file is rewritten with exactly them
   *   (dropping lines a killed run wrote after its last checkpoint). Omitted: the file starts empty.
   */
  constructor(outDir: string, previous: readonly MetricsLine[] = []) {
    this.path = join(outDir, METRICS_FILE);
    mkdirSync(dirname(this.path), { recursive: true });
    this.kept = previous.map((l) => ({ ...l }));
    writeFileSync(this.path, this.kept.map((l) => `${JSON.stringify(l)}\n`).join(''));
  }

  /** Appends one line (to the file at once, synchronously, so a killed run loses nothing written). */
  append(line: MetricsLine): void {
    this.kept.push(line);
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }

  /** Every line so far (copies). */
  lines(): MetricsLine[] {
    return this.kept.map((l) => ({ ...l }));
  }
}
