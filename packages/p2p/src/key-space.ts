/**
 * Kademlia key-space geometry for the provider sweep: which parts of the key space a sweep's walks have seen
 * completely, and the closest known peers to a key.
 *
 * Ids are equal-length byte arrays (SHA-256 digests in the DHT); distance is their XOR, read as a big-endian
 * number. A ball {x : d(c, x) ≤ r} is a union of subtrees of the binary trie of ids: for every bit of r that is 1,
 * the subtree whose ids agree with c ⊕ r above that bit and with c at it; plus the point c ⊕ r itself.
 */

interface Node {
  full: boolean
  children: [Node | undefined, Node | undefined]
}

function bit(bytes: Uint8Array, i: number): 0 | 1 {
  return ((bytes[i >> 3]! >> (7 - (i & 7))) & 1) as 0 | 1
}

function node(): Node {
  return { full: false, children: [undefined, undefined] }
}

/** The child of `n` on side `side`, made if missing. */
function child(n: Node, side: number): Node {
  let c = n.children[side]
  if (c === undefined) {
    c = node()
    n.children[side] = c
  }
  return c
}

/** The parts of the key space in which every peer is known: a union of balls, kept as a trie of full subtrees. */
export class KeySpaceCover {
  private readonly root: Node = node()

  /** Every id of the key space is covered. */
  coverAll(): void {
    this.root.full = true
    this.root.children = [undefined, undefined]
  }

  /** Whether every id of the key space is covered. */
  coversAll(): boolean {
    return this.root.full
  }

  /** Cover the ball of `radius` around `center` (every id whose distance to it is at most `radius`). */
  addBall(center: Uint8Array, radius: Uint8Array): void {
    const bits = center.length * 8
    const path: Node[] = []
    let n = this.root
    for (let i = 0; i < bits && !n.full; i++) {
      path.push(n)
      const c = bit(center, i)
      if (bit(radius, i) === 1) {
        // Ids agreeing with the center at this bit are nearer than the radius, whatever their lower bits.
        const near = n.children[c] ?? node()
        near.full = true
        near.children = [undefined, undefined]
        n.children[c] = near
        n = child(n, c ^ 1)
      } else {
        n = child(n, c)
      }
    }
    n.full = true
    n.children = [undefined, undefined]
    // A node whose children are both full is full (coversBall relies on it).
    for (let i = path.length - 1; i >= 0; i--) {
      const p = path[i]!
      if (p.children[0]?.full !== true || p.children[1]?.full !== true) break
      p.full = true
      p.children = [undefined, undefined]
    }
  }

  /** Whether the whole ball of `radius` around `center` is covered. */
  coversBall(center: Uint8Array, radius: Uint8Array): boolean {
    const bits = center.length * 8
    let n: Node | undefined = this.root
    for (let i = 0; i < bits; i++) {
      if (n.full) return true
      const c = bit(center, i)
      if (bit(radius, i) === 1) {
        if (n.children[c]?.full !== true) return false
        n = n.children[c ^ 1]
      } else {
        n = n.children[c]
      }
      if (n === undefined) return false
    }
    return n.full
  }
}

/** The XOR distance of `a` and `b`. */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/** Compare the XOR distances of `a` and `b` to `target`: negative when `a` is closer. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i]! ^ target[i]!
    const db = b[i]! ^ target[i]!
    if (da !== db) return da - db
  }
  return 0
}

/** Leading bits `a` and `b` share. */
export function sharedPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return a.length * 8
}

/** Items with a Kademlia id, kept sorted by it, with a search for the XOR-closest. */
export class KadIdSet<T extends { readonly kadId: Uint8Array }> {
  private readonly items: T[] = []
  private readonly keys = new Set<string>()

  get size(): number {
    return this.items.length
  }

  /** Add an item; one already held (same id) is kept. */
  add(item: T): void {
    const key = Buffer.from(item.kadId).toString('hex')
    if (this.keys.has(key)) return
    this.keys.add(key)
    this.items.splice(this.lowerBound(item.kadId), 0, item)
  }

  /** The `count` items closest to `target`, closest first. */
  closest(target: Uint8Array, count: number): T[] {
    const items = this.items
    let lo = this.lowerBound(target)
    let hi = lo
    // Ids sharing at least L leading bits with the target are a run around its place in the order, and every one
    // of them is closer than any id outside it: widen by whole subtrees until the run holds `count`.
    while (hi - lo < count && (lo > 0 || hi < items.length)) {
      const below = lo > 0 ? sharedPrefixBits(target, items[lo - 1]!.kadId) : -1
      const above = hi < items.length ? sharedPrefixBits(target, items[hi]!.kadId) : -1
      const bits = Math.max(below, above)
      while (lo > 0 && sharedPrefixBits(target, items[lo - 1]!.kadId) >= bits) lo--
      while (hi < items.length && sharedPrefixBits(target, items[hi]!.kadId) >= bits) hi++
    }
    return items
      .slice(lo, hi)
      .sort((a, b) => compareDistance(target, a.kadId, b.kadId))
      .slice(0, count)
  }

  private lowerBound(id: Uint8Array): number {
    let lo = 0
    let hi = this.items.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (Buffer.compare(this.items[mid]!.kadId, id) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
