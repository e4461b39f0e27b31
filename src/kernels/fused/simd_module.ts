/**
 * The WebAssembly SIMD loops of the fused normalization kernels, as text assembled by `wasm_asm.ts`, and their
 * instantiation against a linear memory (the `wasm` backend's heap, or a private memory for `cpu` tensors).
 *
 * Layout conventions shared with `norm_core.ts` / `proxy_core.ts` (all pointers are byte offsets):
 * - A *unit* (the elements one statistic covers: one sample for FRN/GN, one normalization group for BN) is a
 *   contiguous run of `periods * P` floats, `P` a multiple of 4 whose element `j` belongs to channel `j mod C`.
 *   Only whole periods are processed here; the JavaScript caller handles the remaining elements (`< P`).
 * - Per-position parameters are *interleaved by quads*: parameter `k` of element `j` of the period sits at
 *   float index `(j >> 2) * nParams * 4 + k * 4 + (j & 3)`, so each quad of positions reads its parameters at
 *   constant offsets `k * 16` from one base.
 * - Float64 accumulators likewise: accumulator `k` of element `j` at double index `(j >> 2) * nAcc * 4 + k * 4 +
 *   (j & 3)` (lanes 0-1 then 2-3, two `f64x2`). Reductions add to them (the caller zeroes them).
 * - Reductions walk a unit in chunks of `chunk` periods and, inside a chunk, one quad of channels at a time down
 *   the periods (the chunk stays in L1/L2), keeping that quad's sums in float32 registers over blocks of 16
 *   rows, then adding them into the float64 accumulators (so the rounding error is that of 16-term float32 sums,
 *   whatever the count). Streams that come from memory are loaded a few chunks ahead ({@link TOUCH_AHEAD_CHUNKS}).
 * - Paired loops run the second pass of one unit and the first pass of the next in one walk (see `normKernels`).
 * @module
 */
import { assemble } from './wasm_asm.js';

/** Activations with a fused proxy-normalized kernel (`swish` is computed by the `silu` kernel). */
export const FUSED_ACTIVATIONS = ['relu', 'identity', 'silu', 'gelu', 'tanh', 'elu', 'selu'] as const;
/** One of {@link FUSED_ACTIVATIONS}. */
export type FusedActivation = typeof FUSED_ACTIVATIONS[number];

/** Parameters per position of `norm_apply_*`: K, D, a, b, t (the mean is `K + D`, `K` a value of the data). */
export const LAYOUT_NORM_APPLY = 5;
/** Parameters per position of `norm_bwd_apply_*`: K, D, a, b, t, p, q, r. */
export const LAYOUT_NORM_BWD_APPLY = 8;
/** Parameters / accumulators per position of `norm_stats_*`: K ; sum(x - K), sum((x - K)^2). */
export const LAYOUT_NORM_STATS = { params: 1, acc: 2 } as const;
/** Parameters / accumulators of `norm_bwd_stats_*`: K, D, a, b, t ; sum(e), sum(e (x - mu)), sum(dz - e). */
export const LAYOUT_NORM_BWD_STATS = { params: 5, acc: 3 } as const;
/** Parameters / accumulators of `norm_apply_stats_*`: K, D, a, b, t of the unit written, K of the next ; its sums as in {@link LAYOUT_NORM_STATS}. */
export const LAYOUT_NORM_APPLY_STATS = { params: 6, acc: 2 } as const;
/**
 * Parameters / accumulators of `norm_bwd_pair_*`: K, D, a, b, t, p, q, r of the unit written, K, D, a of the next ;
 * its sums as in {@link LAYOUT_NORM_BWD_STATS}.
 */
export const LAYOUT_NORM_BWD_PAIR = { params: 11, acc: 3 } as const;
/** Parameters of `pn_fwd_*`: gamma, beta, mu, s. */
export const LAYOUT_PROXY_FWD = 4;
/** Parameters / accumulators of `pn_bwd_*`: gamma, beta, mu, s gamma ; sum(w x), sum(w), sum(dz), sum(dz (f - mu)). */
export const LAYOUT_PROXY_BWD = { params: 4, acc: 4 } as const;
/** Parameters / accumulators of `tlu_bwd`: tau ; sum(dz where x <= tau). */
export const LAYOUT_TLU_BWD = { params: 1, acc: 1 } as const;
/** The largest accumulator count of one loop. */
export const MAX_ACC = 4;
/**
 * Parameter slots per position of a scratch area: room for the four normalization loops' parameters side by side
 * (`norm_core.ts` writes the per-channel constants once per call and only what changes per unit).
 */
