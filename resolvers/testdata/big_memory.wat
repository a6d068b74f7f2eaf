;; big_memory.wat: a valid resolver whose memory starts at 64 pages (4 MiB).
(module
  (memory (export "memory") 64)
  (func (export "concord_abi_v1"))
  (func (export "resolve") (param i32) (result i32) (i32.const 2)))
