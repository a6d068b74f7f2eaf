;; many_problems.wat: no marker, no memory, a mistyped resolve and init, a
;; socket import. Compile must report all of them at once.
(module
  (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
  (func (export "resolve") (result i32) (i32.const 2))
  (func (export "init") (param i32)))
