/**
 * The PyTorch figures of the project's peer measurements (`shared/PEERS.md`: PyTorch 1.13 CPU, Debian's
 * `python3-torch` with oneDNN, on this kind of machine: 2 cores, 2026-11), for the tables of `batchfree bench`
 * when PyTorch is not measured in the same run. Ratios to them are indicative only: the machine is shared, so only
 * ratios taken side by side in one run compare (`batchfree bench --torch`).
 * @module
 */

/** Forward and forward+backward ms per call of one op at x = 64×32×32×64 float32 (16 MiB). */
export interface OpPeerFigures {
  fwd: number;
  fwdBwd: number;
}

/**
 * PEERS.md's per-op table, ms per call by thread count (`'1'`, `'2'`), keyed as `benchOps`' op keys: `bn`
 * (BatchNorm2d, training), `gn32` (GroupNorm(32)), `ln` (LayerNorm over C,H,W), `in` (InstanceNorm2d), `frn_tlu`
 * (FRN + TLU as plain torch ops), `relu`.
 */
export const PEERS_OPS_MS: Readonly<Record<'1' | '2', Readonly<Record<string, OpPeerFigures>>>> = {
  1: {
    bn: { fwd: 5.42, fwdBwd: 12.34 },
    gn32: { fwd: 1.85, fwdBwd: 11.57 },
    ln: { fwd: 2.03, fwdBwd: 13.48 },
    in: { fwd: 5.48, fwdBwd: 10.18 },
    frn_tlu: { fwd: 7.18, fwdBwd: 115.97 },
    relu: { fwd: 1.16, fwdBwd: 3.41 },
  },
  2: {
    bn: { fwd: 2.76, fwdBwd: 7.41 },
    gn32: { fwd: 1.0, fwdBwd: 2.62 },
    ln: { fwd: 1.03, fwdBwd: 3.09 },
    in: { fwd: 2.79, fwdBwd: 6.27 },
    frn_tlu: { fwd: 3.35, fwdBwd: 63.2 },
    relu: { fwd: 0.59, fwdBwd: 1.53 },
  },
};

/**
 * PEERS.md's training-step figures of the reference network at batch 64, ms per step by thread count, keyed by
 * the reference network's norm name (`bn` = BatchNorm + ReLU, `gn` = GroupNorm(8) + ReLU, `frn` = FRN + TLU in
 * plain torch ops). Stock TF.js `cpu` (BatchNorm + ReLU, one thread): 18,700 ms/step.
 */
export const PEERS_TRAIN_MS: Readonly<Record<string, Readonly<Record<'1' | '2', number>>>> = {
  bn: { 1: 13.5, 2: 8.1 },
  gn: { 1: 12.2, 2: 7.7 },
  frn: { 1: 32.9, 2: 23.8 },
};

/** Copy bandwidth of PEERS.md (1 GiB tensors, read + write counted), bytes/s, by thread count. */
export const PEERS_COPY_BANDWIDTH: Readonly<Record<'1' | '2', number>> = { 1: 14.6e9, 2: 27.9e9 };
