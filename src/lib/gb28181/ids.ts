/**
 * GB/T 28181 codes (Annex D): 20 digits — an 8-digit administrative place (civil code: province,
 * city, district, basic unit), a 2-digit industry, a 3-digit type, a 1-digit network flag and a
 * 6-digit serial. The type says what the id names.
 */

export type GbIdKind =
  | 'dvr'
  | 'video-server'
  | 'encoder'
  | 'decoder'
  | 'alarm-controller'
  | 'nvr'
  | 'camera'
  | 'ipc'
  | 'display'
  | 'alarm-input'
  | 'alarm-output'
  | 'platform'
  | 'business-group'
  | 'virtual-org'
  | 'civil-code'
  | 'other'

/** Type codes 111–216 (Annex D.1 table D.2) that matter here. */
const TYPES: Record<string, GbIdKind> = {
  '111': 'dvr',
  '112': 'video-server',
  '113': 'encoder',
  '114': 'decoder',
  '117': 'alarm-controller',
  '118': 'nvr',
  '131': 'camera',
  '132': 'ipc',
  '133': 'display',
  '134': 'alarm-input',
  '135': 'alarm-output',
  '200': 'platform',
  '215': 'business-group',
  '216': 'virtual-org',
}

export const GB_ID = /^\d{20}$/

export function isGbId(id: string): boolean {
  return GB_ID.test(id)
}

export function gbIdKind(id: string): GbIdKind {
  // administrative codes (2, 4, 6 or 8 digits) name places in a catalog's civil-code tree
  if (/^\d{2}$|^\d{4}$|^\d{6}$|^\d{8}$/.test(id)) return 'civil-code'
  if (!isGbId(id)) return 'other'
  return TYPES[id.slice(10, 13)] ?? 'other'
}

/** Kinds whose ids carry video a viewer can watch. */
export function isVideoChannel(kind: GbIdKind): boolean {
  return kind === 'camera' || kind === 'ipc' || kind === 'encoder'
}

/** The 10-digit domain (the first 10 digits of a platform id), used in SSRCs and realms. */
export function gbDomain(id: string): string {
  return id.slice(0, 10)
}

/**
 * The SSRC of a GB/T 28181 media session, as the 2016 edition defines it for SDP `y=`: a 10-digit decimal
 * string, 0 for live and 1 for playback/download, then digits 4–8 of the domain, then a 4-digit
 * sequence. Written in SDP as `y=`, carried in RTP as that number.
 */
export function gbSsrc(kind: 'live' | 'playback', domain: string, sequence: number): string {
  return `${kind === 'live' ? 0 : 1}${domain.slice(3, 8)}${String(sequence % 10_000).padStart(4, '0')}`
}
