import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { powerDecomposition, channelLinearity, summarize } from '../../src/diagnostics/power_decomposition.js';
import { randn, tensor, useCpu, assertNoLeak } from '../helpers.js';

describe('powerDecomposition (PN paper eq. 5)', () => {
  before(useCpu);

  it('its four terms add up to E[y^2] per channel, computed directly in float64', () => {
    const y = randn([6, 4, 5, 3], 1, 1.5, 0.7);
    const d = powerDecomposition(tensor(y));
    const [N, H, W, C] = y.shape;
    for (let c = 0; c < C; c++) {
      let p = 0;
      for (let i = c; i < y.data.length; i += C) p += y.data[i] ** 2;
      p /= N * H * W;
      assert.ok(Math.abs(d.power[c] - p) <= 1e-5 * p, `channel ${c}: ${d.power[c]} vs ${p}`);
    }
    assert.ok(Math.abs(d.shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  });

  it('computes each term as defined: a hand-made set with known instance statistics', () => {
    // Two inputs, one channel, two positions: input 0 = {1, 3} (m 2, s 1), input 1 = {-1, 5} (m 2, s 3).
    const y = tf.tensor4d([1, 3, -1, 5], [2, 1, 2, 1]);
    const d = powerDecomposition(y);
    assert.ok(Math.abs(d.datasetScale[0] - 4) < 1e-9);            // mean(m)^2 = 2^2
    assert.ok(Math.abs(d.instanceMeanVariability[0] - 0) < 1e-9); // var(m) = 0
    assert.ok(Math.abs(d.instanceScale[0] - 4) < 1e-9);            // mean(s)^2 = 2^2
    assert.ok(Math.abs(d.instanceSpreadVariability[0] - 1) < 1e-9); // var(s) = 1
    assert.ok(Math.abs(d.power[0] - 9) < 1e-9);                    // (1+9+1+25)/4
  });

  it('instance-normalised maps have only term (3)', () => {
    const y = tf.tidy(() => {
      const x = tensor(randn([5, 4, 4, 3], 2, 2, 1));
      const m = tf.mean(x, [1, 2], true);
      const v = tf.mean(tf.square(tf.sub(x, m)), [1, 2], true);
      return tf.div(tf.sub(x, m), tf.sqrt(v));
    });
    const d = powerDecomposition(y);
    assert.ok(d.shares[0] < 1e-10 && d.shares[1] < 1e-10 && d.shares[3] < 1e-10, `shares ${d.shares}`);
    assert.ok(Math.abs(d.shares[2] - 1) < 1e-6);
  });

  it('rejects a single input and a wrong rank', () => {
    assert.throws(() => powerDecomposition(tf.zeros([1, 2, 2, 3])), /argument 'y'.*at least 2 inputs/);
    assert.throws(() => powerDecomposition(tf.zeros([2, 3])), /argument 'y'.*rank 4/);
  });

  it('leaks nothing', () => {
    const y = tf.randomNormal([3, 2, 2, 2]);
    assertNoLeak(() => powerDecomposition(y));
    y.dispose();
  });
});

describe('channelLinearity', () => {
  before(useCpu);
  it('is 1 for an affine activation and 0.5/(1-1/pi) for ReLU on a centred Gaussian', () => {
    const z = tensor(randn([20000, 2], 3));
    assert.ok(Math.abs(channelLinearity(z, tf.add(tf.mul(z, 3), 1)) - 1) < 1e-6);
    const relu = channelLinearity(z, tf.relu(z));
    const exact = 0.5 / (1 - 1 / Math.PI);
    assert.ok(Math.abs(relu - exact) < 0.01, `${relu} vs ${exact}`);
    // ReLU on inputs that are all positive acts linearly: the collapse the measure detects.
    assert.ok(Math.abs(channelLinearity(tf.add(z, 10), tf.relu(tf.add(z, 10))) - 1) < 1e-6);
  });
  it('rejects shapes that differ', () => {
    assert.throws(() => channelLinearity(tf.zeros([2, 3]), tf.zeros([2, 4])), /argument 'phiZ'/);
  });
});

describe('summarize', () => {
  it('gives the mean and a symmetric interval of 1.96 standard errors', () => {
    const s = summarize([[1, 10], [3, 10]]);
    assert.deepEqual(s.mean, [2, 10]);
    assert.ok(Math.abs(s.high[0] - (2 + 1.96 * Math.SQRT2 / Math.SQRT2)) < 1e-12);
    assert.equal(s.low[1], 10);
  });
});