export const PARAM_SLOTS = LAYOUT_NORM_STATS.params + LAYOUT_NORM_APPLY + LAYOUT_NORM_BWD_STATS.params + LAYOUT_NORM_BWD_APPLY
  + LAYOUT_NORM_APPLY_STATS.params + LAYOUT_NORM_BWD_PAIR.params;

/**
 * Exported functions of the module, by name (pointers are byte offsets; `periods`, `P`, `chunk` as in the module
 * doc; variant suffixes in {@link normKernels}):
 * - `norm_stats_{c,u}(x, periods, P, chunk, prm, acc)`, `norm_bwd_stats_{c,u}{t,n}(x, dz, periods, P, chunk, prm, acc)`;
 * - `norm_apply_{c,u}{t,n}(x, y, periods, P, chunk, prm)`, `norm_bwd_apply_{c,u}{t,n}(x, dz, dx, periods, P, chunk, prm)`;
 * - the paired loops `norm_apply_stats_{c,u}{t,n}(x, y, x2, periods, P, chunk, prm, acc)` and
 *   `norm_bwd_pair_{c,u}{t,n}(x, dz, dx, x2, dz2, periods, P, chunk, prm, acc)`: the second pass of the unit at `x`
 *   and the first pass of the unit at `x2` (the next one), in one walk;
 * - `pn_fwd_<act>(x, y, periods, P, chunk, prm)`, `pn_bwd_<act>(x, dz, dx, periods, P, chunk, prm, acc)`;
 * - `tlu_bwd(x, dz, dx, periods, P, chunk, prm, acc)`: `dx = dz·[x > tau]` and the sums of `dz·[x <= tau]`, one pass.
 */
export type SimdExports = Record<string, (...args: number[]) => void>;

// ------------------------------------------------------------------------------------------------ text helpers

/** Swap the two 64-bit halves of a v128 (to promote lanes 2-3). */
const HIGH = 'i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7';

/** Rows summed in float32 registers before each promotion to the float64 accumulators. */
export const F32_BLOCK_ROWS = 16;

/** `${acc}f += v` (float32 partial sum of the current block of rows). */
function accumulate(acc: string, v: string): string {
  return `local.get $${acc}f local.get $${v} f32x4.add local.set $${acc}f`;
}

/** `${a}f += v`, `${b}f += v * v`. */
function accumulateWithSquare(a: string, b: string, v: string): string {
  return `${accumulate(a, v)} local.get $${b}f local.get $${v} local.get $${v} f32x4.mul f32x4.add local.set $${b}f`;
}

/**
 * Float64 accumulator `k` (at `$aq`) `+= promote(${acc}f)`: lanes 0-1 into its first f64x2, lanes 2-3 into its
 * second. The accumulators stay in memory (the scratch area, in L1): a chunk of periods is one block of rows, so
 * each quad promotes once per chunk either way, and the registers stay free for parameters.
 */
function promoteInto(acc: string, k: number): string {
  return `
    local.get $aq local.get $aq v128.load offset=${k * 32} local.get $${acc}f f64x2.promote_low_f32x4 f64x2.add v128.store offset=${k * 32}
    local.get $aq local.get $aq v128.load offset=${k * 32 + 16} local.get $${acc}f local.get $${acc}f ${HIGH} f64x2.promote_low_f32x4 f64x2.add v128.store offset=${k * 32 + 16}`;
}

/** A parameter or accumulator slot of the interleaved layout: the local it is loaded into, or null (unused). */
type Slot = string | null;

/** Declarations of v128 locals. */
const v128Locals = (names: string[]): string => names.map((n) => `(local $${n} v128)`).join(' ');

/** `name` = parameter `k` of the current quad (base pointer in `$pq`). */
const loadParam = (name: string, k: number): string => `local.get $pq v128.load offset=${k * 16} local.set $${name}`;

/**
 * How far ahead the loops touch the memory they will read or write, in chunks: the fourth chunk after the
 * current one (16 KB ahead at 64 channels). Measured on the fused FRN+TLU passes at 64×32×32×64, interleaved in
 * one process: 1 chunk ahead gained little, 3–6 chunks 20–30% (forward) and ~20% (backward).
 */
