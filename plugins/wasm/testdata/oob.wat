;; Host test fixture: Bad output chosen by prompt_tokens (route) or the body's first byte (redact):
;; out-of-bounds pointers and lengths, ragged lengths, bad indices, proc_exit; else valid output.
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
    (i64.const 0x0000004000000004))                                                            ;; [0]
  (func (export "redact") (param $p i32) (param $len i32) (result i64)
    (local $c i32)
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
    ;; valid: reset the record in case an earlier call corrupted it
    (i32.store (i32.const 128) (i32.const 2))
    (i32.store (i32.const 134) (i32.const 1))
    (i64.const 0x0000008000000018))
)
