/** Deterministic incompressible bytes (xorshift32, big-endian words), fast enough for hundreds of MiB. */
export function incompressibleBytes(size: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  let x = seed >>> 0 || 1
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    view.setUint32(i, x >>> 0)
  }
  return out
}