export const TOUCH_AHEAD_CHUNKS = 4;

/**
 * Touches, for each pointer of `pointers`, the cache lines the loop will reach {@link TOUCH_AHEAD_CHUNKS} chunks
 * later: 4 consecutive lines per quad, so that over a chunk's quads the lines of a whole later chunk are loaded in
 * address order. WebAssembly has no prefetch instruction; these plain loads (their values dropped) start the
 * memory transfers early and in order, which the hardware prefetchers then continue, while the strided quad walk
 * alone leaves them idle. Only rows inside the unit are touched (the last chunks of a unit are not).
 */
function touchAhead(pointers: string[]): string {
  if (pointers.length === 0) return '';
  const lines = [0, 64, 128, 192];
  return `local.get $pEnd local.get $chunk i32.const ${TOUCH_AHEAD_CHUNKS - 1} i32.mul i32.add local.tee $ta
        i32.const ${F32_BLOCK_ROWS} i32.add local.get $periods i32.le_u
        if
          local.get $ta local.get $Pb i32.mul local.get $j i32.const 4 i32.shl i32.add local.set $ta
          ${pointers.map((p) => `local.get $${p} local.get $ta i32.add local.set $tp
          ${lines.map((o) => `local.get $tp i32.load offset=${o} drop`).join(' ')}`).join('\n')}
        end`;
}

/**
 * The opening both loop shapes share: walk the periods in chunks of `$chunk` (cache blocking), and within a chunk
 * the 4-lane quads of one period, pointing `$pq` at the quad's parameters. The caller closes `loop $quads`,
 * `loop $chunks` and `block $chunksDone`.
 */
function chunkLoopHead(nParams: number): string {
  return `  local.get $P i32.const 2 i32.shl local.set $Pb
  i32.const 0 local.set $p0
  block $chunksDone
    loop $chunks
      local.get $p0 local.get $periods i32.ge_u br_if $chunksDone
      local.get $p0 local.get $chunk i32.add local.tee $pEnd local.get $periods i32.gt_u
      if
        local.get $periods local.set $pEnd
      end
      i32.const 0 local.set $j
      loop $quads
        local.get $prm local.get $j i32.const ${nParams} i32.mul i32.add local.set $pq`;
}

/**
 * A reduction over whole periods: for each chunk of periods and each quad of positions, the rows are walked
 * in blocks of {@link F32_BLOCK_ROWS}; `body` runs once per row at byte offset `$off` from each data pointer and
 * adds into float32 registers `${acc}f` (see {@link accumulate}), which are promoted and added into the float64
 * accumulators after each block (so the float32 rounding stays that of a 16-term sum). `pointers` are the extra
 * pointer parameters after `$x`; `touch` the pointers whose lines are loaded ahead ({@link touchAhead}).
 */
function reduction(o: { name: string; pointers: string[]; params: Slot[]; acc: Slot[]; locals: string[]; body: string; touch: string[] }): string {
  const nParams = o.params.length, nAcc = o.acc.length;
  const used = (slots: Slot[]): Array<[string, number]> => slots.flatMap((n, k): Array<[string, number]> => (n === null ? [] : [[n, k]]));
  const acc = used(o.acc);
  const accLocals = acc.map(([a]) => `${a}f`);
  const zeroPartials = acc.map(([a]) => `v128.const i32x4 0 0 0 0 local.set $${a}f`).join(' ');
  return `
(func $${o.name} (export "${o.name}") (param $x i32) ${o.pointers.map((p) => `(param $${p} i32)`).join(' ')}
    (param $periods i32) (param $P i32) (param $chunk i32) (param $prm i32) (param $acc i32)
    (local $Pb i32) (local $p0 i32) (local $pEnd i32) (local $j i32) (local $off i32) (local $end i32) (local $blockEnd i32)
    (local $pq i32) (local $aq i32) (local $ta i32) (local $tp i32)
    ${v128Locals([...used(o.params).map(([n]) => n), ...accLocals, ...o.locals])}
${chunkLoopHead(nParams)}
        local.get $acc local.get $j i32.const ${2 * nAcc} i32.mul i32.add local.set $aq
        ${touchAhead(o.touch)}
        ${used(o.params).map(([p, k]) => loadParam(p, k)).join('\n')}
        local.get $p0 local.get $Pb i32.mul local.get $j i32.add local.set $off
        local.get $pEnd local.get $Pb i32.mul local.get $j i32.add local.set $end
        loop $blocks
          ${zeroPartials}
          local.get $off local.get $Pb i32.const ${F32_BLOCK_ROWS} i32.mul i32.add local.tee $blockEnd
          local.get $end local.get $blockEnd local.get $end i32.lt_u select local.set $blockEnd
          loop $rows
            ${o.body}
            local.get $off local.get $Pb i32.add local.tee $off local.get $blockEnd i32.lt_u br_if $rows
          end
          ${acc.map(([a, k]) => promoteInto(a, k)).join('\n')}
          local.get $off local.get $end i32.lt_u br_if $blocks
        end
        local.get $j i32.const 16 i32.add local.tee $j local.get $Pb i32.lt_u br_if $quads
      end
      local.get $pEnd local.set $p0
      br $chunks
    end
  end
)`;
}

