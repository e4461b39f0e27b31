import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../../src/engine.js';
import { fusedConfig, fusedProxyActivation } from '../../../src/kernels/fused/index.js';
import { proxyNormActivation } from '../../../src/ops/proxy_norm.js';
import { ActivationName } from '../../../src/ops/activations.js';
import { assertClose, autodiffGrads, finiteDifferenceGrads, randn, tensor, values } from '../../helpers.js';

/** erf by its Maclaurin series (float64; |x| <= 4 needs ~60 terms), ±1 beyond. */
function erf(x: number): number {
  if (Math.abs(x) > 4.5) return Math.sign(x);
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** The activations in float64, written here independently of the library. */
const PHI: Record<string, (u: number) => number> = {
  relu: (u) => Math.max(u, 0),
  identity: (u) => u,
  silu: (u) => u / (1 + Math.exp(-u)),
  swish: (u) => u / (1 + Math.exp(-u)),
  tanh: Math.tanh,
  elu: (u) => (u > 0 ? u : Math.exp(u) - 1),
  selu: (u) => 1.0507009873554805 * (u > 0 ? u : 1.6732632423543772 * (Math.exp(u) - 1)),
  gelu: (u) => 0.5 * u * (1 + erf(u / Math.SQRT2)),
};
const ACTIVATIONS = Object.keys(PHI) as ActivationName[];

/** `(phi(gamma x + beta) - mu) s` per element, channel = last axis. */
function proxyReference(act: string, x: Float64Array, gamma: Float64Array, beta: Float64Array, mu: Float64Array, s: Float64Array): Float64Array {
  const C = gamma.length;
  return x.map((v, i) => (PHI[act](gamma[i % C] * v + beta[i % C]) - mu[i % C]) * s[i % C]);
}

async function useBackend(name: string): Promise<void> {
  await tf.setBackend(name);
  await tf.ready();
}

describe('fused proxy-normalized activation against a float64 reference and its finite-difference gradients', () => {
  after(() => { fusedConfig.simd = true; });
  const shapes = [[2, 3, 3, 8], [3, 5]]; // whole quads of channels; odd C (elements left to the JavaScript tail)
  for (const backend of ['cpu', 'wasm']) {
    for (const simd of [true, false]) {
      for (const act of ACTIVATIONS) {
        it(`${backend}${simd ? '' : ' (JavaScript loops)'}: ${act}`, async () => {
          await useBackend(backend);
          fusedConfig.simd = simd;
          for (const [k, shape] of shapes.entries()) {
            const C = shape[shape.length - 1];
            const inputs = [randn(shape, 10 + k, 1.5), randn([C], 20 + k, 0.5, 1), randn([C], 30 + k, 0.5), randn([C], 40 + k, 0.3), randn([C], 50 + k, 0.2, 1.5)];
            const dy = randn(shape, 60 + k);
            const ref = (xs: Float64Array[]) => proxyReference(act, xs[0], xs[1], xs[2], xs[3], xs[4]);
            const ts = inputs.map(tensor);
            const op = (...t: tf.Tensor[]) => fusedProxyActivation(t[0], { activation: act, gamma: t[1], beta: t[2], mean: t[3], invStd: t[4] });
            const y = op(...ts);
            assertClose(values(y), ref(inputs.map((a) => a.data)), 1e-5, `${act} [${shape}] forward`);
            y.dispose();
            const dyT = tensor(dy);
            const got = autodiffGrads(op, ts, dyT);
            const want = finiteDifferenceGrads(ref, inputs.map((a) => a.data), dy.data);
            ['x', 'gamma', 'beta', 'mean', 'invStd'].forEach((name, i) => assertClose(got[i], want[i], 1e-4, `${act} [${shape}] d/d${name}`));
            tf.dispose([...ts, dyT]);
          }
        });
      }
    }
  }
});

describe('proxyNormActivation: fused path against the composite path', () => {
  after(() => { fusedConfig.enabled = true; });
  for (const backend of ['cpu', 'wasm']) {
    for (const act of ACTIVATIONS) {
      for (const scale of [true, false]) {
        it(`${backend}: ${act}, scale ${scale}: output and gradients of x, gamma, beta, betaTilde, gammaTilde`, async () => {
          await useBackend(backend);
          const shape = [2, 10, 10, 12], C = 12;
          const x = tensor(randn(shape, 1));
          const params = [randn([C], 2, 0.3, 1), randn([C], 3, 0.3), randn([C], 4, 0.2), randn([C], 5, 0.2)].map(tensor);
          const dy = tensor(randn(shape, 6));
          const op = (...t: tf.Tensor[]) => proxyNormActivation(t[0], {
            activation: act, scale, gamma: t[1] as tf.Tensor1D, beta: t[2] as tf.Tensor1D, betaTilde: t[3] as tf.Tensor1D, gammaTilde: t[4] as tf.Tensor1D,
          });
          const run = (enabled: boolean) => {
            fusedConfig.enabled = enabled;
            const y = op(x, ...params);
            const r = { y: values(y), grads: autodiffGrads(op, [x, ...params], dy) };
            y.dispose();
            fusedConfig.enabled = true;
            return r;
          };
          const fused = run(true), composite = run(false);
          assertClose(fused.y, composite.y, 1e-5, 'forward');
          ['x', 'gamma', 'beta', 'betaTilde', 'gammaTilde'].forEach((name, i) => {
            if (act === 'identity' && (name === 'beta' || (name === 'gammaTilde' && !scale))) {
              // Structural zeros: beta cancels (mu = gamma mean(Y) + beta), and without scaling gammaTilde only
              // enters through mean(q) = 0. Both paths must give ~0 (rounding only).
              const size = Math.max(...Array.from(composite.grads[1], Math.abs));
              for (const g of [fused.grads[i], composite.grads[i]]) assert.ok(Math.max(...Array.from(g, Math.abs)) < 1e-4 * size, 'd/dbeta not ~0');
            } else assertClose(fused.grads[i], composite.grads[i], 1e-4, `d/d${name}`);
          });
          tf.dispose([x, ...params, dy]);
        });
      }
    }
  }

  it('runs one fused kernel over x, and without parameters too (proxy statistics of shape [1])', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await useBackend(backend);
      const x = tf.randomNormal([2, 3, 3, 4]);
      const profile = await tf.profile(() => proxyNormActivation(x, { activation: 'gelu' }));
      assert.ok(profile.kernelNames.includes('BatchfreeProxyActivation'), profile.kernelNames.join(', '));
      // The proxy statistics use gelu on the 200 proxy samples; x itself must not go through Erf.
      assert.ok(profile.kernels.every((k) => k.name !== 'Erf' || k.inputShapes[0]?.length !== 4), 'gelu of x ran outside the fused kernel');
      fusedConfig.enabled = false;
      const composite = values(proxyNormActivation(x, { activation: 'gelu' }));
      fusedConfig.enabled = true;
      assertClose(values(proxyNormActivation(x, { activation: 'gelu' })), composite, 1e-5, backend);
      x.dispose();
    }
  });

  it('leaks no tensor, forward or backward, and rejects an activation without a fused kernel', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await useBackend(backend);
      const x = tf.randomNormal([2, 3, 3, 4]);
      const g = tf.ones([4]) as tf.Tensor1D, b = tf.zeros([4]) as tf.Tensor1D;
      const forward = () => proxyNormActivation(x, { activation: 'swish', gamma: g, beta: b }).dispose();
      const backward = () => tf.dispose(tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(proxyNormActivation(a, { activation: 'swish', gamma: gg as tf.Tensor1D, beta: bb as tf.Tensor1D })))([x, g, b]));
      for (const [label, f] of [['forward', forward], ['backward', backward]] as const) {
        f();
        const tensors = tf.memory().numTensors, buffers = tf.backend().numDataIds();
        f();
        assert.equal(tf.memory().numTensors, tensors, `${backend} ${label}: leaked tensors`);
        assert.equal(tf.backend().numDataIds(), buffers, `${backend} ${label}: leaked backend buffers`);
      }
      assert.throws(() => fusedProxyActivation(x, { activation: 'softplus', mean: b }), /fusedProxyActivation: argument 'activation'.*'softplus'/);
      tf.dispose([x, g, b]);
    }
  });
});
