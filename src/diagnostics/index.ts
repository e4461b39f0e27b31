/**
 * The Proxy Normalization paper's diagnostics: power decomposition (eq. 5), channel-wise linearity, random-net
 * power plots (Definition 1). Browser-safe.
 * @module
 */
export { powerDecomposition, channelLinearity, summarize } from './power_decomposition.js';
export type { PowerDecomposition, PowerPlot, SeriesSummary } from './power_decomposition.js';
export { randomNetPowerPlot, periodicConv2d, RANDOM_NET_NORMS } from './random_nets.js';
export type { RandomNetNorm, RandomNetOptions } from './random_nets.js';
export { trainedPowerDecomposition, NORMALIZATION_CLASS_NAMES } from './trained.js';
export type { LayerPower } from './trained.js';