/**
 * An elementwise pass over whole periods, in the loop order of {@link reduction} (chunk, quad, rows) so that
 * the quad's parameters stay in registers: `body` runs once per row with the parameters in locals named
 * `params` and the byte offset of the element quad in `$off`; `touch` as in {@link reduction}.
 */
function elementwise(o: { name: string; pointers: string[]; params: Slot[]; locals: string[]; body: string; touch: string[] }): string {
  const nParams = o.params.length;
  const params = o.params.flatMap((n, k): Array<[string, number]> => (n === null ? [] : [[n, k]]));
  return `
(func $${o.name} (export "${o.name}") ${o.pointers.map((p) => `(param $${p} i32)`).join(' ')}
    (param $periods i32) (param $P i32) (param $chunk i32) (param $prm i32)
    (local $Pb i32) (local $p0 i32) (local $pEnd i32) (local $j i32) (local $off i32) (local $end i32) (local $pq i32)
    (local $ta i32) (local $tp i32)
    ${v128Locals([...params.map(([n]) => n), ...o.locals])}
${chunkLoopHead(nParams)}
        ${touchAhead(o.touch)}
        ${params.map(([p, k]) => loadParam(p, k)).join('\n')}
        local.get $p0 local.get $Pb i32.mul local.get $j i32.add local.set $off
        local.get $pEnd local.get $Pb i32.mul local.get $j i32.add local.set $end
        loop $rows
          ${o.body}
          local.get $off local.get $Pb i32.add local.tee $off local.get $end i32.lt_u br_if $rows
        end
        local.get $j i32.const 16 i32.add local.tee $j local.get $Pb i32.lt_u br_if $quads
      end
      local.get $pEnd local.set $p0
      br $chunks
    end
  end
)`;
}

/** `local.get $ptr local.get $off i32.add v128.load` */
const load = (ptr: string): string => `local.get $${ptr} local.get $off i32.add v128.load`;
const splat = (v: number): string => `v128.const f32x4 ${v} ${v} ${v} ${v}`;

// ------------------------------------------------------------------------------------ normalization kernels

/** The locals one unit's loop body reads: data pointers and parameter registers (`suffix` tells the unit apart). */
interface UnitNames { x: string; dz: string; k: string; dd: string; a: string }

/** The names of the unit a paired loop processes first (`''`) and of the next unit (`'2'`). */
const unitNames = (suffix: '' | '2'): UnitNames => ({ x: `x${suffix}`, dz: `dz${suffix}`, k: `k${suffix}`, dd: `dd${suffix}`, a: `a${suffix}` });

/**
 * The loop bodies of one normalization variant, for a unit named by {@link UnitNames}: centred (`c`: GN, LN, IN,
 * BN) or uncentred (`u`: FRN, GFRN, LFRN, where `K = D = 0` and the subtractions are left out), with TLU or not.
 * `b`, `t` (per channel) and `p`, `q`, `r` (backward coefficients, only for the unit whose output is written)
 * are shared names.
 */
