import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/engine.js';
import { ACTIVATION_NAMES, ActivationName, activate, scaledActivation, scaledActivationGain } from '../../src/ops/activations.js';
import { assertClose, assertMatchesReference, assertNoLeak, randn, tensor, useCpu, values } from '../helpers.js';
import { ACTIVATION_REFERENCE, Phi, SELU_ALPHA, SELU_SCALE } from './references.js';

/** DeepMind's Monte-Carlo table (nfnets/base.py, via METHODS.md §4). */
const DEEPMIND_GAINS: Record<string, number> = {
  relu: 1.7139588594436646, gelu: 1.7015043497085571, silu: 1.7881293296813965, tanh: 1.5939117670059204,
  elu: 1.2716004848480225, selu: 1.0008515119552612, identity: 1,
};

describe('activate', () => {
  before(useCpu);

  it('the test-side normal CDF is right (sanity of the reference)', () => {
    assert.ok(Math.abs(Phi(0) - 0.5) < 1e-15);
    assert.ok(Math.abs(Phi(1) - 0.8413447460685429) < 1e-14);
    assert.ok(Math.abs(Phi(-2.5) - 0.006209665325776132) < 1e-15);
    assert.ok(Math.abs(Phi(-3) / 0.0013498980316300946 - 1) < 1e-12);
    assert.ok(Math.abs(Phi(-5) / 2.866515718791939e-7 - 1) < 1e-12);
    assert.ok(Math.abs(Phi(-8) / 6.220960574271785e-16 - 1) < 1e-12);
    assert.ok(Math.abs(Phi(1.9999) - Phi(2.0001) + 2e-4 * Math.exp(-2) / Math.sqrt(2 * Math.PI)) < 1e-9);
  });

  for (const name of ACTIVATION_NAMES) {
    for (const [k, scale] of [1, 1e-4, 1e3].entries()) {
      it(`${name} matches the float64 reference and its finite-difference gradient, magnitude ${scale}`, () => {
        const shape = k === 0 ? [2, 3, 3, 4] : [3, 5];
        const x = randn(shape, 100 + k, scale), dy = randn(shape, 200 + k);
        const ref = (xs: Float64Array[]) => xs[0].map(ACTIVATION_REFERENCE[name]);
        assertMatchesReference((a) => activate(a, name), ref, [x], dy, ['x'], { forward: 1e-5 });
      });
    }
  }

  it('swish is silu, and identity returns a tensor that can be disposed on its own', () => {
    const x = tensor(randn([4, 3], 7));
    assert.deepEqual(values(activate(x, 'swish')), values(activate(x, 'silu')));
    const y = activate(x, 'identity');
    y.dispose();
    assert.equal(x.isDisposed, false);
    x.dispose();
  });

  it('rejects an unknown name with an error naming activation and the choices', () => {
    assert.throws(() => activate(tf.zeros([2]), 'mish' as ActivationName), /activate: argument 'activation'.*'mish'.*'relu', 'gelu', 'silu'/);
    assert.throws(() => scaledActivationGain('softplus' as ActivationName), /scaledActivationGain: argument 'activation'/);
  });

  it('leaks no tensor, forward or backward', () => {
    const x = tf.randomNormal([2, 3, 3, 4]);
    for (const name of ACTIVATION_NAMES) {
      assertNoLeak(() => activate(x, name).dispose(), `${name} forward`);
      assertNoLeak(() => scaledActivation(x, name).dispose(), `${name} scaled forward`);
      assertNoLeak(() => tf.grad((a: tf.Tensor) => tf.sum(scaledActivation(a, name)))(x).dispose(), `${name} backward`);
    }
    x.dispose();
  });
});

describe('scaledActivationGain', () => {
  before(useCpu);

  it('relu: exactly sqrt(2 / (1 - 1/pi)) = 1.712859 to 1e-6', () => {
    const exact = Math.sqrt(2 / (1 - 1 / Math.PI));
    assert.ok(Math.abs(exact - 1.712859) < 1e-6);
    assert.ok(Math.abs(scaledActivationGain('relu') - exact) < 1e-6, `${scaledActivationGain('relu')}`);
  });

  it('gelu, elu, selu: match closed forms derived from Stein\'s lemma and E[exp(tz); z<0] = exp(t^2/2) Phi(-t)', () => {
    // gelu: E[z Phi(z)] = 1/(2 sqrt pi), E[z^2 Phi(z)^2] = 1/3 + 1/(2 pi sqrt 3).
    const geluVar = 1 / 3 + 1 / (2 * Math.PI * Math.sqrt(3)) - 1 / (4 * Math.PI);
    // elu (alpha 1): E = 1/sqrt(2pi) + e^(1/2) Phi(-1) - 1/2; E2 = 1 + e^2 Phi(-2) - 2 e^(1/2) Phi(-1).
    const a = Math.exp(0.5) * Phi(-1), b = Math.exp(2) * Phi(-2), pos = 1 / Math.sqrt(2 * Math.PI);
    const eluVar = (1 + b - 2 * a) - (pos + a - 0.5) ** 2;
    const seluMean = SELU_SCALE * (pos + SELU_ALPHA * (a - 0.5));
    const seluVar = SELU_SCALE ** 2 * (0.5 + SELU_ALPHA ** 2 * (b - 2 * a + 0.5)) - seluMean ** 2;
    assert.ok(Math.abs(scaledActivationGain('gelu') - 1 / Math.sqrt(geluVar)) < 1e-9, 'gelu');
    assert.ok(Math.abs(scaledActivationGain('elu') - 1 / Math.sqrt(eluVar)) < 1e-9, 'elu');
    assert.ok(Math.abs(scaledActivationGain('selu') - 1 / Math.sqrt(seluVar)) < 1e-9, 'selu');
    // SELU was designed to map N(0,1) to unit variance.
    assert.ok(Math.abs(scaledActivationGain('selu') - 1) < 1e-4);
    assert.equal(scaledActivationGain('identity'), 1);
  });

  // DeepMind's values are Monte-Carlo estimates, each about 1e-3 off the exact value (relu: 1.1e-3, tanh: 1.4e-3):
  // a tolerance of 3e-3 allows for their sampling error and still catches a wrong integrand.
  it('matches DeepMind\'s Monte-Carlo table within its sampling error (3e-3)', () => {
    for (const name of ACTIVATION_NAMES) {
      const key = name === 'swish' ? 'silu' : name;
      const got = scaledActivationGain(name);
      assert.ok(Math.abs(got - DEEPMIND_GAINS[key]) < 3e-3, `${name}: ${got} vs ${DEEPMIND_GAINS[key]}`);
    }
  });

  it('scaledActivation = gain * phi(x), with unit variance over a fine N(0,1) sample', () => {
    const x = randn([4000, 2], 11);
    const xt = tensor(x);
    for (const name of ['relu', 'gelu', 'silu', 'tanh'] as const) {
      const y = scaledActivation(xt, name);
      const gain = scaledActivationGain(name);
      assertClose(values(y), x.data.map((v) => gain * ACTIVATION_REFERENCE[name](v)), 1e-5, name);
      // 8000 standard normals: the sample variance is within a few 1e-2 of 1.
      const v = values(y);
      const m = v.reduce((s, e) => s + e, 0) / v.length;
      const variance = v.reduce((s, e) => s + (e - m) ** 2, 0) / v.length;
      assert.ok(Math.abs(variance - 1) < 0.06, `${name}: variance ${variance}`);
      y.dispose();
    }
    xt.dispose();
  });
});
