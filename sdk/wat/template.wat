;; template.wat — a Switchyard ABI v1 plugin in WebAssembly text, every byte in
;; view (docs/abi.md). Copy it, rename it, change $choose (routing) or $rewrite
;; (redaction), and build it with wabt:
;;
;;   wat2wasm plugin.wat -o plugin.wasm
;;
;; What is here:
;;   - the required exports: switchyard_abi_version, memory, alloc, init,
;;     plugin_name, plugin_version, plugin_kinds, route, redact;
;;   - a bounds-checked record walker: $u32 and $str read at $pos and set $bad
;;     instead of reading past $end, so a malformed record is bad_input (-2),
;;     never a read of someone else's bytes;
;;   - a route hook that walks the whole request view and upstream table, field
;;     by field, and answers with the healthy upstreams in table order;
;;   - a redact hook that walks the redact record and answers "nothing
;;     matched" (0): write your rewrite where it says so.
;;
;; Memory map (one 64 KiB page to start; alloc grows it):
;;   16..271     plugin_name (up to 256 bytes), 512..575 plugin_version
;;   1024..4095  the route output: up to 768 u32 indices
;;   4096..      the bump heap: the host's input buffer (alloc), never freed
(module
  (import "switchyard" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)

  (data (i32.const 16) "my-plugin")  ;; plugin_name: 9 bytes at 16
  (data (i32.const 512) "1.0.0")     ;; plugin_version: 5 bytes at 512

  (global $heap (mut i32) (i32.const 4096)) ;; next free byte of the bump heap
  (global $pos (mut i32) (i32.const 0))     ;; walker: next byte to read
  (global $end (mut i32) (i32.const 0))     ;; walker: end of the record
  (global $bad (mut i32) (i32.const 0))     ;; walker: a read went past $end
  (global $sp (mut i32) (i32.const 0))      ;; walker: last string's pointer
  (global $sn (mut i32) (i32.const 0))      ;; walker: last string's length

  (func (export "switchyard_abi_version") (result i32) (i32.const 1))
  (func (export "plugin_name") (result i64) (i64.const 0x0000001000000009))    ;; ptr 16 << 32 | len 9
  (func (export "plugin_version") (result i64) (i64.const 0x0000020000000005)) ;; ptr 512 << 32 | len 5
  ;; plugin_kinds: 1 route, 2 redact, 3 both. Say only what you serve.
  (func (export "plugin_kinds") (result i32) (i32.const 1))

  ;; alloc: a bump allocator. The host calls it at start-up (config, input
  ;; buffer) and when a record outgrows the buffer; nothing is freed.
  (func (export "alloc") (param $n i32) (result i32)
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

  ;; init receives the plugin's config as JSON; 0 accepts it, 4 refuses it.
  (func (export "init") (param $p i32) (param $n i32) (result i32) (i32.const 0))

  ;; ---- the record walker -------------------------------------------------

  (func $begin (param $p i32) (param $n i32)
    (global.set $pos (local.get $p))
    (global.set $end (i32.add (local.get $p) (local.get $n)))
    (global.set $bad (i32.const 0)))

  ;; $u32 reads a little-endian u32 (Wasm loads are little-endian and may be unaligned).
  (func $u32 (result i32)
    (local $v i32)
    (if (i32.lt_u (i32.sub (global.get $end) (global.get $pos)) (i32.const 4))
      (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
    (local.set $v (i32.load (global.get $pos)))
    (global.set $pos (i32.add (global.get $pos) (i32.const 4)))
    (local.get $v))

  ;; $str reads a length-prefixed string into $sp/$sn.
  (func $str
    (global.set $sn (call $u32))
    (if (i32.or (global.get $bad)
                (i32.lt_u (i32.sub (global.get $end) (global.get $pos)) (global.get $sn)))
      (then (global.set $bad (i32.const 1)) (global.set $sp (i32.const 0)) (global.set $sn (i32.const 0)) (return)))
    (global.set $sp (global.get $pos))
    (global.set $pos (i32.add (global.get $pos) (global.get $sn))))

  ;; ---- route -------------------------------------------------------------

  ;; $choose decides about one upstream row: 1 = candidate, 0 = not. Change
  ;; it (or the loop in route) to route differently.
  (func $choose (param $healthy i32) (param $latency_us i32) (param $ttfb_us i32) (param $in_flight i32)
                (param $error_rate f32) (param $price_in f32) (param $price_out f32) (param $weight i32)
                (result i32)
    (local.get $healthy))

  (func (export "route") (param $p i32) (param $len i32) (result i64)
    (local $flags i32) (local $prompt_tokens i32) (local $n i32) (local $i i32) (local $out i32)
    (local $healthy i32) (local $latency i32) (local $ttfb i32) (local $inflight i32)
    (local $err f32) (local $pin f32) (local $pout f32) (local $weight i32)
    (call $begin (local.get $p) (local.get $len))
    (local.set $flags (call $u32))         ;; bit 0 stream, bit 1 deterministic
    (local.set $prompt_tokens (call $u32)) ;; estimate
    (call $str)                            ;; model:  $sp/$sn
    (call $str)                            ;; tenant
    (call $str)                            ;; path
    (call $str)                            ;; pop
    (call $str)                            ;; region
    (local.set $n (call $u32))             ;; header count
    (block $done (loop $next               ;; headers: name, value
      (br_if $done (i32.or (global.get $bad) (i32.eqz (local.get $n))))
      (call $str) (call $str)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.set $n (call $u32))             ;; upstream count
    (local.set $out (i32.const 1024))
    (block $done (loop $next
      (br_if $done (i32.or (global.get $bad) (i32.ge_u (local.get $i) (local.get $n))))
      (call $str)                          ;; name
      (call $str)                          ;; provider
      (call $str)                          ;; region
      (local.set $healthy (i32.and (call $u32) (i32.const 1)))
      (local.set $latency (call $u32))     ;; µs
      (local.set $ttfb (call $u32))        ;; µs
      (local.set $inflight (call $u32))
      (local.set $err (f32.reinterpret_i32 (call $u32)))
      (local.set $pin (f32.reinterpret_i32 (call $u32)))
      (local.set $pout (f32.reinterpret_i32 (call $u32)))
      (local.set $weight (call $u32))
      (if (i32.and (i32.lt_u (local.get $out) (i32.const 4096))
                   (call $choose (local.get $healthy) (local.get $latency) (local.get $ttfb) (local.get $inflight)
                                 (local.get $err) (local.get $pin) (local.get $pout) (local.get $weight)))
        (then
          (i32.store (local.get $out) (local.get $i))
          (local.set $out (i32.add (local.get $out) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    ;; a malformed record, or bytes left over: bad_input
    (if (i32.or (global.get $bad) (i32.ne (global.get $pos) (global.get $end)))
      (then (return (i64.const -2))))
    ;; packed result: ptr 1024 << 32 | byte length (0 = no opinion)
    (i64.or (i64.const 0x0000040000000000)
            (i64.extend_i32_u (i32.sub (local.get $out) (i32.const 1024)))))

  ;; ---- redact ------------------------------------------------------------

  ;; redact walks { u32 flags, string body, u32 taken_count, taken × string }.
  ;; To redact, write { string body, u32 pair_count, pair_count × { string
  ;; placeholder, string original } } into memory from alloc and return
  ;; ptr << 32 | len; placeholders are <KIND_n>, skipping taken ones.
  ;; Set plugin_kinds to 2 (or 3) when you do.
  (func (export "redact") (param $p i32) (param $len i32) (result i64)
    (local $body i32) (local $body_len i32) (local $n i32)
    (call $begin (local.get $p) (local.get $len))
    (drop (call $u32))                     ;; flags, reserved
    (call $str)                            ;; body
    (local.set $body (global.get $sp))
    (local.set $body_len (global.get $sn))
    (local.set $n (call $u32))             ;; taken placeholders
    (block $done (loop $next
      (br_if $done (i32.or (global.get $bad) (i32.eqz (local.get $n))))
      (call $str)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (if (i32.or (global.get $bad) (i32.ne (global.get $pos) (global.get $end)))
      (then (return (i64.const -2))))
    ;; your rewrite of $body/$body_len goes here
    (i64.const 0))                         ;; nothing matched
)
