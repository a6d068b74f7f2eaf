;; hostile.wat: a resolver whose behaviour is chosen by the first byte of the
;; first sibling's value, so one pool can be driven through every failure and
;; then asked for a good call. Any other first byte: echo the value (OK).
;;
;;   L  infinite loop                  G  memory.grow bomb (8 pages a time), traps at the cap
;;   M  grow to the cap, output pages  T  unreachable
;;   O  output until refused, then OK  S  stack overflow
;;   D  DELETE   F  DEFER   E  ERROR   B  status 42
;;   C  output the config              N  output calls on this instance (u32)
;;   I  output init runs (u32)         W  log a line, then echo
;;   X  proc_exit(7)                   A  env.abort
;;   R  output 16 random bytes         K  output realtime and monotonic clocks
;;   P  print to stderr, then trap  H  log a line, then loop forever
;;
;; init follows the config: "!f" returns 1, "!t" traps, "!l" loops forever.
(module
  (import "concord" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "concord" "output_write" (func $output_write (param i32 i32) (result i32)))
  (import "concord" "config_read" (func $config_read (param i32 i32) (result i32)))
  (import "concord" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (memory (export "memory") 2)
  (global (export "concord_abi_v1") i32 (i32.const 1))
  (global $inits (mut i32) (i32.const 0))
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 0x1f000) "hello from guest")
  (data (i32.const 0x1f100) "panic: guest is sad\n")

  ;; scratch area: page 1
  (func $scratch (result i32) (i32.const 0x10000))

  (func $out_u32 (param $v i32) (result i32)
    (i32.store (call $scratch) (local.get $v))
    (drop (call $output_write (call $scratch) (i32.const 4)))
    (i32.const 0))

  (func $recurse (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func (export "init") (result i32)
    (global.set $inits (i32.add (global.get $inits) (i32.const 1)))
    (if (i32.lt_s (call $config_read (call $scratch) (i32.const 2)) (i32.const 2))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (call $scratch)) (i32.const 0x21)) ;; '!'
      (then (return (i32.const 0))))
    (block $l (block $t (block $f
      (br_if $f (i32.eq (i32.load8_u offset=1 (call $scratch)) (i32.const 0x66)))
      (br_if $t (i32.eq (i32.load8_u offset=1 (call $scratch)) (i32.const 0x74)))
      (br_if $l (i32.eq (i32.load8_u offset=1 (call $scratch)) (i32.const 0x6c)))
      (return (i32.const 0)))
      (return (i32.const 1)))
      (unreachable))
    (loop $forever (br $forever))
    (i32.const 0))

  (func (export "resolve") (param $len i32) (result i32)
    (local $p i32) (local $vlen i32) (local $vptr i32) (local $cmd i32) (local $n i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (i32.gt_u (local.get $len) (i32.const 0x10000)) (then (return (i32.const 3))))
    (drop (call $input_read (i32.const 0) (local.get $len)))
    (local.set $p (i32.add (i32.const 3) (i32.load16_u (i32.const 1))))
    (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p))))
    (if (i32.eqz (i32.load (local.get $p))) (then (return (i32.const 2))))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (local.set $vlen (i32.load (i32.add (local.get $p) (i32.const 9))))
    (local.set $vptr (i32.add (local.get $p) (i32.const 13)))
    (if (local.get $vlen) (then (local.set $cmd (i32.load8_u (local.get $vptr)))))

    (if (i32.eq (local.get $cmd) (i32.const 0x4c)) ;; L
      (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $cmd) (i32.const 0x48)) ;; H
      (then
        (call $log (i32.const 1) (i32.const 0x1f000) (i32.const 16))
        (loop $spin (br $spin))))
    (if (i32.eq (local.get $cmd) (i32.const 0x47)) ;; G
      (then
        (loop $grow
          (br_if $grow (i32.ne (memory.grow (i32.const 8)) (i32.const -1))))
        (unreachable)))
    (if (i32.eq (local.get $cmd) (i32.const 0x4d)) ;; M
      (then
        (loop $grow
          (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        (return (call $out_u32 (memory.size)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x54)) ;; T
      (then (unreachable)))
    (if (i32.eq (local.get $cmd) (i32.const 0x4f)) ;; O
      (then
        (loop $more
          (br_if $more (i32.ge_s (call $output_write (i32.const 0) (i32.const 4096)) (i32.const 0))))
        (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 0x53)) ;; S
      (then (return (call $recurse (i32.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x44)) (then (return (i32.const 1)))) ;; D
    (if (i32.eq (local.get $cmd) (i32.const 0x46)) (then (return (i32.const 2)))) ;; F
    (if (i32.eq (local.get $cmd) (i32.const 0x45)) (then (return (i32.const 3)))) ;; E
    (if (i32.eq (local.get $cmd) (i32.const 0x42)) (then (return (i32.const 42)))) ;; B
    (if (i32.eq (local.get $cmd) (i32.const 0x43)) ;; C
      (then
        (local.set $n (call $config_read (call $scratch) (i32.const 0x8000)))
        (drop (call $output_write (call $scratch) (local.get $n)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 0x4e)) ;; N
      (then (return (call $out_u32 (global.get $calls)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x49)) ;; I
      (then (return (call $out_u32 (global.get $inits)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x57)) ;; W
      (then (call $log (i32.const 1) (i32.const 0x1f000) (i32.const 16))))
    (if (i32.eq (local.get $cmd) (i32.const 0x58)) ;; X
      (then (call $proc_exit (i32.const 7))))
    (if (i32.eq (local.get $cmd) (i32.const 0x41)) ;; A
      (then (call $abort (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 2))))
    (if (i32.eq (local.get $cmd) (i32.const 0x52)) ;; R
      (then
        (drop (call $random_get (call $scratch) (i32.const 16)))
        (drop (call $output_write (call $scratch) (i32.const 16)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 0x4b)) ;; K
      (then
        (drop (call $clock_time_get (i32.const 0) (i64.const 1) (call $scratch)))
        (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.add (call $scratch) (i32.const 8))))
        (drop (call $output_write (call $scratch) (i32.const 16)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 0x50)) ;; P
      (then
        ;; iovec {buf, len} at scratch, bytes written at scratch+8
        (i32.store (call $scratch) (i32.const 0x1f100))
        (i32.store offset=4 (call $scratch) (i32.const 20))
        (drop (call $fd_write (i32.const 2) (call $scratch) (i32.const 1) (i32.add (call $scratch) (i32.const 8))))
        (unreachable)))
    (drop (call $output_write (local.get $vptr) (local.get $vlen)))
    (i32.const 0))
)
