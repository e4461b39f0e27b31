/**
 * Node-only: the training progress bar (`cli-progress`) — steps of the epoch, images per second, running loss
 * and the epoch's ETA. It draws only on a TTY and never when `quiet`; otherwise every method is a no-op.
 * @module
 */
import cliProgress from 'cli-progress';

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** Never draw; default false. */
  quiet?: boolean;
  /** Stream to draw on; default `process.stderr` (stdout stays clean for the summary). */
  stream?: NodeJS.WriteStream;
}

/** A progress bar per epoch. */
export class ProgressBar {
  private readonly bar?: cliProgress.SingleBar;
  private active = false;

  constructor(options: ProgressOptions = {}) {
    const stream = options.stream ?? process.stderr;
    if (options.quiet === true || stream.isTTY !== true) return;
    this.bar = new cliProgress.SingleBar({
      stream,
      format: 'epoch {epoch} |{bar}| {value}/{total} steps | {rate} img/s | loss {loss} | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      barsize: 24,
    }, cliProgress.Presets.shades_classic);
  }

  /** Whether the bar draws at all (a TTY and not quiet). */
  get enabled(): boolean {
    return this.bar !== undefined;
  }

  /** Starts the bar of epoch `epoch` (1-based label `epoch/epochs`) at step `done` of `total`. */
  startEpoch(epoch: number, epochs: number, done: number, total: number): void {
    if (this.bar === undefined) return;
    this.stop();
    this.bar.start(total, done, { epoch: `${epoch}/${epochs}`, rate: '-', loss: '-' });
    this.active = true;
  }

  /** Moves to step `done` of the epoch, showing the rate (images/s) and the running loss. */
  update(done: number, imagesPerSecond: number, loss: number): void {
    if (this.bar === undefined || !this.active) return;
    this.bar.update(done, { rate: formatRate(imagesPerSecond), loss: Number.isFinite(loss) ? loss.toFixed(4) : String(loss) });
  }

  /** Removes the bar (before printing a line, at the end, or on an error). */
  stop(): void {
    if (this.bar === undefined || !this.active) return;
    this.bar.stop();
    this.active = false;
  }
}

/** `1234.5` → `'1235'`, `12.34` → `'12.3'`, `0.1234` → `'0.123'`. */
export function formatRate(v: number): string {
  if (!Number.isFinite(v) || v <= 0) return '-';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(3);
}
