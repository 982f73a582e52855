import { open } from 'node:fs/promises'

/**
 * Top-level ISO BMFF box scanning, enough for fragmented MP4 recordings: where the init part
 * (ftyp + moov) ends, where the last complete fragment ends (to trim a file cut off mid-write).
 */
export interface TopBox {
  type: string
  offset: number
  size: number
}

/** Scans the top-level boxes of a file; stops at the first incomplete or malformed one. */
export async function scanTopLevelBoxes(path: string): Promise<{ boxes: TopBox[]; fileSize: number }> {
  const fh = await open(path, 'r')
  try {
    const { size: fileSize } = await fh.stat()
    const boxes: TopBox[] = []
    const head = Buffer.alloc(16)
    let offset = 0
    while (offset + 8 <= fileSize) {
      const { bytesRead } = await fh.read(head, 0, 16, offset)
      if (bytesRead < 8) break
      let size = head.readUInt32BE(0)
      const type = head.toString('latin1', 4, 8)
      if (!/^[a-zA-Z0-9 ]{4}$/.test(type)) break
      if (size === 1) {
        if (bytesRead < 16) break
        size = Number(head.readBigUInt64BE(8))
      } else if (size === 0) {
        size = fileSize - offset
      }
      if (size < 8 || offset + size > fileSize) break
      boxes.push({ type, offset, size })
      offset += size
    }
    return { boxes, fileSize }
  } finally {
    await fh.close()
  }
}

export interface FragmentedLayout {
  /** bytes of ftyp + moov (the HLS EXT-X-MAP byte range); 0 when there is no moov */
  initSize: number
  /** end of the last complete moof+mdat pair (or of the init part when there is none) */
  completeSize: number
  fragments: number
  fileSize: number
}

export async function fragmentedLayout(path: string): Promise<FragmentedLayout> {
  const { boxes, fileSize } = await scanTopLevelBoxes(path)
  let initSize = 0
  let completeSize = 0
  let fragments = 0
  let pendingMoof = false
  for (const b of boxes) {
    const end = b.offset + b.size
    if (b.type === 'moov') initSize = completeSize = end
    else if (b.type === 'ftyp') completeSize = Math.max(completeSize, end)
    else if (b.type === 'moof') pendingMoof = true
    else if (b.type === 'mdat' && pendingMoof) {
      pendingMoof = false
      fragments++
      completeSize = end
    } else if (!pendingMoof) completeSize = end
  }
  return { initSize, completeSize, fragments, fileSize }
}
