;; import_memory.wat: imports its memory instead of exporting one.
(module
  (import "env" "memory" (memory 1))
  (func (export "concord_abi_v1"))
  (func (export "resolve") (param i32) (result i32) (i32.const 2)))
