import { execFileSync } from 'node:child_process'
import t from 'tap'
import { sniffImage } from '../../../src/features/plans/index.js'
import { GIF_BYTES, makeJpeg, makePng } from '../../support/images.js'

/** The plan image is recognised by its bytes: real PNG, JPEG and WebP files (ffmpeg makes the WebP ones). */
const ffmpegImage = (args: string[]) =>
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=0x336699:s=320x180:d=1', '-frames:v', '1', ...args, '-f', 'image2pipe', '-'], { maxBuffer: 16 << 20 })

t.test('PNG, JPEG and WebP (lossy, lossless, extended) give their type and size', async (t) => {
  t.same(sniffImage(makePng(200, 100)), { ok: true, info: { contentType: 'image/png', width: 200, height: 100 } })
  t.same(sniffImage(makeJpeg(64, 48)), { ok: true, info: { contentType: 'image/jpeg', width: 64, height: 48 } })
  t.same(sniffImage(ffmpegImage(['-c:v', 'mjpeg', '-q:v', '5'])), { ok: true, info: { contentType: 'image/jpeg', width: 320, height: 180 } }, 'ffmpeg JPEG (JFIF APP0 first)')
  t.same(sniffImage(ffmpegImage(['-c:v', 'libwebp', '-lossless', '0'])), { ok: true, info: { contentType: 'image/webp', width: 320, height: 180 } }, 'lossy WebP (VP8)')
  t.same(sniffImage(ffmpegImage(['-c:v', 'libwebp', '-lossless', '1'])), { ok: true, info: { contentType: 'image/webp', width: 320, height: 180 } }, 'lossless WebP (VP8L)')
  // VP8X: the extended header (alpha, metadata) carries the canvas size
  const vp8x = Buffer.alloc(30)
  vp8x.write('RIFF', 0, 'latin1')
  vp8x.write('WEBPVP8X', 8, 'latin1')
  vp8x.writeUIntLE(1279, 24, 3)
  vp8x.writeUIntLE(719, 27, 3)
  t.same(sniffImage(vp8x), { ok: true, info: { contentType: 'image/webp', width: 1280, height: 720 } })
})

t.test('other files are unsupported and say what they are; damaged ones are unusable', async (t) => {
  t.same(sniffImage(GIF_BYTES), { ok: false, problem: 'unsupported', message: 'is not a PNG, JPEG or WebP image (it is a GIF image)' })
  t.match(sniffImage(Buffer.from('%PDF-1.7\n...')), { problem: 'unsupported', message: /PDF document/ })
  t.match(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), { problem: 'unsupported', message: /SVG/ })
  t.same(sniffImage(Buffer.from('plain words')), { ok: false, problem: 'unsupported', message: 'is not a PNG, JPEG or WebP image' })
  t.match(sniffImage(makePng(10, 10).subarray(0, 24)), { problem: 'unusable', message: /PNG but its header is damaged/ })
  const jpg = makeJpeg(16, 16)
  t.match(sniffImage(jpg.subarray(0, 30)), { problem: 'unusable', message: /JPEG/ })
  const zero = makePng(10, 10)
  zero.writeUInt32BE(0, 16)
  t.match(sniffImage(zero), { problem: 'unusable' })
})
