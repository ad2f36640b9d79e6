;; The FastCDC gear loop of fastcdc.ts, for WebAssembly (see gear-wasm.ts: the bytes of this module, compiled
;; with wabt's wat2wasm, are committed there; a test checks that they match this text).
;;
;; Memory: the gear table at address 0 (256 little-endian i32), the bytes to scan from address 1024.
(module
  (memory (export "memory") 1)
  ;; The gear hash state, carried from one call to the next.
  (global $h (export "h") (mut i32) (i32.const 0))
  ;; Scan bytes [p, end) with h = (h << 1) + GEAR[byte], starting from the global h. Returns the address just
  ;; after the first byte where (h & mask) == 0, or -1 when there is none; the global h holds the state then.
  (func (export "scan") (param $p i32) (param $end i32) (param $mask i32) (result i32)
    (local $h i32)
    (local.set $h (global.get $h))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h
          (i32.add
            (i32.shl (local.get $h) (i32.const 1))
            (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $h) (local.get $mask)))
          (then
            (global.set $h (local.get $h))
            (return (local.get $p))))
        (br $next)))
    (global.set $h (local.get $h))
    (i32.const -1))
)
