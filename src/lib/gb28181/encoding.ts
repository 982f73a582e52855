import iconv from 'iconv-lite'

/**
 * MANSCDP bodies travel in the encoding their XML declaration names — GB2312 in the standard's
 * examples and most devices, GB18030 or GBK in some, UTF-8 in newer ones — and devices get it
 * wrong: a missing declaration, `gb2312` in lower case, a UTF-8 body declared GB2312. Reading:
 * trust the declaration when the bytes decode cleanly under it, else try the other; writing: the
 * encoding the peer used. GB2312 and GBK are read as GB18030 (a superset), so a name with a rare
 * character in it is never mangled (the top mojibake complaint against wvp).
 */

export type BodyEncoding = 'GB2312' | 'GB18030' | 'GBK' | 'UTF-8'

const DECLARATION = /^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_-]+)["']/i

export function declaredEncoding(body: Buffer): BodyEncoding | undefined {
  const head = body.subarray(0, 200).toString('latin1')
  const name = DECLARATION.exec(head)?.[1]?.toUpperCase().replace('_', '-')
  if (!name) return undefined
  if (name === 'UTF8' || name === 'UTF-8') return 'UTF-8'
  if (name === 'GB2312' || name === 'GB-2312' || name === 'EUC-CN') return 'GB2312'
  if (name === 'GBK' || name === 'CP936') return 'GBK'
  if (name === 'GB18030') return 'GB18030'
  return undefined
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function utf8OrUndefined(body: Buffer): string | undefined {
  try {
    return strictUtf8.decode(body)
  } catch {
    return undefined
  }
}

const isAscii = (body: Buffer) => body.every((b) => b < 0x80)

/** Decodes a MANSCDP body; `encoding` is what it turned out to be (what to answer in). */
export function decodeBody(body: Buffer): { text: string; encoding: BodyEncoding } {
  const declared = declaredEncoding(body)
  if (isAscii(body)) return { text: body.toString('latin1'), encoding: declared ?? 'GB2312' }
  if (declared === 'UTF-8') {
    const text = utf8OrUndefined(body)
    if (text !== undefined) return { text, encoding: 'UTF-8' }
    return { text: iconv.decode(body, 'gb18030'), encoding: 'GB18030' }
  }
  // declared GB* or nothing: a body that is valid UTF-8 with multi-byte characters is almost
  // never valid-looking GB text too, so a device that wrote UTF-8 under a GB2312 declaration is caught
  const asUtf8 = utf8OrUndefined(body)
  if (asUtf8 !== undefined && !declared) return { text: asUtf8, encoding: 'UTF-8' }
  const text = iconv.decode(body, 'gb18030')
  if (asUtf8 !== undefined && text.includes('\ufffd')) return { text: asUtf8, encoding: 'UTF-8' }
  return { text, encoding: declared ?? 'GB18030' }
}

/**
 * Encodes a body for a peer; the XML declaration is rewritten to name the encoding. A character
 * GB2312 lacks is written in GB18030 (a superset every GB2312 reader of ours accepts), never dropped.
 */
export function encodeBody(text: string, encoding: BodyEncoding): Buffer {
  const fitsGb2312 = () => iconv.decode(iconv.encode(text, 'gb2312'), 'gb2312') === text
  const effective: BodyEncoding = encoding === 'GB2312' && !fitsGb2312() ? 'GB18030' : encoding
  const declared = text.replace(/^\s*<\?xml[^>]*\?>/, `<?xml version="1.0" encoding="${effective}"?>`)
  if (effective === 'UTF-8') return Buffer.from(declared, 'utf8')
  return iconv.encode(declared, effective === 'GBK' ? 'gbk' : effective === 'GB2312' ? 'gb2312' : 'gb18030')
}
