/**
 * Recognises a plan image by its bytes (never by the name or the declared Content-Type) and reads
 * its pixel size from the header, without decoding it: PNG (IHDR), JPEG (the first SOFn marker)
 * and WebP (VP8, VP8L and VP8X chunks).
 */
export const PLAN_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const
export type PlanContentType = (typeof PLAN_TYPES)[number]

export interface ImageInfo {
  contentType: PlanContentType
  width: number
  height: number
}

/** Why an image was refused: `unsupported` is not one of the three types, `unusable` is one whose header is damaged or whose size is out of bounds. */
export type SniffResult = { ok: true; info: ImageInfo } | { ok: false; problem: 'unsupported' | 'unusable'; message: string }

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Other formats people upload by mistake, to say what the file is instead of "unknown". */
function otherKind(b: Buffer): string | null {
  const ascii = b.subarray(0, 16).toString('latin1')
  if (ascii.startsWith('GIF8')) return 'a GIF image'
  if (ascii.startsWith('BM')) return 'a BMP image'
  if (ascii.startsWith('%PDF')) return 'a PDF document'
  if (ascii.startsWith('PK\u0003\u0004')) return 'a zip archive (or an Office document)'
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a))) return 'a TIFF image'
  if (/^\s*(<\?xml|<svg)/i.test(ascii)) return 'an SVG or XML file'
  if (/^\s*[{[]/.test(ascii)) return 'JSON text'
  return null
}

export function sniffImage(b: Buffer): SniffResult {
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG_SIGNATURE)) return png(b)
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpeg(b)
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return webp(b)
  const other = otherKind(b)
  return { ok: false, problem: 'unsupported', message: `is not a PNG, JPEG or WebP image${other ? ` (it is ${other})` : ''}` }
}

const damaged = (what: string): SniffResult => ({ ok: false, problem: 'unusable', message: `looks like a ${what} but its header is damaged or cut short` })

function png(b: Buffer): SniffResult {
  // signature, then the IHDR chunk: length (13), "IHDR", width, height
  if (b.length < 33 || b.toString('latin1', 12, 16) !== 'IHDR') return damaged('PNG')
  return sized('image/png', b.readUInt32BE(16), b.readUInt32BE(20), 'PNG')
}

function jpeg(b: Buffer): SniffResult {
  let i = 2
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return damaged('JPEG')
    const marker = b[i + 1]!
    if (marker === 0xff) {
      i++ // fill byte
      continue
    }
    // markers without a length
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2
      continue
    }
    if (marker === 0xd9 || marker === 0xda) return damaged('JPEG') // end of image or scan data before any frame header
    const len = b.readUInt16BE(i + 2)
    if (len < 2) return damaged('JPEG')
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > b.length) return damaged('JPEG')
      return sized('image/jpeg', b.readUInt16BE(i + 7), b.readUInt16BE(i + 5), 'JPEG')
    }
    i += 2 + len
  }
  return damaged('JPEG')
}

function webp(b: Buffer): SniffResult {
  if (b.length < 30) return damaged('WebP')
  const chunk = b.toString('latin1', 12, 16)
  if (chunk === 'VP8 ') {
    // frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return damaged('WebP')
    return sized('image/webp', b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff, 'WebP')
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return damaged('WebP')
    const bits = b.readUInt32LE(21)
    return sized('image/webp', (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1, 'WebP')
  }
  if (chunk === 'VP8X') return sized('image/webp', b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1, 'WebP')
  return damaged('WebP')
}

/** Browsers refuse (or choke on) larger canvases; a plan this big is a mistake. */
export const MAX_PLAN_SIDE = 16384

function sized(contentType: PlanContentType, width: number, height: number, what: string): SniffResult {
  if (width < 1 || height < 1) return damaged(what)
  if (width > MAX_PLAN_SIDE || height > MAX_PLAN_SIDE) {
    return { ok: false, problem: 'unusable', message: `is ${width}×${height} pixels: at most ${MAX_PLAN_SIDE} pixels a side` }
  }
  return { ok: true, info: { contentType, width, height } }
}
