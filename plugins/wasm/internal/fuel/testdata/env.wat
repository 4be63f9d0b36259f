;; The "env" module that ../../wasmbin/testdata/all.wasm imports from.
;; Built with: wat2wasm env.wat -o env.wasm
(module
  (func (export "imported") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (global (export "g_in") i32 (i32.const 5))
  (global (export "g_mut") (mut i64) (i64.const 11)))
