import assert from 'node:assert/strict'
import { compareDistance, KadIdSet, KeySpaceCover, xorDistance } from '../src/key-space.js'

/** A deterministic generator of bytes (xorshift32). */
function generator(seed: number): () => number {
  let s = seed || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) & 0xff
  }
}

describe('key space: covered balls and closest ids', () => {
  it('covers exactly the union of the balls added (8-bit ids, against brute force)', () => {
    const next = generator(7)
    for (let round = 0; round < 300; round++) {
      const cover = new KeySpaceCover()
      const balls: Array<[number, number]> = []
      const count = 1 + (next() % 5)
      for (let b = 0; b < count; b++) {
        // Small radii are the interesting ones: large ones cover nearly everything.
        const ball: [number, number] = [next(), next() >> (next() % 8)]
        balls.push(ball)
        cover.addBall(Uint8Array.of(ball[0]), Uint8Array.of(ball[1]))
      }
      const inside = (x: number) => balls.some(([c, r]) => (c ^ x) <= r)
      for (let q = 0; q < 40; q++) {
        const c = next()
        const r = next() >> (next() % 8)
        let expected = true
        for (let x = 0; x < 256; x++) if ((c ^ x) <= r && !inside(x)) expected = false
        assert.equal(
          cover.coversBall(Uint8Array.of(c), Uint8Array.of(r)),
          expected,
          `ball (${c}, ${r}) with ${JSON.stringify(balls)}`
        )
      }
    }
  })

  it('covers everything after coverAll, and nothing at first', () => {
    const cover = new KeySpaceCover()
    assert.equal(cover.coversBall(new Uint8Array(32), new Uint8Array(32)), false)
    cover.coverAll()
    assert.equal(cover.coversBall(new Uint8Array(32).fill(0xab), new Uint8Array(32).fill(0xff)), true)
  })

  it('finds the XOR-closest ids (against sorting them all)', () => {
    const next = generator(11)
    for (let round = 0; round < 200; round++) {
      const set = new KadIdSet<{ kadId: Uint8Array }>()
      const all: Array<{ kadId: Uint8Array }> = []
      const n = next() % 60
      for (let i = 0; i < n; i++) {
        const item = { kadId: Uint8Array.of(next(), next()) }
        const before = set.size
        set.add(item)
        if (set.size > before) all.push(item)
      }
      const target = Uint8Array.of(next(), next())
      const count = 1 + (next() % 8)
      const expected = [...all].sort((a, b) => compareDistance(target, a.kadId, b.kadId)).slice(0, count)
      assert.deepEqual(
        set.closest(target, count).map((i) => xorDistance(target, i.kadId)),
        expected.map((i) => xorDistance(target, i.kadId))
      )
    }
  })
})
