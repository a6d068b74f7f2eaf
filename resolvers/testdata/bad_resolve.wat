;; bad_resolve.wat: resolve takes an i64 instead of an i32.
(module
  (memory (export "memory") 1)
  (func (export "concord_abi_v1"))
  (func (export "resolve") (param i64) (result i32) (i32.const 2)))
