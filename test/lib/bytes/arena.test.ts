import t from 'tap'
import { ByteArena } from '../../../src/lib/bytes/index.js'

t.test('ranges are cut from one slab until it is full, then from a new one', async (t) => {
  const arena = new ByteArena(4096)
  const a = arena.alloc(1000)
  const b = arena.alloc(1000)
  t.equal(a.buffer, b.buffer, 'two small ranges share a backing store')
  t.equal(b.byteOffset, a.byteOffset + 1000, 'back to back')
  arena.alloc(1000)
  arena.alloc(1000)
  const e = arena.alloc(200)
  t.not(e.buffer, a.buffer, 'a range that does not fit starts a new slab')
  t.equal(e.byteOffset, 0)
  t.equal(a.buffer.byteLength, 4096, 'slabs are slabBytes long')
})

t.test('a range above a quarter of a slab gets its own buffer and leaves the slab alone', async (t) => {
  const arena = new ByteArena(4096)
  const small = arena.alloc(10)
  const big = arena.alloc(1025)
  t.not(big.buffer, small.buffer)
  t.equal(big.length, 1025)
  const next = arena.alloc(10)
  t.equal(next.buffer, small.buffer, 'the slab goes on after the large range')
  t.equal(next.byteOffset, small.byteOffset + 10)
})

t.test('copy and concat hold the bytes, independent of their sources', async (t) => {
  const arena = new ByteArena(1024)
  const src = Buffer.from('hello, arena')
  const c = arena.copy(src)
  const head = arena.copy(src, 5)
  src.fill(0)
  t.equal(c.toString(), 'hello, arena')
  t.equal(head.toString(), 'hello')
  const parts = [Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cde')]
  const joined = arena.concat(parts)
  parts[0]!.fill(0x7a)
  t.equal(joined.toString(), 'abcde')
  t.equal(arena.concat([]).length, 0)
})

t.test('many ranges across many slabs keep their own bytes', async (t) => {
  const arena = new ByteArena(2048)
  const kept: Array<{ buf: Buffer; fill: number }> = []
  for (let i = 0; i < 500; i++) {
    const len = (i * 37) % 700
    const buf = arena.alloc(len).fill(i & 0xff)
    kept.push({ buf, fill: i & 0xff })
  }
  const bad = kept.filter(({ buf, fill }) => buf.some((x) => x !== fill)).length
  t.equal(bad, 0, 'no range overlaps another')
  t.ok(new Set(kept.map((k) => k.buf.buffer)).size > 50, 'many slabs were used')
})

t.test('slab size is checked', async (t) => {
  t.throws(() => new ByteArena(100), RangeError)
  t.throws(() => new ByteArena(5000.5), RangeError)
})
