;; runaway.wat: ways to run long that a per-loop check alone would not stop,
;; chosen by the first byte of the first sibling's value (see hostile.wat
;; for the frame parsing). Any other first byte: status OK, empty output.
;;
;;   R  tree recursion, 2^60 calls and no loop
;;   D  recursion without end (a stack budget, not a deadline, stops it)
;;   F  memory.fill of the whole memory, forever
;;   H  random_get of 64 KiB, forever (a host call per iteration)
;;   I  random_get through a table (call_indirect), forever
;;   G  table.grow by 2^21 elements: DEFER if refused (-1), else OK
(module
  (import "concord" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global (export "concord_abi_v1") i32 (i32.const 1))
  (type $rg (func (param i32 i32) (result i32)))
  (table $t 1 funcref)
  (elem (table $t) (i32.const 0) func $random_get)

  (func $tree (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else
        (i32.add
          (call $tree (i32.sub (local.get $n) (i32.const 1)))
          (call $tree (i32.sub (local.get $n) (i32.const 1)))))))

  (func $deep (param $n i32) (result i32)
    (i32.add (call $deep (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func (export "resolve") (param $len i32) (result i32)
    (local $p i32) (local $cmd i32)
    (if (i32.gt_u (local.get $len) (i32.const 0x10000)) (then (return (i32.const 3))))
    (drop (call $input_read (i32.const 0) (local.get $len)))
    (local.set $p (i32.add (i32.const 3) (i32.load16_u (i32.const 1))))
    (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p))))
    (if (i32.eqz (i32.load (local.get $p))) (then (return (i32.const 2))))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (if (i32.load (i32.add (local.get $p) (i32.const 9)))
      (then (local.set $cmd (i32.load8_u (i32.add (local.get $p) (i32.const 13))))))

    (if (i32.eq (local.get $cmd) (i32.const 0x52)) ;; R
      (then (return (call $tree (i32.const 60)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x44)) ;; D
      (then (return (call $deep (i32.const 0)))))
    (if (i32.eq (local.get $cmd) (i32.const 0x46)) ;; F
      (then (loop $l
        (memory.fill (i32.const 0) (i32.const 7) (i32.mul (memory.size) (i32.const 65536)))
        (br $l))))
    (if (i32.eq (local.get $cmd) (i32.const 0x48)) ;; H
      (then (loop $l
        (drop (call $random_get (i32.const 0) (i32.const 65536)))
        (br $l))))
    (if (i32.eq (local.get $cmd) (i32.const 0x49)) ;; I
      (then (loop $l
        (drop (call_indirect $t (type $rg) (i32.const 0) (i32.const 65536) (i32.const 0)))
        (br $l))))
    (if (i32.eq (local.get $cmd) (i32.const 0x47)) ;; G
      (then (return (select (i32.const 2) (i32.const 0)
        (i32.eq (table.grow $t (ref.null func) (i32.const 0x200000)) (i32.const -1))))))
    (i32.const 0))
)
