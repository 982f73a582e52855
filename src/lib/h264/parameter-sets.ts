import { BitstreamError } from './bit-reader.js'
import { H264NalType, h264NalType } from './nal.js'
import { parseH264PpsIds, parseH264Sps, type H264SpsInfo } from './sps.js'

/**
 * Keeps the current SPS/PPS (first from the SDP sprop-parameter-sets, then the last ones seen
 * in-band) and puts them in front of every IDR that lacks them. Cameras that send SPS/PPS only
 * in the SDP (or once at stream start) leave a viewer who joins later unable to decode; browsers
 * need them in-band before each keyframe.
 */
export class H264ParameterSets {
  readonly #sps = new Map<number, Buffer>()
  readonly #pps = new Map<number, Buffer>()
  #spsInfo: H264SpsInfo | undefined

  constructor(initial: readonly Buffer[] = []) {
    for (const nal of initial) this.#remember(nal)
  }

  /** Parsed info of the latest SPS, if any was seen or given. */
  get spsInfo(): H264SpsInfo | undefined {
    return this.#spsInfo
  }

  get sps(): Buffer[] {
    return [...this.#sps.values()]
  }

  get pps(): Buffer[] {
    return [...this.#pps.values()]
  }

  /**
   * Records parameter sets found in `nalus`; when it holds an IDR slice but no SPS or no PPS,
   * returns a new list with the known ones inserted before the first slice (after an AUD, which
   * must stay first). Otherwise returns `nalus` itself.
   */
  process(nalus: Buffer[]): Buffer[] {
    let hasSps = false
    let hasPps = false
    let hasIdr = false
    for (const nal of nalus) {
      const type = h264NalType(nal)
      if (type === H264NalType.SPS) {
        hasSps = true
        this.#remember(nal)
      } else if (type === H264NalType.PPS) {
        hasPps = true
        this.#remember(nal)
      } else if (type === H264NalType.IDR) {
        hasIdr = true
      }
    }
    if (!hasIdr || (hasSps && hasPps)) return nalus
    const insert: Buffer[] = []
    if (!hasSps) insert.push(...this.#sps.values())
    if (!hasPps) insert.push(...this.#pps.values())
    if (insert.length === 0) return nalus
    const at = nalus.length > 0 && h264NalType(nalus[0]!) === H264NalType.AUD ? 1 : 0
    return [...nalus.slice(0, at), ...insert, ...nalus.slice(at)]
  }

  #remember(nal: Buffer): void {
    const type = h264NalType(nal)
    try {
      if (type === H264NalType.SPS) {
        const info = parseH264Sps(nal)
        this.#sps.set(info.spsId, Buffer.from(nal))
        this.#spsInfo = info
      } else if (type === H264NalType.PPS) {
        this.#pps.set(parseH264PpsIds(nal).ppsId, Buffer.from(nal))
      }
    } catch (err) {
      // A parameter set we cannot parse is still better forwarded as-is than dropped.
      if (!(err instanceof BitstreamError)) throw err
      if (type === H264NalType.SPS) this.#sps.set(-1, Buffer.from(nal))
      else if (type === H264NalType.PPS) this.#pps.set(-1, Buffer.from(nal))
    }
  }
}
