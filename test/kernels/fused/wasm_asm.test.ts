import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../../src/kernels/fused/wasm_asm.js';
import { simdSource } from '../../../src/kernels/fused/simd_module.js';

const SOURCE = `
;; Sum of n floats at byte offset p: four lanes at a time into float64 pairs, then the lanes added up.
(func $sum (export "sum") (param $p i32) (param $n i32) (result f64) (local $lo v128) (local $hi v128) (local $v v128) (local $end i32)
  local.get $p local.get $n i32.const 2 i32.shl i32.add local.set $end
  v128.const f64x2 0 0 local.tee $lo local.set $hi
  block $done
    local.get $p local.get $end i32.ge_u br_if $done
    loop $next
      local.get $p v128.load local.tee $v f64x2.promote_low_f32x4 local.get $lo f64x2.add local.set $lo
      local.get $v local.get $v i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7
      f64x2.promote_low_f32x4 local.get $hi f64x2.add local.set $hi
      local.get $p i32.const 16 i32.add local.tee $p local.get $end i32.lt_u br_if $next
    end
  end
  local.get $lo local.get $hi f64x2.add local.tee $lo f64x2.extract_lane 0 local.get $lo f64x2.extract_lane 1 f64.add
)
(func $add (param $a i32) (param $b i32) (result i32) local.get $a local.get $b i32.add)
;; |x| as an if/else, twice by a call, and a constant.
(func $absTwice (export "absTwice") (param $x i32) (result i32) (local $r i32)
  local.get $x i32.const 0 i32.lt_s
  if
    i32.const 0 local.get $x i32.sub local.set $r
  else
    local.get $x local.set $r
  end
  local.get $r local.get $r call $add
)
(func $store (export "store") (param $p i32) (param $v f32)
  local.get $p local.get $v f32x4.splat v128.const f32x4 1 2 3 4.5 f32x4.mul v128.store offset=16
)`;

describe('wasm_asm', () => {
  it('assembles a valid module whose functions compute what the text says', () => {
    const bytes = assemble(SOURCE);
    assert.ok(WebAssembly.validate(bytes));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
    const f32 = new Float32Array(memory.buffer);
    const data = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 10);
    f32.set(data, 64);
    assert.ok(Math.abs(exports.sum(256, 24) - data.reduce((a, b) => a + b, 0)) < 1e-12);
    assert.equal(exports.sum(256, 0), 0);
    assert.equal(exports.absTwice(-7), 14);
    assert.equal(exports.absTwice(5), 10);
    exports.store(1024, 2);
    assert.deepEqual(Array.from(f32.slice(260, 264)), [2, 4, 6, 9]);
    assert.equal('add' in exports, false, 'a function without (export) is not exported');
  });

  it('assembles the kernels of simd_module into a valid module', () => {
    assert.ok(WebAssembly.validate(assemble(simdSource())));
    assert.ok(WebAssembly.validate(assemble(simdSource(), { shared: true, maximumPages: 65536 })) || typeof SharedArrayBuffer === 'undefined');
  });

  it('reports errors naming the function and the token', () => {
    assert.throws(() => assemble('(func $f local.get $x)'), /\$f: unknown local '\$x'/);
    assert.throws(() => assemble('(func $g (param $a i32) local.get $a f32x4.frobnicate)'), /\$g: unknown instruction 'f32x4.frobnicate'/);
    assert.throws(() => assemble('(func $h block $a br $b end)'), /\$h: unknown label '\$b'/);
    assert.throws(() => assemble('(func $k block $a)'), /\$k: 1 unclosed block/);
    assert.throws(() => assemble('(func $m (param $a q32))'), /unknown value type 'q32'/);
    assert.throws(() => assemble('(func $n call $nowhere)'), /\$n: unknown function '\$nowhere'/);
    assert.throws(() => assemble('(func $s (export "s"))', { shared: true }), /shared memory needs maximumPages/);
  });
});
