/**
 * Random nets of the PN paper's Definition 1 and their power plots (Labatie et al. 2021, §3 and Fig. 2):
 * `x^l = conv(z^{l-1})` with periodic padding, `y^l = Norm(x^l)`, `z^l = phi(gamma^l * y^l + beta^l)` with
 * `gamma ~ N(1, sigma^2)`, `beta ~ N(0, sigma^2)` per channel (the paper: sigma = 0.2, phi = ReLU).
 * For the PN pairings the activation is the proxy-normalized one; for LN+WS the convolution kernel is standardized.
 * The power decomposition is taken on `y^l` at every layer. Browser-safe.
 * @module
 */
import { tf } from '../engine.js';
import { argumentError, assertOneOf, assertPositive } from '../ops/validate.js';
import { groupNorm, layerNorm, instanceNorm } from '../ops/group_norm.js';
import { batchNorm } from '../ops/batch_norm.js';
import { proxyNormActivation } from '../ops/proxy_norm.js';
import { weightStandardize } from '../ops/weight_standardization.js';
import { powerDecomposition, channelLinearity, summarize, assertRandomNetShape, PowerPlot } from './power_decomposition.js';

/** The normalizations a random net can use (Fig. 2 of the PN paper, plus GN+PN). */
export const RANDOM_NET_NORMS = ['bn', 'ln', 'in', 'gn', 'ln+pn', 'gn+pn', 'ln+ws'] as const;
/** A normalization of {@link RANDOM_NET_NORMS}. */
export type RandomNetNorm = (typeof RANDOM_NET_NORMS)[number];

/** Options of {@link randomNetPowerPlot}. */
export interface RandomNetOptions {
  /** Normalization of every layer. */
  norm: RandomNetNorm;
  /** Number of conv → norm → activation layers (the paper plots up to 50). Default 50. */
  depth?: number;
  /** Channels of every layer (the paper: 1024). Default 32. */
  width?: number;
  /** Spatial size of the square maps. Default 8. */
  size?: number;
  /** Number of inputs in the set D. Default 32. */
  inputs?: number;
  /** Number of independent realisations (weights and inputs redrawn). Default 10 (the paper: 50). */
  realisations?: number;
  /** Groups for 'gn' and 'gn+pn'. Default 8. */
  groups?: number;
  /** Kernel size (odd). Default 3. */
  kernelSize?: number;
  /** Standard deviation of gamma around 1 and of beta around 0. Default 0.2 (paper). */
  paramStd?: number;
  /** Optional input set `[N,size,size,Cin]` (e.g. dataset images); default: standard Gaussian inputs with width channels. */
  data?: tf.Tensor4D;
  /** Seed of the first realisation. Default 0. */
  seed?: number;
}

/** Convolution with periodic (circular) boundary conditions: wrap-pad by k//2 on each side, then 'valid'. */
export function periodicConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw] = kernel.shape;
  if (kh % 2 === 0 || kw % 2 === 0) throw argumentError('periodicConv2d', 'kernel', `size ${kh}x${kw}`, 'odd kernel sizes');
  return tf.tidy(() => {
    const ph = (kh - 1) / 2, pw = (kw - 1) / 2;
    const [, H, W] = x.shape;
    let padded = x;
    if (ph > 0) padded = tf.concat([tf.slice(padded, [0, H - ph, 0, 0], [-1, ph, -1, -1]), padded, tf.slice(padded, [0, 0, 0, 0], [-1, ph, -1, -1])], 1);
    if (pw > 0) padded = tf.concat([tf.slice(padded, [0, 0, W - pw, 0], [-1, -1, pw, -1]), padded, tf.slice(padded, [0, 0, 0, 0], [-1, -1, pw, -1])], 2);
    return tf.conv2d(padded, kernel, 1, 'valid');
  });
}

function normalize(norm: RandomNetNorm, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  switch (norm) {
    case 'bn': return batchNorm(x, { eps: 1e-5 }) as tf.Tensor4D; // statistics over the whole set D
    case 'in': return instanceNorm(x, {}) as tf.Tensor4D;
    case 'gn': case 'gn+pn': return groupNorm(x, { groups }) as tf.Tensor4D;
    default: return layerNorm(x, {}) as tf.Tensor4D; // 'ln', 'ln+pn', 'ln+ws'
  }
}

/**
 * Runs `realisations` random nets of Definition 1 and returns the power plot: the share of each term of eq. 5 in
 * the power of `y^l`, averaged over channels, and the channel-wise linearity of the activation, by depth.
 */
export function randomNetPowerPlot(options: RandomNetOptions): PowerPlot {
  const op = 'randomNetPowerPlot';
  const { norm, depth = 50, width = 32, size = 8, inputs = 32, realisations = 10, groups = 8, kernelSize = 3, paramStd = 0.2, seed = 0 } = options;
  assertOneOf(op, 'norm', norm, RANDOM_NET_NORMS);
  assertRandomNetShape(op, depth, width, size, options.data ? options.data.shape[0] : inputs);
  if (realisations < 1 || !Number.isInteger(realisations)) throw argumentError(op, 'realisations', realisations, 'a whole number >= 1');
  if (width % groups !== 0 && (norm === 'gn' || norm === 'gn+pn')) throw argumentError(op, 'groups', groups, `a divisor of width ${width}`);
  assertPositive(op, 'paramStd', paramStd + 1e-300);
  const shareSamples: number[][][] = [[], [], [], []];
  const linearitySamples: number[][] = [];
  for (let r = 0; r < realisations; r++) {
    const s = seed + 1000 * r;
    const perLayer: number[][] = [[], [], [], []];
    const lin: number[] = [];
    let z: tf.Tensor4D = options.data ? tf.clone(options.data) : tf.randomNormal([inputs, size, size, width], 0, 1, 'float32', s);
    for (let l = 0; l < depth; l++) {
      const cin = z.shape[3];
      const next = tf.tidy(() => {
        let kernel = tf.randomNormal([kernelSize, kernelSize, cin, width], 0, Math.sqrt(1 / (kernelSize * kernelSize * cin)), 'float32', s + 7 * l + 1) as tf.Tensor4D;
        if (norm === 'ln+ws') kernel = weightStandardize(kernel, {}) as tf.Tensor4D;
        const x = periodicConv2d(z, kernel);
        const y = normalize(norm, x, groups);
        const d = powerDecomposition(y);
        d.shares.forEach((v, i) => perLayer[i].push(v));
        const gamma = tf.randomNormal([width], 1, paramStd, 'float32', s + 7 * l + 2) as tf.Tensor1D;
        const beta = tf.randomNormal([width], 0, paramStd, 'float32', s + 7 * l + 3) as tf.Tensor1D;
        const pre = tf.add(tf.mul(y, gamma), beta);
        const post = tf.relu(pre);
        lin.push(channelLinearity(pre, post));
        if (norm === 'ln+pn' || norm === 'gn+pn') return proxyNormActivation(y, { gamma, beta, activation: 'relu' }) as tf.Tensor4D;
        return post as tf.Tensor4D;
      });
      z.dispose();
      z = next;
    }
    z.dispose();
    perLayer.forEach((v, i) => shareSamples[i].push(v));
    linearitySamples.push(lin);
  }
  return {
    norm, depth, realisations,
    shares: shareSamples.map((v) => summarize(v)) as PowerPlot['shares'],
    linearity: summarize(linearitySamples),
  };
}
