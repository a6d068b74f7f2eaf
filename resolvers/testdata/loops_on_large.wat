;; loops_on_large.wat: a resolver that passes every upload check on small
;; samples and loops forever once any sibling's value is over 200 bytes —
;; the tenant whose merge code works in review and not on production data
;; (issue 12; BenchmarkNoisyNeighbour). On small values it merges to an empty
;; value, the same for any order, so the laws hold.
(module
  (import "concord" "input_read" (func $input_read (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global (export "concord_abi_v1") i32 (i32.const 1))

  (func (export "resolve") (param $len i32) (result i32)
    (local $p i32) (local $n i32) (local $vlen i32)
    ;; the frame, at 0 (it fits in two pages for the benchmark's values)
    (drop (call $input_read (i32.const 0) (local.get $len)))
    ;; skip version (1), namespace (u16 + bytes), key (u32 + bytes)
    (local.set $p (i32.add (i32.const 3) (i32.load16_u (i32.const 1))))
    (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p))))
    (local.set $n (i32.load (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        ;; flags (1), timestamp (8), value_len (4), value
        (local.set $vlen (i32.load (i32.add (local.get $p) (i32.const 9))))
        (if (i32.gt_u (local.get $vlen) (i32.const 200))
          (then (loop $forever (br $forever))))
        (local.set $p (i32.add (i32.add (local.get $p) (i32.const 13)) (local.get $vlen)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0)))