function normBodies(center: boolean, tlu: boolean) {
  /** `xc = (x - K) - D` on the stack. */
  const xc = (n: UnitNames): string => (center ? `${load(n.x)} local.get $${n.k} f32x4.sub local.get $${n.dd} f32x4.sub` : load(n.x));
  /** The TLU's pass mask `t < xc a + b` on the stack, `xc` left in `$v`. */
  const mask = (n: UnitNames): string => `local.get $t ${xc(n)} local.tee $v local.get $${n.a} f32x4.mul local.get $b f32x4.add f32x4.lt`;
  return {
    /** Forward statistics: s += x - K, q += (x - K)^2 (into `$sf`, `$qf`; `$w` scratch). */
    stats: (n: UnitNames): string => (center
      ? `${load(n.x)} local.get $${n.k} f32x4.sub local.set $w ${accumulateWithSquare('s', 'q', 'w')}`
      : `${load(n.x)} local.set $w local.get $qf local.get $w local.get $w f32x4.mul f32x4.add local.set $qf`),
    /** Forward output: y = max(xc a + b, t) (pmax keeps a NaN input). */
    apply: (n: UnitNames, y: string): string => `local.get $${y} local.get $off i32.add
      ${xc(n)} local.get $${n.a} f32x4.mul local.get $b f32x4.add ${tlu ? 'local.get $t f32x4.pmax' : ''}
      v128.store`,
    /** Backward statistics: e = dz where t < xc a + b (else 0); sums of e, e xc and dz - e (`$g $e $v` scratch). */
    bwdStats: (n: UnitNames): string => (tlu
      ? `${load(n.dz)} local.set $g
        local.get $g ${mask(n)} v128.and local.set $e
        ${accumulate('se', 'e')}
        local.get $e local.get $v f32x4.mul local.set $v ${accumulate('sx', 'v')}
        local.get $g local.get $e f32x4.sub local.set $g ${accumulate('st', 'g')}`
      : `${load(n.dz)} local.set $e ${xc(n)} local.set $v
        ${accumulate('se', 'e')}
        local.get $e local.get $v f32x4.mul local.set $v ${accumulate('sx', 'v')}`),
    /** Backward output: dx = e p + xc q + r (r = 0 when uncentred; `$v` scratch). */
    bwdApply: (n: UnitNames, dx: string): string => `local.get $${dx} local.get $off i32.add
      ${load(n.dz)}
      ${tlu ? `${mask(n)} v128.and` : `${xc(n)} local.set $v`}
      local.get $p f32x4.mul
      local.get $v local.get $q f32x4.mul f32x4.add
      ${center ? 'local.get $r f32x4.add' : ''}
      v128.store`,
  };
}

/**
 * The normalization loops, generated for each variant (see {@link normBodies}); the suffix is `c`/`u` then
 * `t`/`n`. Besides one loop per pass, two *paired* loops run a unit's second pass together with the next unit's
 * first pass, over the same positions: `norm_apply_stats_*` (output of unit 1, statistics of unit 2) and
 * `norm_bwd_pair_*` (backward output of unit 1, backward statistics of unit 2). The first pass streams its unit
 * from memory while the second reads its unit back from the cache and computes, so the two overlap.
 * The parameter and accumulator layouts are the same for every variant (unused slots are skipped).
 */
