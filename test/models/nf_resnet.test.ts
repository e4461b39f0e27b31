import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../../src/engine.js';
import { scaledActivationGain } from '../../src/ops/activations.js';
import { classifierLayerName } from '../../src/models/common.js';
import { nfResNet } from '../../src/models/nf_resnet.js';
import { assertClose, useCpu } from '../helpers.js';
import { assertRoundTrip, assertSaneStep, batch, layersOf, predict, randomizeWeights, sgdStep } from './model_helpers.js';

const small = { depth: 8, widths: [4, 8, 8], inputShape: [8, 8, 3] as [number, number, number], numClasses: 5, seed: 7 };

describe('nfResNet', () => {
  before(useCpu);

  it('builds, trains one SGD step and saves/loads (with stochastic depth and dropout)', async () => {
    const model = nfResNet({ ...small, stochasticDepth: 0.3, dropout: 0.2, activation: 'gelu' });
    const { x, y } = batch(model, 2, 1);
    assert.equal(predict(model, x).length, 2 * 5);
    // Zero classifier and zero skip gains (SkipInit): the gradient reaches one more level of the network per step.
    const nonZero = (r: ReturnType<typeof sgdStep>) => [...r.grads].filter(([, g]) => g.some((v) => v !== 0)).map(([n]) => n);
    const first = sgdStep(model, x, y);
    assertSaneStep(first, 'nf-resnet step 1');
    assert.deepEqual(nonZero(first).sort(), [`${classifierLayerName}/bias`, `${classifierLayerName}/kernel`]);
    const second = sgdStep(model, x, y);
    assertSaneStep(second, 'nf-resnet step 2');
    assert.ok(nonZero(second).filter((n) => n.endsWith('skip_gain/gain')).length === 3, 'every skip gain learns at step 2');
    assert.ok(!nonZero(second).includes('s1b1_conv2/kernel'));
    const third = sgdStep(model, x, y);
    assertSaneStep(third, 'nf-resnet step 3');
    assert.ok(nonZero(third).includes('s1b1_conv2/kernel'), 'the residual branches learn once their skip gain is non-zero');
    await assertRoundTrip(model, x, 'nf-resnet');
    tf.dispose([x, y]);
  });

  it('uses Scaled WS convolutions, scaled activations, zero skip gains and a zero classifier, and no norm', () => {
    const model = nfResNet({ ...small, activation: 'silu' });
    const classes = new Set(model.layers.map((l) => l.getClassName()));
    for (const c of ['Conv2D', 'batchfree>BatchNormalization', 'batchfree>GroupNormalization']) assert.ok(!classes.has(c), c);
    assert.equal(layersOf(model, 'ScaledWSConv2D').length, 1 + 2 * 3 + 2);
    const acts = layersOf(model, 'ScaledActivation');
    assert.equal(acts.length, 2 * 3 + 1);
    assert.ok(acts.every((l) => l.getConfig().activation === 'silu'));
    const gains = layersOf(model, 'SkipGain');
    assert.equal(gains.length, 3);
    assert.ok(gains.every((l) => l.getWeights()[0].dataSync()[0] === 0 && l.getConfig().alpha === 0.2));
    assert.ok(model.getLayer(classifierLayerName).getWeights()[0].dataSync().every((v) => v === 0));
    assert.ok(nfResNet({ ...small, zeroInitClassifier: false }).getLayer(classifierLayerName).getWeights()[0].dataSync().some((v) => v !== 0));
  });

  it('divides each block input by sqrt of the expected variance, reset after each transition block', () => {
    const alpha = 0.3, a2 = alpha * alpha;
    // depth 20 = 3 stages x 3 blocks; stem width 4 = widths[0]: s1b1 keeps the identity shortcut,
    // s2b1 and s3b1 are transition blocks (stride 2, new width).
    const model = nfResNet({ ...small, depth: 20, widths: [4, 8, 8], alpha });
    const expectedVar = [1, 1 + a2, 1 + 2 * a2, 1 + 3 * a2, 1 + a2, 1 + 2 * a2, 1 + 3 * a2, 1 + a2, 1 + 2 * a2];
    const scales = layersOf(model, 'ConstantScale').map((l) => l.getConfig().scale as number);
    assertClose(scales, expectedVar.map((v) => 1 / Math.sqrt(v)), 1e-12, 'input scales');
    assert.deepEqual(layersOf(model, 'ScaledWSConv2D').filter((l) => l.name.endsWith('shortcut')).map((l) => l.name), ['s2b1_shortcut', 's3b1_shortcut']);
    // The transition shortcut reads the activated, scaled input.
    assert.equal(model.getLayer('s2b1_shortcut').inboundNodes[0].inboundLayers[0].name, 's2b1_act1');
    assert.equal(model.getLayer('s2b1_act1').inboundNodes[0].inboundLayers[0].name, 's2b1_in_scale');
  });

  it('at initialisation (skip gains 0) the residual branches contribute nothing', () => {
    const model = nfResNet({ ...small, depth: 14, zeroInitClassifier: false });
    const { x } = batch(model, 2, 3);
    const branchConvs = layersOf(model, 'ScaledWSConv2D').filter((l) => /_conv[12]$/.test(l.name));
    assert.equal(branchConvs.length, 12);
    const y0 = predict(model, x);
    assert.ok(y0.some((v) => v !== 0));
    branchConvs.forEach((l, i) => randomizeWeights(l, 100 + 10 * i));
    assert.deepEqual(predict(model, x), y0, 'branch weights do not matter');
    // Each block's output is its shortcut: identity blocks return their input exactly.
    const probe = tfl.model({ inputs: model.inputs, outputs: [model.getLayer('s1b1_add').output, model.getLayer('stem_conv').output, model.getLayer('s2b2_add').output, model.getLayer('s2b1_add').output] as tfl.SymbolicTensor[] });
    const [a, b, c, d] = probe.predict(x) as tf.Tensor[];
    assert.deepEqual(a.dataSync(), b.dataSync());
    assert.deepEqual(c.dataSync(), d.dataSync());
    // With a non-zero skip gain the same perturbation changes the output.
    layersOf(model, 'SkipGain').forEach((l) => l.setWeights([tf.scalar(1)]));
    const y1 = predict(model, x);
    randomizeWeights(branchConvs[3], 999);
    assert.notDeepEqual(predict(model, x), y1);
    tf.dispose([x, a, b, c, d]);
  });

  it('keeps the signal at unit scale at initialisation (scaled activations, scaled WS)', () => {
    // At init every block returns its shortcut, so the pre-pooling activation is act(stem or last projection):
    // with unit-variance inputs its variance should be close to 1 (ReLU gain sqrt(2/(1-1/pi))).
    const model = nfResNet({ ...small, widths: [16, 16, 16], depth: 8, inputShape: [16, 16, 4] });
    const { x } = batch(model, 8, 5);
    const probe = tfl.model({ inputs: model.inputs, outputs: model.getLayer('s1b1_act1').output as tfl.SymbolicTensor });
    const v = probe.predict(x) as tf.Tensor;
    const { variance } = tf.moments(v);
    const got = variance.dataSync()[0];
    assert.ok(got > 0.7 && got < 1.3, `variance after the first scaled activation ${got}`);
    assert.ok(Math.abs(scaledActivationGain('relu') - Math.sqrt(2 / (1 - 1 / Math.PI))) < 1e-9);
    tf.dispose([x, v, variance]);
  });

  it('schedules the stochastic depth rates linearly over the blocks and drops nothing at inference', () => {
    const model = nfResNet({ ...small, depth: 14, stochasticDepth: 0.6 });
    const rates = layersOf(model, 'StochasticDepth').map((l) => l.getConfig().rate as number);
    assertClose(rates, [1, 2, 3, 4, 5].map((i) => (0.6 * i) / 6), 1e-12, 'rates (block 0 has none)');
    const { x } = batch(model, 2, 9);
    assert.deepEqual(predict(model, x), predict(model, x));
    x.dispose();
  });

  it('a seeded model draws its stochastic-depth masks repeatably, each block its own', () => {
    const seeds = layersOf(nfResNet({ ...small, depth: 14, stochasticDepth: 0.6 }), 'StochasticDepth').map((l) => l.getConfig().seed as number);
    assert.equal(new Set(seeds).size, seeds.length);
    assert.ok(seeds.every((s, i) => i === 0 || Math.abs(s - seeds[i - 1]) > 1e5), `block seeds far apart: ${seeds}`);
    const masks = () => {
      const model = nfResNet({ ...small, depth: 14, stochasticDepth: 0.6 });
      const x = tf.ones([16, 1, 1, 1]);
      const out = layersOf(model, 'StochasticDepth').flatMap((l) => [0, 1].map(() => {
        const y = l.apply(x, { training: true }) as tf.Tensor;
        const v = [...y.dataSync()];
        y.dispose();
        return v;
      }));
      x.dispose();
      return out;
    };
    const first = masks();
    assert.deepEqual(masks(), first);
    assert.notDeepEqual(first[first.length - 2], first[first.length - 1], 'a new mask at each call (last block, rate 0.5)');
    assert.deepEqual(layersOf(nfResNet({ ...small, seed: undefined, depth: 14, stochasticDepth: 0.6 }), 'StochasticDepth').map((l) => l.getConfig().seed), [undefined, undefined, undefined, undefined, undefined]);
  });

  it('rejects a norm, a bad depth and bad rates, naming the argument', () => {
    assert.throws(() => nfResNet({ ...small, norm: 'bn' }), /nfResNet: argument 'norm' is invalid: got 'bn'.*'none'/);
    assert.doesNotThrow(() => nfResNet({ ...small, norm: 'none' }));
    assert.throws(() => nfResNet({ ...small, depth: 9 }), /nfResNet: argument 'depth'.*got 9/);
    assert.throws(() => nfResNet({ ...small, alpha: 0 }), /argument 'alpha'/);
    assert.throws(() => nfResNet({ ...small, stochasticDepth: 1 }), /argument 'stochasticDepth'/);
    assert.throws(() => nfResNet({ ...small, dropout: -0.1 }), /argument 'dropout'/);
    assert.throws(() => nfResNet({ ...small, activation: 'softplus' as 'relu' }), /argument 'activation'/);
  });
});
