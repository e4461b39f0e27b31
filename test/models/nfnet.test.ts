import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { classifierLayerName } from '../../src/models/common.js';
import { GroupedConv2D } from '../../src/models/nf_layers.js';
import { NFNET_ARCHITECTURES, nfNet } from '../../src/models/nfnet.js';
import { assertClose, useCpu } from '../helpers.js';
import { assertRoundTrip, assertSaneStep, batch, layersOf, predict, randomizeWeights, sgdStep } from './model_helpers.js';

/** A two-stage NFNet small enough for the cpu backend's convolution gradients. */
const mini = { inputShape: [8, 8, 3] as [number, number, number], numClasses: 4, depths: [1, 1], widths: [8, 16], groupWidth: 2, stemWidth: 4, seed: 11 };

describe('nfNet', () => {
  before(useCpu);

  it("builds the 'tiny' variant for 28x28 inputs with NFNet-F blocks", () => {
    const model = nfNet({ inputShape: [28, 28, 1], numClasses: 10 });
    assert.deepEqual(model.outputs[0].shape, [null, 10]);
    assert.deepEqual(['s1b1_add', 's2b1_add', 's3b1_add', 'pool'].map((n) => model.getLayer(n).outputShape), [[null, 28, 28, 32], [null, 14, 14, 64], [null, 7, 7, 128], [null, 256]]);
    // A forward pass (at 12x12: the cpu backend's convolutions are slow).
    const small = nfNet({ inputShape: [12, 12, 1], numClasses: 10, seed: 1 });
    const { x } = batch(small, 1, 1);
    assert.equal(predict(small, x).length, 10);
    const arch = NFNET_ARCHITECTURES.tiny;
    const blocks = arch.depths.reduce((a, b) => a + b, 0);
    const grouped = layersOf(model, 'GroupedConv2D') as GroupedConv2D[];
    assert.equal(grouped.length, 2 * blocks);
    // Bottleneck width = width / 2, groups = bottleneck / group width (8): 16/8, 32/8, 64/8.
    assert.deepEqual(grouped.map((l) => l.groups), [2, 2, 4, 4, 8, 8]);
    assert.deepEqual(grouped.map((l) => l.strides), [1, 1, 2, 1, 2, 1]);
    assert.equal(layersOf(model, 'SqueezeExcite').length, blocks);
    assert.equal(layersOf(model, 'SkipGain').length, blocks);
    assert.deepEqual(layersOf(model, 'ScaledActivation').map((l) => l.getConfig().activation).filter((a) => a !== 'gelu'), []);
    assert.equal(model.getLayer('final_conv').getConfig().filters, 2 * arch.widths[2]);
    assert.equal(model.getLayer('dropout').getConfig().rate, 0.2);
    assertClose(layersOf(model, 'StochasticDepth').map((l) => l.getConfig().rate as number), [0.1 / 3, 0.2 / 3], 1e-12, 'stochastic depth rates');
    const params = model.countParams();
    assert.ok(params > 5e4 && params < 2e5, `tiny has ${params} parameters`);
    x.dispose();
  });

  it('trains with SGD and saves/loads', async () => {
    const model = nfNet({ ...mini, zeroInitClassifier: false });
    const { x, y } = batch(model, 2, 2);
    const first = sgdStep(model, x, y);
    assertSaneStep(first, 'nfnet step 1');
    const nonZero = (r: ReturnType<typeof sgdStep>) => [...r.grads].filter(([, g]) => g.some((v) => v !== 0)).map(([n]) => n);
    assert.ok(nonZero(first).includes('s1b1_skip_gain/gain') && nonZero(first).includes('s2b1_shortcut/kernel'));
    assert.ok(!nonZero(first).includes('s1b1_conv1/kernel'), 'branch weights get no gradient while the skip gain is 0');
    const second = sgdStep(model, x, y);
    assertSaneStep(second, 'nfnet step 2');
    for (const w of ['s1b1_conv0/kernel', 's1b1_conv1/kernel', 's1b1_conv1b/gain', 's2b1_conv2/kernel', 's2b1_se/w1']) {
      assert.ok(nonZero(second).includes(w), `${w} learns once the skip gain is non-zero`);
    }
    await assertRoundTrip(model, x, 'nfnet');
    tf.dispose([x, y]);
  });

  it('at initialisation the residual branches contribute nothing; the shortcuts read the activated, scaled input', () => {
    const model = nfNet({ ...mini, zeroInitClassifier: false });
    const { x } = batch(model, 2, 3);
    const y0 = predict(model, x);
    assert.ok(y0.some((v) => v !== 0));
    const branch = model.layers.filter((l) => /_(conv0|conv1|conv1b|conv2|se)$/.test(l.name));
    assert.equal(branch.length, 2 * 5);
    branch.forEach((l, i) => randomizeWeights(l, 50 + 10 * i));
    assert.deepEqual(predict(model, x), y0);
    const from = (name: string) => model.getLayer(name).inboundNodes[0].inboundLayers.map((l) => l.name);
    assert.deepEqual(from('s1b1_shortcut'), ['s1b1_act0'], 'stride 1, new width: 1x1 conv of the activated input');
    assert.deepEqual(from('s2b1_shortcut'), ['s2b1_pool'], 'stride 2: average pool then 1x1 conv');
    assert.deepEqual(from('s2b1_pool'), ['s2b1_act0']);
    assert.deepEqual(from('s1b1_act0'), ['s1b1_in_scale']);
    // Both blocks are transitions: each input scale is 1 / sqrt(1) and 1 / sqrt(1 + alpha^2).
    assertClose(layersOf(model, 'ConstantScale').map((l) => l.getConfig().scale as number), [1, 1 / Math.sqrt(1.04)], 1e-12, 'betas');
    layersOf(model, 'SkipGain').forEach((l) => l.setWeights([tf.scalar(0.5)]));
    assert.notDeepEqual(predict(model, x), y0);
    x.dispose();
  });

  it('has a zero-initialised classifier by default', () => {
    const model = nfNet(mini);
    assert.ok(model.getLayer(classifierLayerName).getWeights()[0].dataSync().every((v) => v === 0));
  });

  it('rejects a norm, an unknown variant and a group width that does not divide the bottleneck', () => {
    assert.throws(() => nfNet({ ...mini, norm: 'gn' }), /nfNet: argument 'norm' is invalid: got 'gn'/);
    assert.throws(() => nfNet({ ...mini, variant: 'f0' as 'tiny' }), /nfNet: argument 'variant'.*'tiny', 'small'/);
    assert.throws(() => nfNet({ ...mini, groupWidth: 3 }), /nfNet: argument 'groupWidth'.*got 3.*4, 8/);
    assert.throws(() => nfNet({ ...mini, widths: [8, 16, 32] }), /argument 'widths'.*2 widths/);
    assert.throws(() => nfNet({ ...mini, expansion: 0 }), /argument 'expansion'/);
  });
});