function normKernels(center: boolean, tlu: boolean): string[] {
  const suffix = `${center ? 'c' : 'u'}${tlu ? 't' : 'n'}`;
  const body = normBodies(center, tlu);
  const one = unitNames(''), two = unitNames('2');
  const kd = (n: UnitNames): Slot[] => (center ? [n.k, n.dd] : [null, null]);
  const kernels: string[] = [];
  const statsAcc: Slot[] = [center ? 's' : null, 'q'];
  const bwdAcc: Slot[] = ['se', 'sx', tlu ? 'st' : null];
  /** Parameters of the backward statistics of unit `n`: K, D, a, b, t. */
  const bwdStatsParams = (n: UnitNames): Slot[] => [...kd(n), tlu ? n.a : null, tlu ? 'b' : null, tlu ? 't' : null];
  if (tlu) {
    // One forward-statistics loop per centring (it does not depend on TLU).
    kernels.push(reduction({
      name: `norm_stats_${center ? 'c' : 'u'}`, pointers: [], params: [center ? 'k' : null], acc: statsAcc, locals: ['w'], body: body.stats(one),
      touch: ['x'],
    }));
  }
  kernels.push(elementwise({
    name: `norm_apply_${suffix}`, pointers: ['x', 'y'], params: [...kd(one), 'a', 'b', tlu ? 't' : null], locals: [], body: body.apply(one, 'y'),
    touch: ['x', 'y'],
  }));
  kernels.push(reduction({
    name: `norm_apply_stats_${suffix}`, pointers: ['y', 'x2'], params: [...kd(one), 'a', 'b', tlu ? 't' : null, center ? 'k2' : null],
    acc: statsAcc, locals: ['w'], body: `${body.apply(one, 'y')}\n${body.stats(two)}`,
    touch: ['x2', 'y'], // unit 1 was read by the previous call: it is in the cache
  }));
  kernels.push(reduction({
    name: `norm_bwd_stats_${suffix}`, pointers: ['dz'], params: bwdStatsParams(one), acc: bwdAcc, locals: ['g', 'e', 'v'], body: body.bwdStats(one),
    touch: ['x', 'dz'],
  }));
  /** Parameters of the backward output: K, D, a, b, t, p, q, r. */
  const bwdApplyParams: Slot[] = [...bwdStatsParams(one), 'p', 'q', center ? 'r' : null];
  kernels.push(elementwise({
    name: `norm_bwd_apply_${suffix}`, pointers: ['x', 'dz', 'dx'], params: bwdApplyParams, locals: ['v'], body: body.bwdApply(one, 'dx'),
    touch: ['x', 'dz', 'dx'],
  }));
  kernels.push(reduction({
    name: `norm_bwd_pair_${suffix}`, pointers: ['dz', 'dx', 'x2', 'dz2'], params: [...bwdApplyParams, ...kd(two), tlu ? two.a : null],
    acc: bwdAcc, locals: ['g', 'e', 'v'], body: `${body.bwdApply(one, 'dx')}\n${body.bwdStats(two)}`,
    touch: ['x2', 'dz2', 'dx'],
  }));
  return kernels;
}

// ------------------------------------------------------------------------------- proxy-normalized activation

/**
 * `exp(v)` of local `$v` into local `$out` (uses `$n`, `$r`): clamp to [-87, 88], `n = round(v / ln 2)`,
 * `r = v - n ln 2` (ln 2 split in two for exactness), `e^r` by its Taylor polynomial to degree 7
 * (|r| <= ln2/2: truncation error < 6e-9), times `2^n` by adding `n` to the exponent bits.
 */
function exp(v: string, out: string): string {
  const LN2_HI = 0.693359375, LN2_LO = Math.LN2 - 0.693359375;
  const taylor = [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];
  let poly = `${splat(taylor[0])}`;
  for (const c of taylor.slice(1)) poly += ` local.get $r f32x4.mul ${splat(c)} f32x4.add`;
  return `
    local.get $${v} ${splat(-87)} f32x4.pmax ${splat(88)} f32x4.pmin local.tee $r
    ${splat(Math.LOG2E)} f32x4.mul f32x4.nearest local.set $n
    local.get $r local.get $n ${splat(LN2_HI)} f32x4.mul f32x4.sub
    local.get $n ${splat(LN2_LO)} f32x4.mul f32x4.sub local.set $r
    ${poly}
    local.get $n i32x4.trunc_sat_f32x4_s i32.const 23 i32x4.shl i32x4.add local.set $${out}`;
}

/**
 * Code computing, from `$u`, `phi(u)` into `$f` and (when `derivative`) `phi'(u)` into `$dphi`.
 * Locals available: `$f $dphi $n $r $w $z`.
 */
