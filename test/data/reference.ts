/** Naive float64 references shared by the data tests. */

/** Zero-pad an NHWC image by p on each side, crop at (p + dy, p + dx), then mirror the columns if `flip`. */
export function padCropFlipReference(img: ArrayLike<number>, H: number, W: number, C: number, p: number, dy: number, dx: number, flip: boolean): Float64Array {
  const PH = H + 2 * p, PW = W + 2 * p;
  const padded = new Float64Array(PH * PW * C);
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) padded[((h + p) * PW + (w + p)) * C + c] = img[(h * W + w) * C + c];
  const crop = new Float64Array(H * W * C);
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) crop[(h * W + w) * C + c] = padded[((h + p + dy) * PW + (w + p + dx)) * C + c];
  if (!flip) return crop;
  const out = new Float64Array(H * W * C);
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out[(h * W + w) * C + c] = crop[(h * W + (W - 1 - w)) * C + c];
  return out;
}
