;; redact-digits: a Switchyard ABI v1 redaction plugin in WebAssembly text. It
;; replaces every run of six or more ASCII digits (card, account and phone
;; numbers) in the request body by <NUMBER_1>, <NUMBER_2>, … — the same run
;; keeps its placeholder, numbers taken by earlier redactors are skipped —
;; the behaviour of `switchyard plugin new --kind redact` in every other
;; language. The record walker is the one of sdk/wat/template.wat.
;;
;; Memory map:
;;   16..28     plugin_name "redact-digits"; 512..516 plugin_version "1.0.0"
;;   600..615   scratch for one candidate placeholder
;;   4096..     bump heap: the host's input buffer, and $scratch (see redact)
(module
  (import "switchyard" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "redact-digits")
  (data (i32.const 512) "1.0.0")
  (data (i32.const 560) "<NUMBER_")

  (global $heap (mut i32) (i32.const 4096))
  (global $pos (mut i32) (i32.const 0))
  (global $end (mut i32) (i32.const 0))
  (global $bad (mut i32) (i32.const 0))
  (global $sp (mut i32) (i32.const 0))
  (global $sn (mut i32) (i32.const 0))
  ;; $scratch/$scratch_cap: the output record and the pair table, reused
  ;; across calls and replaced by a bigger one when a body needs it.
  (global $scratch (mut i32) (i32.const 0))
  (global $scratch_cap (mut i32) (i32.const 0))
  ;; the taken placeholders of this call: $taken_n strings from $taken
  (global $taken (mut i32) (i32.const 0))
  (global $taken_n (mut i32) (i32.const 0))

  (func (export "switchyard_abi_version") (result i32) (i32.const 1))
  (func (export "plugin_name") (result i64) (i64.const 0x000000100000000d))    ;; ptr 16, len 13
  (func (export "plugin_version") (result i64) (i64.const 0x0000020000000005)) ;; ptr 512, len 5
  (func (export "plugin_kinds") (result i32) (i32.const 2))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))

  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32) (local $top i32) (local $have i32)
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $p (global.get $heap))
    (local.set $top (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $top) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $top) (local.get $have)) (i32.const 65535))
                                            (i32.const 16)))
                    (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $top))
    (local.get $p))

  ;; ---- the record walker (sdk/wat/template.wat) ----
  (func $begin (param $p i32) (param $n i32)
    (global.set $pos (local.get $p))
    (global.set $end (i32.add (local.get $p) (local.get $n)))
    (global.set $bad (i32.const 0)))
  (func $u32 (result i32)
    (local $v i32)
    (if (i32.lt_u (i32.sub (global.get $end) (global.get $pos)) (i32.const 4))
      (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
    (local.set $v (i32.load (global.get $pos)))
    (global.set $pos (i32.add (global.get $pos) (i32.const 4)))
    (local.get $v))
  (func $str
    (global.set $sn (call $u32))
    (if (i32.or (global.get $bad)
                (i32.lt_u (i32.sub (global.get $end) (global.get $pos)) (global.get $sn)))
      (then (global.set $bad (i32.const 1)) (global.set $sp (i32.const 0)) (global.set $sn (i32.const 0)) (return)))
    (global.set $sp (global.get $pos))
    (global.set $pos (i32.add (global.get $pos) (global.get $sn))))

  ;; $eq reports whether the n bytes at a and b are equal.
  (func $eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $ne (loop $next
      (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
      (br_if $ne (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (i32.const 0))

  ;; $placeholder writes <NUMBER_num> at dst and returns its end.
  (func $placeholder (param $dst i32) (param $num i32) (result i32)
    (local $d i32) (local $k i32)
    (memory.copy (local.get $dst) (i32.const 560) (i32.const 8))
    (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
    (local.set $d (i32.const 1))                 ;; the largest power of ten <= num
    (block $done (loop $up
      (br_if $done (i32.lt_u (i32.div_u (local.get $num) (local.get $d)) (i32.const 10)))
      (local.set $d (i32.mul (local.get $d) (i32.const 10)))
      (br $up)))
    (block $done (loop $digit
      (br_if $done (i32.eqz (local.get $d)))
      (i32.store8 (local.get $dst)
        (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $num) (local.get $d)) (i32.const 10))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
      (local.set $d (i32.div_u (local.get $d) (i32.const 10)))
      (br $digit)))
    (i32.store8 (local.get $dst) (i32.const 62)) ;; >
    (i32.add (local.get $dst) (i32.const 1)))

  ;; $is_taken reports whether the n bytes at p are one of the taken placeholders.
  (func $is_taken (param $p i32) (param $n i32) (result i32)
    (local $t i32) (local $i i32) (local $len i32)
    (local.set $t (global.get $taken))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (global.get $taken_n)))
      (local.set $len (i32.load (local.get $t)))
      (if (i32.and (i32.eq (local.get $len) (local.get $n))
                   (call $eq (i32.add (local.get $t) (i32.const 4)) (local.get $p) (local.get $n)))
        (then (return (i32.const 1))))
      (local.set $t (i32.add (i32.add (local.get $t) (i32.const 4)) (local.get $len)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))

  ;; $skip returns the first index at or after i below n whose byte is (want
  ;; 1) or is not (want 0) a digit, or n. A function of its own so that the
  ;; per-byte loop is as small as it can be (the host charges fuel per pass).
  (func $skip (param $b i32) (param $i i32) (param $n i32) (param $want i32) (result i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (br_if $done (i32.eq (i32.le_u (i32.sub (i32.load8_u (i32.add (local.get $b) (local.get $i))) (i32.const 48))
                                     (i32.const 9))
                           (local.get $want)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $i))

  (func (export "redact") (param $p i32) (param $len i32) (result i64)
    (local $body i32) (local $n i32) (local $need i32)
    (local $out i32) (local $w i32) (local $pairs i32) (local $np i32)
    (local $i i32) (local $j i32) (local $last i32) (local $k i32) (local $num i32) (local $next i32) (local $e i32)
    (call $begin (local.get $p) (local.get $len))
    (drop (call $u32))                                ;; flags, reserved
    (call $str)
    (local.set $body (global.get $sp))
    (local.set $n (global.get $sn))
    (global.set $taken_n (call $u32))
    (global.set $taken (global.get $pos))
    (local.set $k (global.get $taken_n))
    (block $done (loop $walk
      (br_if $done (i32.or (global.get $bad) (i32.eqz (local.get $k))))
      (call $str)
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br $walk)))
    (if (i32.or (global.get $bad) (i32.ne (global.get $pos) (global.get $end)))
      (then (return (i64.const -2))))
    ;; scratch: output (≤ 8n + 8 bytes: a placeholder is < 3× its run, a pair
    ;; < 24 bytes plus its run) then the pair table (12 bytes per run of ≥ 6).
    (local.set $need (i32.add (i32.mul (local.get $n) (i32.const 11)) (i32.const 64)))
    (if (i32.gt_u (local.get $need) (global.get $scratch_cap))
      (then
        (global.set $scratch (call $alloc (local.get $need)))
        (if (i32.eqz (global.get $scratch)) (then (global.set $scratch_cap (i32.const 0)) (return (i64.const -1))))
        (global.set $scratch_cap (local.get $need))))
    (local.set $out (global.get $scratch))
    (local.set $pairs (i32.add (local.get $out) (i32.add (i32.mul (local.get $n) (i32.const 8)) (i32.const 16))))
    (local.set $w (i32.add (local.get $out) (i32.const 4)))
    (block $scanned (loop $scan
      (local.set $i (call $skip (local.get $body) (local.get $i) (local.get $n) (i32.const 1)))
      (br_if $scanned (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $j (call $skip (local.get $body) (local.get $i) (local.get $n) (i32.const 0)))
      (if (i32.ge_u (i32.sub (local.get $j) (local.get $i)) (i32.const 6))
        (then
          ;; the same run again keeps its number
          (local.set $num (i32.const 0))
          (local.set $k (i32.const 0))
          (block $found (loop $pair
            (br_if $found (i32.ge_u (local.get $k) (local.get $np)))
            (local.set $e (i32.add (local.get $pairs) (i32.mul (local.get $k) (i32.const 12))))
            (if (i32.and (i32.eq (i32.load offset=4 (local.get $e)) (i32.sub (local.get $j) (local.get $i)))
                         (call $eq (i32.load (local.get $e)) (i32.add (local.get $body) (local.get $i))
                               (i32.sub (local.get $j) (local.get $i))))
              (then (local.set $num (i32.load offset=8 (local.get $e))) (br $found)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $pair)))
          (if (i32.eqz (local.get $num))
            (then
              ;; a new run: the next number no earlier redactor took
              (loop $try
                (local.set $next (i32.add (local.get $next) (i32.const 1)))
                (br_if $try (call $is_taken (i32.const 600)
                                  (i32.sub (call $placeholder (i32.const 600) (local.get $next)) (i32.const 600)))))
              (local.set $num (local.get $next))
              (local.set $e (i32.add (local.get $pairs) (i32.mul (local.get $np) (i32.const 12))))
              (i32.store (local.get $e) (i32.add (local.get $body) (local.get $i)))
              (i32.store offset=4 (local.get $e) (i32.sub (local.get $j) (local.get $i)))
              (i32.store offset=8 (local.get $e) (local.get $num))
              (local.set $np (i32.add (local.get $np) (i32.const 1)))))
          (memory.copy (local.get $w) (i32.add (local.get $body) (local.get $last)) (i32.sub (local.get $i) (local.get $last)))
          (local.set $w (call $placeholder (i32.add (local.get $w) (i32.sub (local.get $i) (local.get $last))) (local.get $num)))
          (local.set $last (local.get $j))))
      (local.set $i (local.get $j))
      (br $scan)))
    (if (i32.eqz (local.get $np)) (then (return (i64.const 0))))   ;; nothing matched
    (memory.copy (local.get $w) (i32.add (local.get $body) (local.get $last)) (i32.sub (local.get $n) (local.get $last)))
    (local.set $w (i32.add (local.get $w) (i32.sub (local.get $n) (local.get $last))))
    (i32.store (local.get $out) (i32.sub (i32.sub (local.get $w) (local.get $out)) (i32.const 4)))  ;; body length
    (i32.store (local.get $w) (local.get $np))
    (local.set $w (i32.add (local.get $w) (i32.const 4)))
    (local.set $k (i32.const 0))
    (block $done (loop $emit
      (br_if $done (i32.ge_u (local.get $k) (local.get $np)))
      (local.set $e (i32.add (local.get $pairs) (i32.mul (local.get $k) (i32.const 12))))
      ;; string placeholder, then string original
      (local.set $j (call $placeholder (i32.add (local.get $w) (i32.const 4)) (i32.load offset=8 (local.get $e))))
      (i32.store (local.get $w) (i32.sub (i32.sub (local.get $j) (local.get $w)) (i32.const 4)))
      (local.set $w (local.get $j))
      (i32.store (local.get $w) (i32.load offset=4 (local.get $e)))
      (memory.copy (i32.add (local.get $w) (i32.const 4)) (i32.load (local.get $e)) (i32.load offset=4 (local.get $e)))
      (local.set $w (i32.add (i32.add (local.get $w) (i32.const 4)) (i32.load offset=4 (local.get $e))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $emit)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $w) (local.get $out)))))
)
