import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { randomNetPowerPlot, periodicConv2d } from '../../src/diagnostics/random_nets.js';
import { assertClose, randn, tensor, useCpu, values, assertNoLeak } from '../helpers.js';

describe('periodicConv2d', () => {
  before(useCpu);
  it('equals a naive float64 convolution with wrapped indices', () => {
    const [B, H, W, Ci, Co, K] = [2, 5, 4, 3, 2, 3];
    const x = randn([B, H, W, Ci], 1), k = randn([K, K, Ci, Co], 2);
    const want = new Float64Array(B * H * W * Co);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let o = 0; o < Co; o++) {
      let s = 0;
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) for (let c = 0; c < Ci; c++) {
        const hh = (h + i - 1 + H) % H, ww = (w + j - 1 + W) % W;
        s += x.data[((b * H + hh) * W + ww) * Ci + c] * k.data[((i * K + j) * Ci + c) * Co + o];
      }
      want[((b * H + h) * W + w) * Co + o] = s;
    }
    assertClose(values(periodicConv2d(tensor(x) as tf.Tensor4D, tensor(k) as tf.Tensor4D)), want, 1e-5, 'periodic conv');
  });
});

describe('randomNetPowerPlot (PN paper Fig. 2, small)', () => {
  before(useCpu);
  const opts = { depth: 16, width: 16, size: 6, inputs: 12, realisations: 2, groups: 4 };
  const lateMean = (v: number[]) => v.slice(v.length / 2).reduce((a, b) => a + b, 0) / (v.length / 2);
  const last = opts.depth - 1;

  it('BN keeps the dataset-scale share at 0; LN collapses towards it with depth; LN+PN stays near BN', () => {
    const bn = randomNetPowerPlot({ norm: 'bn', ...opts });
    const ln = randomNetPowerPlot({ norm: 'ln', ...opts });
    const lnpn = randomNetPowerPlot({ norm: 'ln+pn', ...opts });
    assert.ok(bn.shares[0].mean.every((v) => v < 1e-6), `BN term (1): ${bn.shares[0].mean}`);
    assert.ok(ln.shares[0].mean[last] > 0.3, `LN term (1) at depth ${opts.depth}: ${ln.shares[0].mean[last]}`);
    assert.ok(ln.shares[0].mean[last] > 5 * ln.shares[0].mean[0], 'LN term (1) grows with depth');
    assert.ok(lnpn.shares[0].mean[last] < 0.1, `LN+PN term (1): ${lnpn.shares[0].mean[last]}`);
    assert.ok(lateMean(ln.linearity.mean) > lateMean(bn.linearity.mean), `LN makes the deep activations more channel-wise linear than BN: ${lateMean(ln.linearity.mean)} vs ${lateMean(bn.linearity.mean)}`);
  });

  it('IN has no instance variability: terms (2) and (4) are 0', () => {
    const inorm = randomNetPowerPlot({ norm: 'in', ...opts, depth: 4 });
    for (const t of [1, 3]) assert.ok(inorm.shares[t].mean.every((v) => v < 1e-6), `IN term (${t + 1})`);
  });

  it('returns intervals around the mean, leaks nothing, and rejects bad options', () => {
    assertNoLeak(() => {
      const p = randomNetPowerPlot({ norm: 'gn+pn', ...opts, depth: 3 });
      p.shares.forEach((s) => s.mean.forEach((m, l) => assert.ok(s.low[l] <= m && m <= s.high[l])));
    });
    assert.throws(() => randomNetPowerPlot({ norm: 'xx' as 'bn' }), /argument 'norm'.*one of 'bn'/);
    assert.throws(() => randomNetPowerPlot({ norm: 'gn', width: 6, groups: 4, depth: 1 }), /argument 'groups'/);
    assert.throws(() => randomNetPowerPlot({ norm: 'bn', depth: 0 }), /argument 'depth'/);
  });
});
