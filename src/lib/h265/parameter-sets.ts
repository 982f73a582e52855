import { BitstreamError } from '../h264/bit-reader.js'
import { H265NalType, h265NalType, isH265Irap } from './nal.js'
import { parseH265PpsIds, parseH265Sps, type H265SpsInfo } from './sps.js'

/**
 * H.265 counterpart of H264ParameterSets: remembers VPS/SPS/PPS (SDP sprop-vps/sps/pps, then
 * in-band) and puts them before every IRAP picture that lacks them.
 */
export class H265ParameterSets {
  readonly #vps = new Map<number, Buffer>()
  readonly #sps = new Map<number, Buffer>()
  readonly #pps = new Map<number, Buffer>()
  #spsInfo: H265SpsInfo | undefined

  constructor(initial: readonly Buffer[] = []) {
    for (const nal of initial) this.#remember(nal)
  }

  get spsInfo(): H265SpsInfo | undefined {
    return this.#spsInfo
  }

  process(nalus: Buffer[]): Buffer[] {
    const present = new Set<number>()
    let irap = false
    for (const nal of nalus) {
      const type = h265NalType(nal)
      if (type === H265NalType.VPS || type === H265NalType.SPS || type === H265NalType.PPS) {
        present.add(type)
        this.#remember(nal)
      } else if (isH265Irap(type)) {
        irap = true
      }
    }
    if (!irap || present.size === 3) return nalus
    const insert: Buffer[] = []
    if (!present.has(H265NalType.VPS)) insert.push(...this.#vps.values())
    if (!present.has(H265NalType.SPS)) insert.push(...this.#sps.values())
    if (!present.has(H265NalType.PPS)) insert.push(...this.#pps.values())
    if (insert.length === 0) return nalus
    const at = nalus.length > 0 && h265NalType(nalus[0]!) === H265NalType.AUD ? 1 : 0
    return [...nalus.slice(0, at), ...insert, ...nalus.slice(at)]
  }

  #remember(nal: Buffer): void {
    const type = h265NalType(nal)
    const copy = Buffer.from(nal)
    try {
      if (type === H265NalType.VPS && nal.length > 2) {
        this.#vps.set(nal[2]! >> 4, copy)
      } else if (type === H265NalType.SPS) {
        const info = parseH265Sps(nal)
        this.#sps.set(info.spsId, copy)
        this.#spsInfo = info
      } else if (type === H265NalType.PPS) {
        this.#pps.set(parseH265PpsIds(nal).ppsId, copy)
      }
    } catch (err) {
      if (!(err instanceof BitstreamError)) throw err
      if (type === H265NalType.SPS) this.#sps.set(-1, copy)
      else if (type === H265NalType.PPS) this.#pps.set(-1, copy)
    }
  }
}
