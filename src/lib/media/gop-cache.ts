import { accessUnitSize, type AccessUnit } from '../h264/access-unit.js'

/**
 * The access units since the last keyframe, so a viewer who joins mid-GOP can be sent a
 * decodable start at once instead of waiting up to a GOP (often 2–4 s on cameras) for the next IDR.
 * Bounded in bytes: a GOP that outgrows the bound is dropped whole (a partial GOP without its
 * keyframe is useless) and caching resumes at the next keyframe.
 */
export class GopCache<T extends Pick<AccessUnit, 'nalus' | 'keyframe'> = AccessUnit> {
  #frames: T[] = []
  #bytes = 0
  /** GOPs dropped because they exceeded maxBytes. */
  overflows = 0

  constructor(readonly maxBytes = 8 * 1024 * 1024) {}

  push(frame: T): void {
    const size = accessUnitSize(frame)
    if (frame.keyframe) {
      this.#frames = []
      this.#bytes = 0
    } else if (this.#frames.length === 0) {
      return
    }
    if (this.#bytes + size > this.maxBytes) {
      this.overflows++
      this.clear()
      return
    }
    this.#frames.push(frame)
    this.#bytes += size
  }

  /** The cached GOP, keyframe first; empty when no complete start is available. */
  frames(): readonly T[] {
    return [...this.#frames]
  }

  get bytes(): number {
    return this.#bytes
  }

  clear(): void {
    this.#frames = []
    this.#bytes = 0
  }
}
