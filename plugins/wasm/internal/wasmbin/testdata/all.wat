;; Every instruction class wasmbin decodes, for round-trip and fuel tests.
;; Built with: wat2wasm all.wat -o all.wasm (wabt 1.0.32 defaults)
(module
  (type $ii_i (func (param i32 i32) (result i32)))
  (type $v_ii (func (result i32 i32)))
  (type $i_ii (func (param i32) (result i32 i32)))
  (import "env" "imported" (func $imported (param i32) (result i32)))
  (import "env" "g_in" (global $g_in i32))
  (import "env" "g_mut" (global $g_mut (mut i64)))
  (memory (export "memory") 1 2)
  (table $t0 4 funcref)
  (table $t1 2 8 externref)
  (table $t2 4 funcref)
  (global $g0 (mut i32) (i32.const 7))
  (global $g1 i64 (i64.const -1))
  (global $g2 f32 (f32.const 1.5))
  (global $g3 f64 (f64.const -2.25))
  (global $g4 funcref (ref.func $add))
  (global $g5 externref (ref.null extern))
  (global $g6 v128 (v128.const i32x4 1 2 3 4))
  (global $g7 i32 (global.get $g_in))
  (export "add" (func $add))
  (export "g0" (global $g0))
  (export "t0" (table $t0))
  (start $start)

  ;; the 8 element segment encodings
  (elem (i32.const 0) $add $sub)                                   ;; 0
  (elem func $add)                                                 ;; 1
  (elem (table $t2) (i32.const 2) func $sub)                       ;; 2
  (elem declare func $declared)                                    ;; 3
  (elem (i32.const 3) funcref (ref.null func))                     ;; 4
  (elem funcref (ref.func $sub) (ref.null func))                   ;; 5
  (elem (table $t1) (i32.const 0) externref (ref.null extern))     ;; 6
  (elem declare funcref (ref.null func))                           ;; 7

  ;; the 3 data segment forms
  (data (i32.const 16) "hello")
  (data "passive")
  (data (memory 0) (i32.const 32) "explicit") ;; wat2wasm emits form 0; form 2 is tested by hand

  (func $start (global.set $g0 (i32.const 8)))
  (func $declared)
  (func $add (type $ii_i) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $ii_i) (i32.sub (local.get 0) (local.get 1)))

  (func $control (export "control") (param $n i32) (result i32) (local $i i32) (local $x i64)
    nop
    (block $b (result i32)
      (loop $l
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))
      )
      (if (result i32) (local.get $n)
        (then (i32.const 1))
        (else (i32.const 2)))
      (br_table $b $b (i32.const 0))
    )
    (block $out
      (br $out))
    drop
    (call $imported (i32.const 3))
    (call_indirect $t0 (type $ii_i) (i32.const 1) (i32.const 2) (i32.const 0))
    drop
    (select (i32.const 1) (i32.const 2) (local.get $n))
    (select (result i64) (i64.const 1) (i64.const 2) (local.get $n))
    drop
    drop
    (global.set $g0 (global.get $g0))
    (global.set $g_mut (global.get $g_mut))
    (if (i32.eqz (local.get $n)) (then unreachable))
    (if (i32.eq (local.get $n) (i32.const 99)) (then (return (i32.const 9))))
  )

  (func $multi (export "multi") (type $v_ii)
    (block (type $v_ii) (i32.const 1) (i32.const 2))
  )
  (func $multi_param (type $i_ii)
    (local.get 0)
    (block (type $i_ii) (i32.const 4)))

  (func $memory (export "mem") (param $p i32) (local $v v128)
    (i32.store offset=4 align=2 (local.get $p) (i32.load (local.get $p)))
    (i64.store (local.get $p) (i64.load offset=8 (local.get $p)))
    (f32.store (local.get $p) (f32.load (local.get $p)))
    (f64.store (local.get $p) (f64.load (local.get $p)))
    (i32.store8 (local.get $p) (i32.load8_s (local.get $p)))
    (i32.store16 (local.get $p) (i32.load16_u (local.get $p)))
    (i64.store8 (local.get $p) (i64.load8_u (local.get $p)))
    (i64.store16 (local.get $p) (i64.load16_s (local.get $p)))
    (i64.store32 (local.get $p) (i64.load32_u (local.get $p)))
    (drop (i64.load32_s (local.get $p)))
    (drop (i32.load8_u (local.get $p)))
    (drop (i32.load16_s (local.get $p)))
    (drop (i64.load8_s (local.get $p)))
    (drop (i64.load16_u (local.get $p)))
    (drop (memory.grow (memory.size)))
    ;; bulk memory
    (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 3))
    (data.drop 1)
    (memory.copy (i32.const 0) (i32.const 16) (i32.const 4))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 4))
    (table.init $t0 1 (i32.const 0) (i32.const 0) (i32.const 1))
    (elem.drop 1)
    (table.copy $t0 $t0 (i32.const 0) (i32.const 1) (i32.const 1))
    (drop (table.grow $t0 (ref.null func) (i32.const 1)))
    (drop (table.size $t1))
    (table.fill $t0 (i32.const 0) (ref.func $add) (i32.const 1))
    ;; reference types
    (table.set $t1 (i32.const 0) (table.get $t1 (i32.const 1)))
    (drop (ref.is_null (ref.null func)))
    (drop (ref.func $sub))
    ;; SIMD with each immediate shape
    (local.set $v (v128.load offset=16 (local.get $p)))
    (v128.store (local.get $p) (local.get $v))
    (local.set $v (v128.load8x8_s (local.get $p)))
    (local.set $v (v128.load32_splat (local.get $p)))
    (local.set $v (v128.load64_zero (local.get $p)))
    (local.set $v (v128.load8_lane 3 (local.get $p) (local.get $v)))
    (v128.store64_lane 1 (local.get $p) (local.get $v))
    (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get $v) (v128.const i64x2 1 2)))
    (local.set $v (i32x4.replace_lane 2 (local.get $v) (i32x4.extract_lane 1 (local.get $v))))
    (local.set $v (i8x16.add (local.get $v) (i8x16.splat (i32.const 1))))
    (local.set $v (f64x2.promote_low_f32x4 (local.get $v)))
    (local.set $v (i32x4.dot_i16x8_s (local.get $v) (local.get $v)))
    (drop (v128.any_true (local.get $v)))
  )

  (func $numeric (export "numeric") (param $a i32) (param $b i64) (param $f f32) (param $d f64) (result i64)
    (drop (i32.clz (local.get $a)))
    (drop (i32.popcnt (i32.rotl (local.get $a) (i32.const 3))))
    (drop (i64.div_s (local.get $b) (i64.const 3)))
    (drop (f32.sqrt (f32.mul (local.get $f) (f32.const 2))))
    (drop (f64.copysign (local.get $d) (f64.const -1)))
    (drop (i32.wrap_i64 (local.get $b)))
    (drop (i64.extend_i32_u (local.get $a)))
    (drop (f32.demote_f64 (local.get $d)))
    (drop (f64.promote_f32 (local.get $f)))
    (drop (i32.reinterpret_f32 (local.get $f)))
    (drop (f64.reinterpret_i64 (local.get $b)))
    (drop (i32.trunc_f32_s (f32.const 1)))
    ;; sign extension 0xC0..0xC4
    (drop (i32.extend8_s (local.get $a)))
    (drop (i32.extend16_s (local.get $a)))
    (drop (i64.extend8_s (local.get $b)))
    (drop (i64.extend16_s (local.get $b)))
    (drop (i64.extend32_s (local.get $b)))
    ;; non-trapping float-to-int 0xFC 0..7
    (drop (i32.trunc_sat_f32_s (local.get $f)))
    (drop (i32.trunc_sat_f32_u (local.get $f)))
    (drop (i32.trunc_sat_f64_s (local.get $d)))
    (drop (i32.trunc_sat_f64_u (local.get $d)))
    (drop (i64.trunc_sat_f32_s (local.get $f)))
    (drop (i64.trunc_sat_f32_u (local.get $f)))
    (drop (i64.trunc_sat_f64_s (local.get $d)))
    (i64.trunc_sat_f64_u (local.get $d))
  )
)
