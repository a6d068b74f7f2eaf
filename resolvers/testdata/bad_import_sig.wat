;; bad_import_sig.wat: imports concord.input_read with the wrong signature.
(module
  (import "concord" "input_read" (func (param i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "concord_abi_v1"))
  (func (export "resolve") (param i32) (result i32) (i32.const 2)))
