;; Host test fixture: Bad output chosen by prompt_tokens (route) or the body's first byte (redact):
;; out-of-bounds pointers and lengths, ragged lengths, bad and duplicated indices, proc_exit, an
;; empty body with a pair, a placeholder of the wrong shape, an original not in the body; else
;; valid output (route [0]; redact: the body's first byte becomes <X_1>).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "fixture")
  (data (i32.const 32) "0.0.1")
  (func (export "plugin_name") (result i64) (i64.const 0x0000001000000007))
  (func (export "plugin_version") (result i64) (i64.const 0x0000002000000005))
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
  (func (export "switchyard_abi_version") (result i32) (i32.const 1))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))

  (data (i32.const 64) "\00\00\00\00")                      ;; route output [0]
  (data (i32.const 80) "\63\00\00\00")                      ;; route output [99]
  (data (i32.const 96) "\00\00\00\00\00\00\00\00")          ;; route output [0, 0]
  ;; redact output: empty body + 1 pair ("<X_1>", "x")
  (data (i32.const 192) "\00\00\00\00\01\00\00\00\05\00\00\00<X_1>\01\00\00\00x")
  ;; redact output: body "<x>" + 1 pair ("<x>", "f"): not the placeholder shape
  (data (i32.const 224) "\03\00\00\00<x>\01\00\00\00\03\00\00\00<x>\01\00\00\00f")
  ;; redact output: body "<X_1>" + 1 pair ("<X_1>", "evil"): not the body's text
  (data (i32.const 256) "\05\00\00\00<X_1>\01\00\00\00\05\00\00\00<X_1>\04\00\00\00evil")
  (data (i32.const 300) "<X_1>")
  ;; redact output: body "{}" + 1 pair ("<X_1>", "x")
  (data (i32.const 128) "\02\00\00\00{}\01\00\00\00\05\00\00\00<X_1>\01\00\00\00x")
  (func (export "route") (param $p i32) (param $len i32) (result i64)
    (local $t i32)
    (local.set $t (i32.load offset=4 (local.get $p)))
    (if (i32.eq (local.get $t) (i32.const 0)) (then (return (i64.const 0x7fff000000000004))))  ;; ptr past memory
    (if (i32.eq (local.get $t) (i32.const 1)) (then (return (i64.const 0x000000407fffffff))))  ;; len past memory
    (if (i32.eq (local.get $t) (i32.const 2)) (then (return (i64.const 0x0000004000000003))))  ;; len not a multiple of 4
    (if (i32.eq (local.get $t) (i32.const 3)) (then (return (i64.const 0x0000005000000004))))  ;; index 99
    (if (i32.eq (local.get $t) (i32.const 4)) (then (return (i64.const -2))))                  ;; error code 2
    (if (i32.eq (local.get $t) (i32.const 5)) (then (call $exit (i32.const 3))))               ;; proc_exit
    (if (i32.eq (local.get $t) (i32.const 6)) (then (return (i64.const 0x0000004000010000))))  ;; more indices than upstreams
    (if (i32.eq (local.get $t) (i32.const 8)) (then (return (i64.const 0x0000006000000008))))  ;; [0, 0]
    (i64.const 0x0000004000000004))                                                            ;; [0]
  (func (export "redact") (param $p i32) (param $len i32) (result i64)
    (local $c i32) (local $blen i32) (local $o i32) (local $e i32)
    (local.set $c (i32.load8_u offset=8 (local.get $p)))       ;; first byte of the body
    (if (i32.eq (local.get $c) (i32.const 0x61)) (then (return (i64.const 0x7fff000000000010))))  ;; 'a': ptr past memory
    (if (i32.eq (local.get $c) (i32.const 0x62)) (then                                              ;; 'b': body length lies
      (i32.store (i32.const 128) (i32.const 0x7fffffff))
      (return (i64.const 0x0000008000000018))))
    (if (i32.eq (local.get $c) (i32.const 0x63)) (then                                              ;; 'c': pair count lies
      (i32.store (i32.const 134) (i32.const 0x10000000))
      (return (i64.const 0x0000008000000018))))
    (if (i32.eq (local.get $c) (i32.const 0x64)) (then (return (i64.const 0x0000008000000017))))  ;; 'd': truncated record
    (if (i32.eq (local.get $c) (i32.const 0x7b)) (then (return (i64.const 0))))                    ;; '{': nothing to redact
    (if (i32.eq (local.get $c) (i32.const 0x65)) (then (return (i64.const 0x000000c000000016))))  ;; 'e': empty body, a pair
    (if (i32.eq (local.get $c) (i32.const 0x66)) (then (return (i64.const 0x000000e000000017))))  ;; 'f': bad shape
    (if (i32.eq (local.get $c) (i32.const 0x67)) (then (return (i64.const 0x000001000000001e))))  ;; 'g': original not in body
    ;; valid: "<X_1>" + body[1:], 1 pair ("<X_1>", body[0]), written after the input record
    (local.set $blen (i32.load offset=4 (local.get $p)))
    (local.set $o (i32.and (i32.add (i32.add (local.get $p) (local.get $len)) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (i32.add (i32.add (local.get $o) (local.get $blen)) (i32.const 64)) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get $blen) (i32.const 16)) (i32.const 1))))))
    (i32.store (local.get $o) (i32.add (local.get $blen) (i32.const 4)))
    (memory.copy (i32.add (local.get $o) (i32.const 4)) (i32.const 300) (i32.const 5))
    (memory.copy (i32.add (local.get $o) (i32.const 9)) (i32.add (local.get $p) (i32.const 9)) (i32.sub (local.get $blen) (i32.const 1)))
    (local.set $e (i32.add (i32.add (local.get $o) (i32.const 8)) (local.get $blen)))   ;; end of body
    (i32.store (local.get $e) (i32.const 1))
    (i32.store offset=4 (local.get $e) (i32.const 5))
    (memory.copy (i32.add (local.get $e) (i32.const 8)) (i32.const 300) (i32.const 5))
    (i32.store offset=13 (local.get $e) (i32.const 1))
    (i32.store8 offset=17 (local.get $e) (local.get $c))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $o)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (i32.add (local.get $e) (i32.const 18)) (local.get $o)))))
)
