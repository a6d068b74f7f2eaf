;; merges.wat: one ABI v1 resolver with several merges, chosen by the first
;; byte of the namespace's resolver config, so that each law has a module
;; that breaks it (and one that breaks none). Tombstones are ignored by every
;; merge but F; no live sibling: DELETE; no sibling at all: DEFER; an unknown
;; mode: ERROR.
;;
;;   M  the greatest value by bytes             (obeys every law)
;;   F  the first sibling, as given             (order-sensitive)
;;   C  M, then "#" on every call but an instance's first
;;                                              (nondeterministic: keeps state)
;;   B  the bytes of all values, sorted         (not idempotent)
;;   A  "x" repeated the mean value length      (not associative)
;;   X  M, but traps on a value starting with "!" and loops forever on one
;;      starting with "~"                       (ABI: traps and timeouts)
;;
;; Memory: 0-1023 byte counts (B), 1024 the config byte, 1028 one output
;; byte, 4096 onwards the input frame.
(module
  (import "concord" "input_read" (func $input_read (param i32 i32) (result i32)))
  (import "concord" "output_write" (func $output_write (param i32 i32) (result i32)))
  (import "concord" "config_read" (func $config_read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "concord_abi_v1"))
  (global $calls (mut i32) (i32.const 0))

  ;; compare (a, an) with (b, bn) by bytes, a shorter prefix first: -1, 0, 1
  (func $cmp (param $a i32) (param $an i32) (param $b i32) (param $bn i32) (result i32)
    (local $i i32) (local $x i32) (local $y i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $an)))
        (br_if $done (i32.ge_u (local.get $i) (local.get $bn)))
        (local.set $x (i32.load8_u (i32.add (local.get $a) (local.get $i))))
        (local.set $y (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (if (i32.lt_u (local.get $x) (local.get $y)) (then (return (i32.const -1))))
        (if (i32.gt_u (local.get $x) (local.get $y)) (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.lt_u (local.get $an) (local.get $bn)) (then (return (i32.const -1))))
    (i32.gt_u (local.get $an) (local.get $bn)))

  ;; write byte b, n times
  (func $repeat (param $b i32) (param $n i32)
    (i32.store8 (i32.const 1028) (local.get $b))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (drop (call $output_write (i32.const 1028) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))

  (func (export "resolve") (param $len i32) (result i32)
    (local $mode i32) (local $need i32) (local $p i32) (local $count i32)
    (local $i i32) (local $j i32) (local $vlen i32) (local $vptr i32)
    (local $best i32) (local $bestLen i32) (local $live i32) (local $sum i32) (local $slot i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store8 (i32.const 1024) (i32.const 0))
    (drop (call $config_read (i32.const 1024) (i32.const 1)))
    (local.set $mode (i32.load8_u (i32.const 1024)))
    (block $known
      (br_if $known (i32.eq (local.get $mode) (i32.const 0x4d))) ;; M
      (br_if $known (i32.eq (local.get $mode) (i32.const 0x46))) ;; F
      (br_if $known (i32.eq (local.get $mode) (i32.const 0x43))) ;; C
      (br_if $known (i32.eq (local.get $mode) (i32.const 0x42))) ;; B
      (br_if $known (i32.eq (local.get $mode) (i32.const 0x41))) ;; A
      (br_if $known (i32.eq (local.get $mode) (i32.const 0x58))) ;; X
      (return (i32.const 3)))
    ;; read the frame at 4096
    (local.set $need (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 4096)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (return (i32.const 3))))))
    (if (i32.ne (call $input_read (i32.const 4096) (local.get $len)) (local.get $len))
      (then (return (i32.const 3))))
    ;; skip version, namespace and key
    (local.set $p (i32.add (i32.const 4099) (i32.load16_u (i32.const 4097))))
    (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p))))
    (local.set $count (i32.load (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (if (i32.eqz (local.get $count)) (then (return (i32.const 2))))
    ;; clear the byte counts
    (local.set $j (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (i32.const 1024)))
        (i32.store (local.get $j) (i32.const 0))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next)))
    (local.set $best (i32.const -1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $vlen (i32.load (i32.add (local.get $p) (i32.const 9))))
        (local.set $vptr (i32.add (local.get $p) (i32.const 13)))
        (if (i32.eq (local.get $mode) (i32.const 0x46)) ;; F
          (then
            (if (i32.and (i32.load8_u (local.get $p)) (i32.const 1))
              (then (return (i32.const 1))))
            (drop (call $output_write (local.get $vptr) (local.get $vlen)))
            (return (i32.const 0))))
        (if (i32.eqz (i32.and (i32.load8_u (local.get $p)) (i32.const 1)))
          (then
            (local.set $live (i32.add (local.get $live) (i32.const 1)))
            (local.set $sum (i32.add (local.get $sum) (local.get $vlen)))
            (if (i32.and (i32.eq (local.get $mode) (i32.const 0x58)) (i32.ne (local.get $vlen) (i32.const 0))) ;; X
              (then
                (if (i32.eq (i32.load8_u (local.get $vptr)) (i32.const 0x21)) (then unreachable)) ;; "!"
                (if (i32.eq (i32.load8_u (local.get $vptr)) (i32.const 0x7e)) ;; "~"
                  (then (loop $forever (br $forever))))))
            ;; count bytes (B)
            (local.set $j (i32.const 0))
            (block $counted
              (loop $byte
                (br_if $counted (i32.ge_u (local.get $j) (local.get $vlen)))
                (local.set $slot (i32.shl (i32.load8_u (i32.add (local.get $vptr) (local.get $j))) (i32.const 2)))
                (i32.store (local.get $slot) (i32.add (i32.load (local.get $slot)) (i32.const 1)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $byte)))
            (if (i32.or (i32.eq (local.get $best) (i32.const -1))
                  (i32.gt_s (call $cmp (local.get $vptr) (local.get $vlen) (local.get $best) (local.get $bestLen)) (i32.const 0)))
              (then
                (local.set $best (local.get $vptr))
                (local.set $bestLen (local.get $vlen))))))
        (local.set $p (i32.add (local.get $vptr) (local.get $vlen)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.eqz (local.get $live)) (then (return (i32.const 1))))
    (if (i32.eq (local.get $mode) (i32.const 0x42)) ;; B
      (then
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (i32.const 256)))
            (call $repeat (local.get $j) (i32.load (i32.shl (local.get $j) (i32.const 2))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $next)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $mode) (i32.const 0x41)) ;; A
      (then
        (call $repeat (i32.const 0x78) (i32.div_u (local.get $sum) (local.get $live)))
        (return (i32.const 0))))
    (drop (call $output_write (local.get $best) (local.get $bestLen)))
    (if (i32.and (i32.eq (local.get $mode) (i32.const 0x43)) (i32.gt_u (global.get $calls) (i32.const 1))) ;; C
      (then (call $repeat (i32.const 0x23) (i32.const 1))))
    (i32.const 0))
)