function activation(act: FusedActivation, derivative: boolean): string {
  const positive = 'local.get $u v128.const f32x4 0 0 0 0 f32x4.gt'; // lanes where u > 0
  switch (act) {
    case 'identity':
      return `local.get $u local.set $f ${derivative ? `${splat(1)} local.set $dphi` : ''}`;
    case 'relu':
      return `local.get $u v128.const f32x4 0 0 0 0 f32x4.pmax local.set $f
        ${derivative ? `${splat(1)} ${positive} v128.and local.set $dphi` : ''}`;
    case 'silu':
      // s = 1 / (1 + exp(-u)); f = u s; phi' = s (1 + u (1 - s)).
      return `local.get $u f32x4.neg local.set $z ${exp('z', 'w')}
        ${splat(1)} ${splat(1)} local.get $w f32x4.add f32x4.div local.set $w
        local.get $u local.get $w f32x4.mul local.set $f
        ${derivative ? `local.get $w ${splat(1)} local.get $u ${splat(1)} local.get $w f32x4.sub f32x4.mul f32x4.add f32x4.mul local.set $dphi` : ''}`;
    case 'tanh':
      // tanh u = 1 - 2 / (exp(2u) + 1); phi' = 1 - tanh^2.
      return `local.get $u local.get $u f32x4.add local.set $z ${exp('z', 'w')}
        ${splat(1)} ${splat(2)} local.get $w ${splat(1)} f32x4.add f32x4.div f32x4.sub local.set $f
        ${derivative ? `${splat(1)} local.get $f local.get $f f32x4.mul f32x4.sub local.set $dphi` : ''}`;
    case 'elu':
    case 'selu': {
      // elu: u > 0 ? u : exp(u) - 1, phi' = u > 0 ? 1 : exp(u); selu scales both (alpha inside, scale outside).
      const [alpha, scale] = act === 'selu' ? [1.6732632423543772, 1.0507009873554805] : [1, 1];
      return `local.get $u local.set $z ${exp('z', 'w')}
        local.get $u local.get $w ${splat(1)} f32x4.sub ${splat(alpha)} f32x4.mul ${positive} v128.bitselect
        ${splat(scale)} f32x4.mul local.set $f
        ${derivative ? `${splat(1)} local.get $w ${splat(alpha)} f32x4.mul ${positive} v128.bitselect ${splat(scale)} f32x4.mul local.set $dphi` : ''}`;
    }
    case 'gelu': {
      // Phi(u) = 0.5 erfc(-u / sqrt 2) with Abramowitz & Stegun 7.1.26 for erfc(|z|) = poly(t) exp(-z^2),
      // t = 1 / (1 + p |z|) (absolute error < 1.5e-7); f = u Phi(u); phi' = Phi(u) + u exp(-u^2/2) / sqrt(2 pi).
      const [p, a1, a2, a3, a4, a5] = [0.3275911, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];
      return `local.get $u f32x4.abs ${splat(Math.SQRT1_2)} f32x4.mul local.tee $z
        local.get $z f32x4.mul f32x4.neg local.set $z ${exp('z', 'w')}
        ${splat(1)} ${splat(1)} local.get $u f32x4.abs ${splat(Math.SQRT1_2 * p)} f32x4.mul f32x4.add f32x4.div local.set $z
        ${splat(a5)} local.get $z f32x4.mul ${splat(a4)} f32x4.add local.get $z f32x4.mul ${splat(a3)} f32x4.add
        local.get $z f32x4.mul ${splat(a2)} f32x4.add local.get $z f32x4.mul ${splat(a1)} f32x4.add local.get $z f32x4.mul
        local.get $w f32x4.mul ${splat(0.5)} f32x4.mul local.set $z
        ${splat(1)} local.get $z f32x4.sub local.get $z ${positive} v128.bitselect local.set $z
        local.get $u local.get $z f32x4.mul local.set $f
        ${derivative ? `local.get $z local.get $u local.get $w f32x4.mul ${splat(1 / Math.sqrt(2 * Math.PI))} f32x4.mul f32x4.add local.set $dphi` : ''}`;
    }
  }
}

const ACT_LOCALS = ['u', 'f', 'dphi', 'n', 'r', 'w', 'z'];

/** Proxy-normalized activation forward: `y = (phi(x * gamma + beta) - mu) * s`. */
function proxyForward(act: FusedActivation): string {
  return elementwise({
    name: `pn_fwd_${act}`, pointers: ['x', 'y'], params: ['pg', 'pb', 'pm', 'ps'], locals: ACT_LOCALS, touch: ['x', 'y'],
    body: `${load('x')} local.get $pg f32x4.mul local.get $pb f32x4.add local.set $u
      ${activation(act, false)}
      local.get $y local.get $off i32.add local.get $f local.get $pm f32x4.sub local.get $ps f32x4.mul v128.store`,
  });
}

/**
 * Proxy-normalized activation backward, one pass: `w = dz * phi'(u)`, `dx = w * (s gamma)` and the sums
 * `sum(w x)`, `sum(w)`, `sum(dz)`, `sum(dz (f - mu))` (the caller turns them into d gamma, d beta, d mu, d s).
 */
