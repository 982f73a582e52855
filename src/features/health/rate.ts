import type { HistoryRow, StatusCountRow } from './store.js'
import type { Period, RateBreakdown, RateCell } from './model.js'

const emptyCell = (): RateCell => ({ rate: null, online: 0, degraded: 0, offline: 0, unknown: 0, total: 0 })

function finish(cell: RateCell): RateCell {
  const known = cell.online + cell.degraded + cell.offline
  cell.rate = known > 0 ? round((cell.online + cell.degraded) / known) : null
  return cell
}

const round = (v: number) => Math.round(v * 1e6) / 1e6

/**
 * The online rate now, from current statuses: (online + degraded) / (online + degraded + offline).
 * Degraded cameras are online (their video flows, with a fault to fix); cameras never checked
 * (`unknown`) are counted but left out of the rate.
 */
export function nowBreakdown(rows: StatusCountRow[]): RateBreakdown {
  const all = { ...emptyCell(), byClass: {} as Record<string, RateCell>, byKind: {} as Record<string, RateCell> }
  for (const r of rows) {
    for (const cell of [all, (all.byClass[String(r.class)] ??= emptyCell()), (all.byKind[r.kind] ??= emptyCell())]) {
      cell[r.status] += r.n
      cell.total += r.n
    }
  }
  finish(all)
  Object.values(all.byClass).forEach(finish)
  Object.values(all.byKind).forEach(finish)
  return all
}

export interface TimeCell {
  /** share of known camera-time spent online or degraded; null when no camera-time is known */
  rate: number | null
  onlineSeconds: number
  degradedSeconds: number
  offlineSeconds: number
}

export interface TimeBreakdown extends TimeCell {
  byClass: Record<string, TimeCell>
  byKind: Record<string, TimeCell>
}

export interface Bucket extends TimeBreakdown {
  start: string
  end: string
}

const emptyTime = (): TimeCell => ({ rate: null, onlineSeconds: 0, degradedSeconds: 0, offlineSeconds: 0 })
const emptyBreakdown = (): TimeBreakdown => ({ ...emptyTime(), byClass: {}, byKind: {} })

function finishTime(cell: TimeCell): void {
  const known = cell.onlineSeconds + cell.degradedSeconds + cell.offlineSeconds
  cell.rate = known > 0 ? round((cell.onlineSeconds + cell.degradedSeconds) / known) : null
  cell.onlineSeconds = round(cell.onlineSeconds)
  cell.degradedSeconds = round(cell.degradedSeconds)
  cell.offlineSeconds = round(cell.offlineSeconds)
}

function finishBreakdown(b: TimeBreakdown): void {
  finishTime(b)
  Object.values(b.byClass).forEach(finishTime)
  Object.values(b.byKind).forEach(finishTime)
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const WEEK = 7 * DAY
export const BUCKET_MS: Record<Exclude<Period, 'now'>, number> = { hour: HOUR, day: DAY, week: WEEK }
/** 1970-01-05 was a Monday: weeks start on Monday. */
const WEEK_ANCHOR = 4 * DAY

/** Start of the bucket holding `t`, in a zone `offsetMinutes` east of UTC (China: 480). */
export function bucketStart(t: number, period: Exclude<Period, 'now'>, offsetMinutes: number): number {
  const size = BUCKET_MS[period]
  const anchor = (period === 'week' ? WEEK_ANCHOR : 0) - offsetMinutes * 60_000
  return Math.floor((t - anchor) / size) * size + anchor
}

export const DEFAULT_BUCKETS: Record<Exclude<Period, 'now'>, number> = { hour: 24, day: 7, week: 4 }
export const MAX_BUCKETS = 1000

/** The window [from, to) aligned to whole buckets, defaulting to the last few buckets. */
export function windowOf(period: Exclude<Period, 'now'>, offsetMinutes: number, now: number, from?: string, to?: string): { from: number; to: number } {
  const size = BUCKET_MS[period]
  const end = to ? Date.parse(to) : now
  const alignedEnd = bucketStart(end - 1, period, offsetMinutes) + size
  const start = from ? bucketStart(Date.parse(from), period, offsetMinutes) : alignedEnd - DEFAULT_BUCKETS[period] * size
  return { from: start, to: alignedEnd }
}

/**
 * Time-weighted online rate per bucket: for every camera, the time it spent in each status
 * (from its transitions; the time before its first transition is unknown and not counted),
 * summed per bucket, per class and per kind. Time after `now` is not counted.
 */
export function historyBuckets(rows: HistoryRow[], period: Exclude<Period, 'now'>, from: number, to: number, now: number): { buckets: Bucket[]; total: TimeBreakdown } {
  const size = BUCKET_MS[period]
  const count = Math.max(0, Math.round((to - from) / size))
  const buckets: Bucket[] = Array.from({ length: count }, (_, i) => ({ start: new Date(from + i * size).toISOString(), end: new Date(from + (i + 1) * size).toISOString(), ...emptyBreakdown() }))
  const total = emptyBreakdown()
  const limit = Math.min(to, now)
  const add = (b: TimeBreakdown, cls: string, kind: string, status: string, seconds: number) => {
    const field = status === 'online' ? 'onlineSeconds' : status === 'degraded' ? 'degradedSeconds' : status === 'offline' ? 'offlineSeconds' : null
    if (!field) return
    for (const cell of [b, (b.byClass[cls] ??= emptyTime()), (b.byKind[kind] ??= emptyTime())]) cell[field] += seconds
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    const next = rows[i + 1]
    const segStart = Math.max(Date.parse(r.at), from)
    const segEnd = Math.min(next && next.camera_id === r.camera_id ? Date.parse(next.at) : limit, limit)
    if (segEnd <= segStart || r.to_status === 'unknown') continue
    const cls = String(r.class)
    add(total, cls, r.kind, r.to_status, (segEnd - segStart) / 1000)
    for (let k = Math.floor((segStart - from) / size); k < count; k++) {
      const bStart = from + k * size
      if (bStart >= segEnd) break
      const overlap = Math.min(segEnd, bStart + size) - Math.max(segStart, bStart)
      if (overlap > 0) add(buckets[k]!, cls, r.kind, r.to_status, overlap / 1000)
    }
  }
  buckets.forEach(finishBreakdown)
  finishBreakdown(total)
  return { buckets, total }
}
