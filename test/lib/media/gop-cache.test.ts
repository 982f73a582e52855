import t from 'tap'
import { GopCache } from '../../../src/lib/media/index.js'

const frame = (keyframe: boolean, size: number, id: number) => ({ nalus: [Buffer.alloc(size, id)], keyframe, timestamp: id })

t.test('keeps the frames since the last keyframe', async (t) => {
  const gop = new GopCache(10_000)
  gop.push(frame(false, 100, 1))
  t.same(gop.frames(), [], 'nothing before the first keyframe')
  gop.push(frame(true, 1000, 2))
  gop.push(frame(false, 100, 3))
  gop.push(frame(false, 100, 4))
  t.same(gop.frames().map((f) => f.timestamp), [2, 3, 4])
  t.equal(gop.bytes, 1200)
  gop.push(frame(true, 500, 5))
  t.same(gop.frames().map((f) => f.timestamp), [5], 'a new keyframe starts a new GOP')
  t.equal(gop.bytes, 500)
})

t.test('a GOP over the byte bound is dropped whole until the next keyframe', async (t) => {
  const gop = new GopCache(1000)
  gop.push(frame(true, 600, 1))
  gop.push(frame(false, 300, 2))
  gop.push(frame(false, 300, 3))
  t.same(gop.frames(), [])
  t.equal(gop.overflows, 1)
  gop.push(frame(false, 10, 4))
  t.same(gop.frames(), [], 'no partial GOP without its keyframe')
  gop.push(frame(true, 2000, 5))
  t.same(gop.frames(), [], 'a keyframe larger than the bound is not cached')
  gop.push(frame(true, 100, 6))
  t.same(gop.frames().map((f) => f.timestamp), [6])
})
