;; slow_init.wat: a valid resolver whose init spins for as many iterations
;; as its config says (a little-endian u32), then succeeds.
(module
  (import "concord" "config_read" (func $config_read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global (export "concord_abi_v1") i32 (i32.const 1))
  (func (export "init") (result i32)
    (local $n i32)
    (drop (call $config_read (i32.const 0) (i32.const 4)))
    (local.set $n (i32.load (i32.const 0)))
    (block $done
      (loop $spin
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $spin)))
    (i32.const 0))
  (func (export "resolve") (param i32) (result i32) (i32.const 2)))
