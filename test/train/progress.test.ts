import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatRate, ProgressBar } from '../../src/train/progress.js';

/** A stand-in for a terminal (or a pipe, with isTTY false) that records what is written. */
function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, columns: 120, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('progress bar', () => {
  test('draws the epoch, steps, images/s, loss and ETA on a terminal', () => {
    const stream = fakeStream(true);
    const bar = new ProgressBar({ stream });
    assert.equal(bar.enabled, true);
    bar.startEpoch(2, 3, 0, 10);
    bar.update(4, 123.4, 1.23456);
    bar.stop();
    assert.match(stream.text, /epoch 2\/3 \|.*\| 4\/10 steps \| 123 img\/s \| loss 1\.2346 \| ETA \S+/);
  });

  test('silent when quiet or when the stream is not a terminal', () => {
    for (const [quiet, tty] of [[true, true], [false, false]]) {
      const stream = fakeStream(tty);
      const bar = new ProgressBar({ stream, quiet });
      assert.equal(bar.enabled, false);
      bar.startEpoch(1, 1, 0, 5);
      bar.update(3, 10, 0.5);
      bar.stop();
      assert.equal(stream.text, '', `quiet ${quiet}, tty ${tty}`);
    }
  });

  test('rates', () => {
    assert.equal(formatRate(1234.5), '1235');
    assert.equal(formatRate(12.34), '12.3');
    assert.equal(formatRate(0.1234), '0.123');
    assert.equal(formatRate(0), '-');
    assert.equal(formatRate(NaN), '-');
  });
});
