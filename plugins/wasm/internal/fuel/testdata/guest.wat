;; Guest for the fuel semantics tests and BenchmarkFuelOverhead.
;; Built with: wat2wasm guest.wat -o guest.wasm
(module
  (memory (export "memory") 2)

  ;; sum returns 0+1+...+(n-1) computed in a loop.
  (func (export "sum") (param $n i64) (result i64) (local $i i64) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $acc))

  ;; fib is the doubly recursive Fibonacci.
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add
        (call $fib (i32.sub (local.get $n) (i32.const 1)))
        (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; spin never returns.
  (func (export "spin")
    (loop $forever (br $forever)))

  ;; recurse never returns either, without a loop.
  (func $recurse (export "recurse") (param i32) (result i32)
    (call $recurse (i32.add (local.get 0) (i32.const 1))))

  ;; checksum is an Adler-like sum over memory[0:len], the overhead benchmark's hot loop.
  (func (export "checksum") (param $len i32) (result i32) (local $p i32) (local $a i32) (local $b i32)
    (local.set $a (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $len)))
        (local.set $a (i32.add (local.get $a) (i32.load8_u (local.get $p))))
        (local.set $b (i32.add (local.get $b) (local.get $a)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (i32.xor (local.get $a) (i32.shl (local.get $b) (i32.const 16))))

  ;; pairs runs a loop that carries two values as block params (multi-value).
  (func (export "pairs") (param $n i32) (result i32 i32)
    (i32.const 0) (i32.const 0)
    (loop $l (param i32 i32) (result i32 i32)
      (i32.add (i32.const 1))       ;; second += 1
      (local.get $n)
      (i32.lt_u (local.get $n) (i32.const 0)) ;; never: keeps the stack shape simple
      (drop)
      (drop)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.ne (local.get $n) (i32.const 0)))))
;; early leaves its loop with br_if to the function's own label.
  (func (export "early") (param $n i32) (result i32)
    (loop $l
      (drop (br_if 1 (i32.const 7) (i32.eqz (local.get $n))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l))
    (i32.const 0))

  ;; table_exit leaves its loop through br_table's default, the function label.
  (func (export "table_exit") (param $n i32)
    (loop $l
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_table $l 1 (i32.eqz (local.get $n)))))

  ;; ret returns early from inside an if.
  (func (export "ret") (param i32) (result i32)
    (if (local.get 0) (then (return (i32.const 1))))
    (i32.const 2))

  ;; iters counts fill_spin's iterations.
  (global $iters (export "iters") (mut i32) (i32.const 0))

  ;; fill_spin fills n bytes of memory forever.
  (func (export "fill_spin") (param $n i32)
    (loop $l
      (global.set $iters (i32.add (global.get $iters) (i32.const 1)))
      (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
      (br $l)))

  ;; copy moves n bytes once.
  (func (export "copy") (param $n i32)
    (memory.copy (i32.const 0) (i32.const 65536) (local.get $n)))

  ;; chase loads bytes from pseudo-random addresses in 64 MiB forever: the
  ;; cache-missing worst case for time per unit of fuel (BenchmarkExhaust).
  (func (export "chase") (local $x i32) (local $acc i32)
    (if (i32.lt_u (memory.size) (i32.const 1024))
      (then (drop (memory.grow (i32.sub (i32.const 1024) (memory.size))))))
    (loop $l
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))
      (local.set $acc (i32.add (local.get $acc) (i32.load8_u (i32.and (local.get $x) (i32.const 0x3FFFFFF)))))
      (br $l)))
)
