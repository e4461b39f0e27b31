/**
 * The Proxy Normalization paper's diagnostics (Labatie et al., NeurIPS 2021, §3, eq. 5; METHODS.md §3):
 * the four-term power decomposition of a layer's normalized pre-activations, the "power plot" of random nets
 * (Definition 1), and a channel-wise linearity measure that makes the collapse of LN visible as a number.
 * Browser-safe.
 * @module
 */
import { tf } from '../engine.js';
import { assertRank, argumentError, assertInteger } from '../ops/validate.js';

/** The four terms of eq. 5 for one layer, each `[C]`, plus their shares of the power averaged over channels. */
export interface PowerDecomposition {
  /** (1) dataset-scale power `mean_x(m)^2`, per channel. */
  datasetScale: Float64Array;
  /** (2) variability of instance means across inputs `var_x(m)`, per channel. */
  instanceMeanVariability: Float64Array;
  /** (3) mean instance spread `mean_x(s)^2`, per channel. */
  instanceScale: Float64Array;
  /** (4) variability of instance spreads across inputs `var_x(s)`, per channel. */
  instanceSpreadVariability: Float64Array;
  /** `P[c] = E_{x,α}[y^2]`, the sum of the four terms. */
  power: Float64Array;
  /** The four terms' shares of `P[c]`, averaged over channels (each in [0,1], summing to 1). */
  shares: [number, number, number, number];
}

/**
 * Eq. (5): for `y` `[N,H,W,C]` (N inputs from a set D, positions α = (h,w)), with `m[x,c]`, `s[x,c]` the mean and
 * (biased) standard deviation over α, `P[c] = mean_x(m)^2 + var_x(m) + mean_x(s)^2 + var_x(s)` exactly.
 * Statistics are accumulated in float64.
 */
export function powerDecomposition(y: tf.Tensor): PowerDecomposition {
  const op = 'powerDecomposition';
  assertRank(op, 'y', y, [4]);
  const [N, H, W, C] = y.shape as [number, number, number, number];
  if (N < 2) throw argumentError(op, 'y', `${N} input(s)`, 'at least 2 inputs (the decomposition needs variability across inputs)');
  const data = y.dataSync();
  const P = H * W;
  const m = new Float64Array(N * C), s = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    const sum = new Float64Array(C), sumSq = new Float64Array(C);
    for (let p = 0; p < P; p++) {
      const base = (n * P + p) * C;
      for (let c = 0; c < C; c++) sum[c] += data[base + c];
    }
    for (let c = 0; c < C; c++) m[n * C + c] = sum[c] / P;
    for (let p = 0; p < P; p++) {
      const base = (n * P + p) * C;
      for (let c = 0; c < C; c++) { const d = data[base + c] - m[n * C + c]; sumSq[c] += d * d; }
    }
    for (let c = 0; c < C; c++) s[n * C + c] = Math.sqrt(sumSq[c] / P);
  }
  const t1 = new Float64Array(C), t2 = new Float64Array(C), t3 = new Float64Array(C), t4 = new Float64Array(C), power = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let mm = 0, ms = 0;
    for (let n = 0; n < N; n++) { mm += m[n * C + c]; ms += s[n * C + c]; }
    mm /= N; ms /= N;
    let vm = 0, vs = 0;
    for (let n = 0; n < N; n++) { vm += (m[n * C + c] - mm) ** 2; vs += (s[n * C + c] - ms) ** 2; }
    t1[c] = mm * mm; t2[c] = vm / N; t3[c] = ms * ms; t4[c] = vs / N;
    power[c] = t1[c] + t2[c] + t3[c] + t4[c];
  }
  const shares: [number, number, number, number] = [0, 0, 0, 0];
  let counted = 0;
  for (let c = 0; c < C; c++) {
    if (power[c] <= 0) continue; // a dead channel has no power to share
    shares[0] += t1[c] / power[c]; shares[1] += t2[c] / power[c]; shares[2] += t3[c] / power[c]; shares[3] += t4[c] / power[c];
    counted++;
  }
  for (let i = 0; i < 4; i++) shares[i] = counted > 0 ? shares[i] / counted : 0;
  return { datasetScale: t1, instanceMeanVariability: t2, instanceScale: t3, instanceSpreadVariability: t4, power, shares };
}

