;; Host test fixture: A plain module that is no Switchyard plugin: no version marker, no alloc.
(module
  (memory (export "memory") 1)
  (func (export "route") (param $p i32) (param $len i32) (result i64) (i64.const 0))
)
