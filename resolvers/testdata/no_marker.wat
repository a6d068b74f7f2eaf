;; no_marker.wat: a well-formed resolver without the concord_abi_v1 marker.
(module
  (memory (export "memory") 1)
  (func (export "resolve") (param i32) (result i32) (i32.const 2)))
