;; start_loop.wat: a valid resolver whose start function never returns.
(module
  (memory (export "memory") 1)
  (global (export "concord_abi_v1") i32 (i32.const 1))
  (func $start (loop $forever (br $forever)))
  (start $start)
  (func (export "resolve") (param i32) (result i32) (i32.const 2)))
