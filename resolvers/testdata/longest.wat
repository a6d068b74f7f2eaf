;; longest.wat: a correct ABI v1 resolver. The longest live value wins; ties
;; go to the lexicographically greatest bytes, so the result does not depend
;; on sibling order. Only tombstones: DELETE. No siblings: DEFER.
(module
  (import "concord" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "concord" "output_write" (func $output_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "concord_abi_v1"))

  ;; compare n bytes at a and b: -1, 0 or 1
  (func $cmp (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $i i32) (local $x i32) (local $y i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (i32.load8_u (i32.add (local.get $a) (local.get $i))))
        (local.set $y (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (if (i32.lt_u (local.get $x) (local.get $y)) (then (return (i32.const -1))))
        (if (i32.gt_u (local.get $x) (local.get $y)) (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; is the value at (p, n) better than the best so far (b, bn; b = -1: none)?
  (func $better (param $p i32) (param $n i32) (param $b i32) (param $bn i32) (result i32)
    (if (i32.eq (local.get $b) (i32.const -1)) (then (return (i32.const 1))))
    (if (i32.ne (local.get $n) (local.get $bn))
      (then (return (i32.gt_u (local.get $n) (local.get $bn)))))
    (i32.gt_s (call $cmp (local.get $p) (local.get $b) (local.get $n)) (i32.const 0)))

  (func (export "resolve") (param $len i32) (result i32)
    (local $need i32) (local $p i32) (local $count i32) (local $i i32)
    (local $vlen i32) (local $vptr i32) (local $best i32) (local $bestLen i32)
    ;; make room for the frame at address 0
    (local.set $need (i32.shr_u (i32.add (local.get $len) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (return (i32.const 3))))))
    (if (i32.ne (call $input_read (i32.const 0) (local.get $len)) (local.get $len))
      (then (return (i32.const 3))))
    (if (i32.ne (i32.load8_u (i32.const 0)) (i32.const 1))
      (then (return (i32.const 3))))
    ;; skip namespace and key
    (local.set $p (i32.add (i32.const 3) (i32.load16_u (i32.const 1))))
    (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p))))
    (local.set $count (i32.load (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (if (i32.eqz (local.get $count)) (then (return (i32.const 2))))
    (local.set $best (i32.const -1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $vlen (i32.load (i32.add (local.get $p) (i32.const 9))))
        (local.set $vptr (i32.add (local.get $p) (i32.const 13)))
        (if (i32.eqz (i32.and (i32.load8_u (local.get $p)) (i32.const 1)))
          (then
            (if (call $better (local.get $vptr) (local.get $vlen) (local.get $best) (local.get $bestLen))
              (then
                (local.set $best (local.get $vptr))
                (local.set $bestLen (local.get $vlen))))))
        (local.set $p (i32.add (local.get $vptr) (local.get $vlen)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.eq (local.get $best) (i32.const -1)) (then (return (i32.const 1))))
    (drop (call $output_write (local.get $best) (local.get $bestLen)))
    (i32.const 0))
)
