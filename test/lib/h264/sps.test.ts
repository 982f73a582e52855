import t from 'tap'
import {
  BitReader,
  BitstreamError,
  parseH264PpsIds,
  parseH264Sps,
  removeEmulationPrevention,
} from '../../../src/lib/h264/index.js'

const b64 = (s: string): Buffer => Buffer.from(s, 'base64')

// SPS from cameras' SDPs and from libx264 streams; expected values as reported by ffprobe.
const VECTORS = [
  { name: 'Hikvision 1080p Main', sps: 'Z00AKpWoHgCJ+WbgICAgQA==', width: 1920, height: 1080, profileIdc: 77, levelIdc: 42, codec: 'avc1.4d002a' },
  { name: 'Dahua 1080p High, VUI 15 fps', sps: 'Z2QAKKwbGoB4AiflwFuAgICgAAB9AAAOpgCA', width: 1920, height: 1080, profileIdc: 100, levelIdc: 40, frameRate: 15 },
  { name: 'Axis 720p Main', sps: 'Z00AKeKQCgC3YC3AQEBpB4kRUA==', width: 1280, height: 720, profileIdc: 77, levelIdc: 41 },
  { name: 'x264 1080p High (crop 1088→1080)', sps: 'Z2QAKKzZQHgCJ+XARAAAAwAEAAADAMg8YMZY', width: 1920, height: 1080, profileIdc: 100, frameRate: 25 },
  { name: 'x264 2688x1520 Main (Hikvision 4 MP size)', sps: 'Z01AMuygFQBf2AiAAAADAIAAABQHjBjL', width: 2688, height: 1520, profileIdc: 77, levelIdc: 50, frameRate: 20 },
  { name: 'x264 1000x562 High 4:2:2 (odd crop)', sps: 'Z3oAH7zZQPwSeWPwEQAAAwABAAADADwPGDGW', width: 1000, height: 562, profileIdc: 122, chromaFormatIdc: 2 },
  { name: 'x264 PAL interlaced (field MBs)', sps: 'Z2QAHqzZQLQk2AiAAAADAIAAABkPihTL', width: 720, height: 576, frameMbsOnly: false, frameRate: 25 },
  { name: 'x264 4K High', sps: 'Z2QAM6zZQDwAQ+wEQAAAAwBAAAAHg8YMZYA=', width: 3840, height: 2160, levelIdc: 51 },
  { name: 'GStreamer test server 640x480 constrained baseline', sps: 'Z0LAHtoCgPbAWoMDA1KAAAADAIAAABlHixdQ', width: 640, height: 480, profileIdc: 66, constraintFlags: 0xc0 },
]

for (const v of VECTORS) {
  t.test(v.name, async (t) => {
    const { name: _name, sps, ...expected } = v
    t.match(parseH264Sps(b64(sps)), expected)
  })
}

t.test('emulation-prevention bytes are removed before Exp-Golomb parsing', async (t) => {
  t.same([...removeEmulationPrevention(Buffer.from([0, 0, 3, 1, 0, 0, 3, 0, 0, 3]))], [0, 0, 1, 0, 0, 0, 0])
  const plain = Buffer.from([1, 2, 3])
  t.equal(removeEmulationPrevention(plain), plain, 'no copy when nothing to remove')
  // The x264 SPS above contain "00 00 03": without removal the VUI timing would be garbage.
  const sps = b64('Z01AMuygFQBf2AiAAAADAIAAABQHjBjL')
  t.ok(sps.includes(Buffer.from([0, 0, 3])), 'vector really has emulation prevention')
})

t.test('BitReader Exp-Golomb codes', async (t) => {
  // 1 | 010 | 011 | 00100 | 00101 → ue 0,1,2,3 ; then se(00101)= -2
  const r = new BitReader(Buffer.from([0b10100110, 0b01000010, 0b10000000]))
  t.equal(r.readUE(), 0)
  t.equal(r.readUE(), 1)
  t.equal(r.readUE(), 2)
  t.equal(r.readUE(), 3)
  t.equal(r.readSE(), -2)
  t.throws(() => new BitReader(Buffer.from([0])).readUE(), BitstreamError)
})

t.test('rejects what is not an SPS and reads PPS ids', async (t) => {
  t.throws(() => parseH264Sps(Buffer.from([0x68, 0xce, 0x3c, 0x80])), BitstreamError)
  t.throws(() => parseH264Sps(Buffer.from([0x67, 0x42])), BitstreamError, 'truncated')
  t.same(parseH264PpsIds(Buffer.from([0x68, 0xce, 0x3c, 0x80])), { ppsId: 0, spsId: 0 })
})
