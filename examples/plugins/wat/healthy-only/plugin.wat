;; healthy-only: a minimal Switchyard ABI v1 routing plugin in WebAssembly text.
;; It answers with the healthy upstreams in table order, or "no opinion" when
;; none is healthy. The record layout is docs/abi.md "route"; the host built
;; the record, so the guest walks it without checks of its own (a bad read
;; would trap, which the host treats as a plugin failure).
(module
  (import "switchyard" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  ;; bump allocator: the host calls alloc only at start-up and to grow its
  ;; input buffer, so nothing is ever freed.
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "healthy-only")
  (data (i32.const 32) "1.0.0")
  (data (i32.const 48) "healthy-only ready")

  (func (export "switchyard_abi_version") (result i32) (i32.const 1))
  (func (export "plugin_name") (result i64) (i64.const 0x000000100000000c))    ;; ptr 16, len 12
  (func (export "plugin_version") (result i64) (i64.const 0x0000002000000005)) ;; ptr 32, len 5

  (func (export "alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $have i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535)) (i32.const 16)))
                    (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))

  (func (export "init") (param i32 i32) (result i32)
    (call $log (i32.const 0) (i32.const 48) (i32.const 18))
    (i32.const 0))

  ;; $skip returns the offset after the length-prefixed string at $p.
  (func $skip (param $p i32) (result i32)
    (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p))))

  (func (export "route") (param $p i32) (param $len i32) (result i64)
    (local $i i32) (local $n i32) (local $out i32)
    (local.set $p (i32.add (local.get $p) (i32.const 8)))                  ;; flags, prompt_tokens
    (local.set $p (call $skip (call $skip (call $skip (call $skip (call $skip (local.get $p))))))) ;; model tenant path pop region
    (local.set $n (i32.load (local.get $p)))                               ;; headers
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $p (call $skip (call $skip (local.get $p))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.set $n (i32.load (local.get $p)))                               ;; upstreams
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (local.set $out (i32.const 1024))                                      ;; output: up to 768 indices
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (br_if $done (i32.ge_u (local.get $i) (i32.const 768)))
      (local.set $p (call $skip (call $skip (call $skip (local.get $p))))) ;; name provider region
      (if (i32.and (i32.load (local.get $p)) (i32.const 1))                 ;; flags & healthy
        (then
          (i32.store (local.get $out) (local.get $i))
          (local.set $out (i32.add (local.get $out) (i32.const 4)))))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))               ;; fixed part of the row
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    ;; packed result: ptr 1024 << 32 | byte length (0 = no opinion)
    (i64.or (i64.const 0x0000040000000000)
            (i64.extend_i32_u (i32.sub (local.get $out) (i32.const 1024)))))
)
