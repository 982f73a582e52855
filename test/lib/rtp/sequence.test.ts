import t from 'tap'
import { seqDiff, seqLessThan, seqNext, SequenceUnwrapper, timestampDiff } from '../../../src/lib/rtp/index.js'

t.test('sequence arithmetic across wrap-around', async (t) => {
  t.equal(seqDiff(65535, 0), 1)
  t.equal(seqDiff(0, 65535), -1)
  t.equal(seqDiff(100, 90), -10)
  t.equal(seqDiff(65530, 4), 10)
  t.ok(seqLessThan(65535, 0))
  t.notOk(seqLessThan(0, 65535))
  t.equal(seqNext(65535), 0)
  t.equal(seqNext(65534, 3), 1)
  t.equal(timestampDiff(0xffffff00, 0x100), 0x200)
  t.equal(timestampDiff(0x100, 0xffffff00), -0x200)
})

t.test('SequenceUnwrapper extends over several wraps and tolerates reordering', async (t) => {
  const u = new SequenceUnwrapper()
  t.equal(u.unwrap(65534), 65534)
  t.equal(u.unwrap(65535), 65535)
  t.equal(u.unwrap(1), 65537)
  t.equal(u.unwrap(0), 65536, 'late packet from before the wrap')
  t.equal(u.unwrap(2), 65538)
  let ext = 65538
  for (let i = 0; i < 3 * 65536; i += 1000) ext = u.unwrap((2 + i) & 0xffff)
  t.equal(ext, 65538 + 196000)
  u.reset()
  t.equal(u.unwrap(7), 7)
})