/**
 * Channel-wise linearity of an activation on its input distribution: per channel, the fraction of the variance of
 * `phi(z)` over all inputs and positions that the best affine function of `z` explains (the squared correlation of
 * `z` and `phi(z)`), averaged over channels. 1 means the nonlinearity acts as an affine map on that channel — the
 * "collapse towards channel-wise linear functions" the PN paper attributes to LN; ReLU on a centred Gaussian gives
 * `0.5 / (1 - 1/pi) = 0.7334`; lower values mean more nonlinearity is used. Channels where `z` or `phi(z)` is constant count as 1.
 * @param z pre-activations `[N,H,W,C]` or `[N,C]`
 * @param phiZ the activation's output for `z`, same shape
 */
export function channelLinearity(z: tf.Tensor, phiZ: tf.Tensor): number {
  const op = 'channelLinearity';
  assertRank(op, 'z', z, [2, 4]);
  if (phiZ.shape.join(',') !== z.shape.join(',')) throw argumentError(op, 'phiZ', `shape [${phiZ.shape}]`, `the shape of z [${z.shape}]`);
  const C = z.shape[z.rank - 1];
  const a = z.dataSync(), b = phiZ.dataSync();
  const n = a.length / C;
  let total = 0;
  for (let c = 0; c < C; c++) {
    let ma = 0, mb = 0;
    for (let i = 0; i < n; i++) { ma += a[i * C + c]; mb += b[i * C + c]; }
    ma /= n; mb /= n;
    let sab = 0, saa = 0, sbb = 0;
    for (let i = 0; i < n; i++) {
      const da = a[i * C + c] - ma, db = b[i * C + c] - mb;
      sab += da * db; saa += da * da; sbb += db * db;
    }
    total += saa <= 1e-30 * n || sbb <= 1e-30 * n ? 1 : (sab * sab) / (saa * sbb);
  }
  return total / C;
}

/** Mean and an interval over realisations, per layer. */
export interface SeriesSummary { mean: number[]; low: number[]; high: number[] }

/** A power plot: per layer (index 0 = layer 1), each term's share of the power and the linearity, with intervals. */
export interface PowerPlot {
  /** The normalization (a name of `RANDOM_NET_NORMS`, or a label for trained nets). */
  norm: string;
  depth: number;
  /** Shares of terms (1)–(4) of eq. 5 by depth: mean and 95% interval over realisations. */
  shares: [SeriesSummary, SeriesSummary, SeriesSummary, SeriesSummary];
  /** Channel-wise linearity of the activation by depth (see `channelLinearity`). */
  linearity: SeriesSummary;
  realisations: number;
}

/** Options of {@link summarize}: the interval is the mean ± `z` standard errors. */
export function summarize(samples: number[][], z = 1.96): SeriesSummary {
  if (samples.length === 0) throw argumentError('summarize', 'samples', 0, 'at least one realisation');
  const L = samples[0].length, R = samples.length;
  const mean: number[] = [], low: number[] = [], high: number[] = [];
  for (let l = 0; l < L; l++) {
    const v = samples.map((s) => s[l]);
    const mu = v.reduce((x, y) => x + y, 0) / R;
    const sd = R > 1 ? Math.sqrt(v.reduce((x, y) => x + (y - mu) ** 2, 0) / (R - 1)) : 0;
    const half = z * sd / Math.sqrt(R);
    mean.push(mu); low.push(mu - half); high.push(mu + half);
  }
  return { mean, low, high };
}

/** Validates the common options of the random-net experiments. @internal */
export function assertRandomNetShape(op: string, depth: number, width: number, size: number, inputs: number): void {
  assertInteger(op, 'depth', depth);
  assertInteger(op, 'width', width);
  assertInteger(op, 'size', size, 2);
  assertInteger(op, 'inputs', inputs, 2);
}