function proxyBackward(act: FusedActivation): string {
  return reduction({
    name: `pn_bwd_${act}`, pointers: ['dz', 'dx'], params: ['pg', 'pb', 'pm', 'ps'], acc: ['a', 'b', 'c', 'e'], touch: ['x', 'dz', 'dx'],
    locals: [...ACT_LOCALS, 'g', 'xv'],
    body: `${load('x')} local.tee $xv local.get $pg f32x4.mul local.get $pb f32x4.add local.set $u
      ${activation(act, true)}
      ${load('dz')} local.tee $g local.get $dphi f32x4.mul local.set $w
      local.get $dx local.get $off i32.add local.get $w local.get $ps f32x4.mul v128.store
      ${accumulate('b', 'w')}
      local.get $w local.get $xv f32x4.mul local.set $w
      ${accumulate('a', 'w')}
      ${accumulate('c', 'g')}
      local.get $g local.get $f local.get $pm f32x4.sub f32x4.mul local.set $g
      ${accumulate('e', 'g')}`,
  });
}

// ------------------------------------------------------------------------------------------- TLU backward

/** TLU backward in one pass: writes `dx = dz·[tau < x]` and accumulates `dz - dx` (the gradient of `tau`). */
function tluBackward(): string {
  return reduction({
    name: 'tlu_bwd', pointers: ['dz', 'dx'], params: ['t'], acc: ['st'], locals: ['g', 'e'], touch: ['x', 'dz', 'dx'],
    body: `${load('dz')} local.set $g
      local.get $g local.get $t ${load('x')} f32x4.lt v128.and local.set $e
      local.get $dx local.get $off i32.add local.get $e v128.store
      local.get $g local.get $e f32x4.sub local.set $g ${accumulate('st', 'g')}`,
  });
}

/** The whole module's text. */
export function simdSource(): string {
  return [...normKernels(true, true), ...normKernels(true, false), ...normKernels(false, true), ...normKernels(false, false),
    ...FUSED_ACTIVATIONS.flatMap((a) => [proxyForward(a), proxyBackward(a)]), tluBackward()].join('\n');
}

// ------------------------------------------------------------------------------------------- instantiation

/** Compiled modules by memory kind; 'pending' while an asynchronous compilation runs; null if impossible. */
const modules = new Map<string, WebAssembly.Module | null | 'pending'>();
/** Instances by memory; 'pending' while an asynchronous instantiation runs; null if impossible. */
const instances = new WeakMap<WebAssembly.Memory, SimdExports | null | 'pending'>();

/** The threaded backend's memory is declared with the 4 GiB maximum (65536 pages). */
const SHARED_MAXIMUM_PAGES = 65536;

/**
 * The module for a memory of this kind, or null while it is not (yet) available: engines without WebAssembly
 * SIMD fail validation (null for good); a refused synchronous compilation (browsers limit it on the main
 * thread) starts an asynchronous one whose result later calls pick up.
 */
function moduleFor(shared: boolean): WebAssembly.Module | null {
  const key = shared ? 'shared' : 'unshared';
  const known = modules.get(key);
  if (known !== undefined) return known === 'pending' ? null : known;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = assemble(simdSource(), shared ? { shared, maximumPages: SHARED_MAXIMUM_PAGES } : { shared: false });
  } catch {
    modules.set(key, null);
    return null;
  }
  if (!WebAssembly.validate(bytes)) {
    modules.set(key, null);
    return null;
  }
  try {
    const module = new WebAssembly.Module(bytes);
    modules.set(key, module);
    return module;
  } catch {
    modules.set(key, 'pending');
    WebAssembly.compile(bytes).then((m) => modules.set(key, m), () => modules.set(key, null));
    return null;
  }
}

/**
 * The kernels instantiated on `memory` (cached per memory), or null when they are not available (no
 * WebAssembly, no SIMD, or an asynchronous compilation / instantiation still running).
 */
export function simdFor(memory: WebAssembly.Memory): SimdExports | null {
  const cached = instances.get(memory);
  if (cached !== undefined) return cached === 'pending' ? null : cached;
  if (typeof WebAssembly !== 'object') return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const module = moduleFor(shared);
  if (module === null) {
    if (modules.get(shared ? 'shared' : 'unshared') === null) instances.set(memory, null);
    return null;
  }
  const imports = { env: { memory } };
  try {
    const exports = new WebAssembly.Instance(module, imports).exports as unknown as SimdExports;
    instances.set(memory, exports);
    return exports;
  } catch {
    instances.set(memory, 'pending');
    WebAssembly.instantiate(module, imports).then(
      (instance) => instances.set(memory, instance.exports as unknown as SimdExports),
      () => instances.set(memory, null));
    return null;
  }
}
