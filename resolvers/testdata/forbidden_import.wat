;; forbidden_import.wat: imports a function the host does not provide.
(module
  (import "env" "fd_open" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "concord_abi_v1"))
  (func (export "resolve") (param i32) (result i32) (i32.const 2)))
