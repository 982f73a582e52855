/**
 * The SDP of a GB/T 28181 media INVITE (§9.2 / Annex G of the 2016 edition): `s=Play` (or
 * Playback/Download), `y=` the 10-digit SSRC, payload 96 `PS/90000` (98 H264 and 97 MPEG4 offered
 * beside it, as devices expect), `a=recvonly` on our side; TCP media as `TCP/RTP/AVP` with
 * `a=setup:passive` (the device connects to us) or `active` (we connect to it). Generic SDP
 * parsers refuse the `y=` and `f=` lines, so GB SDP is read and written here.
 */

export type GbMediaTransport = 'udp' | 'tcp-passive' | 'tcp-active'

export interface GbOffer {
  /** our SIP id, for o= */
  sipId: string
  /** the address the device sends media to */
  address: string
  port: number
  transport: GbMediaTransport
  ssrc: string
  session: 'Play' | 'Playback' | 'Download'
  /** playback/download: the range asked for, seconds since the epoch */
  range?: { start: number; end: number }
}

export function buildGbOffer(o: GbOffer): string {
  const tcp = o.transport !== 'udp'
  const lines = [
    'v=0',
    `o=${o.sipId} 0 0 IN IP4 ${o.address}`,
    `s=${o.session}`,
    `c=IN IP4 ${o.address}`,
    `t=${o.range ? `${o.range.start} ${o.range.end}` : '0 0'}`,
    `m=video ${o.port} ${tcp ? 'TCP/RTP/AVP' : 'RTP/AVP'} 96 98 97`,
    'a=recvonly',
    'a=rtpmap:96 PS/90000',
    'a=rtpmap:98 H264/90000',
    'a=rtpmap:97 MPEG4/90000',
    ...(tcp ? [`a=setup:${o.transport === 'tcp-passive' ? 'passive' : 'active'}`, 'a=connection:new'] : []),
    `y=${o.ssrc}`,
  ]
  return lines.join('\r\n') + '\r\n'
}

export interface GbAnswer {
  address: string | undefined
  port: number | undefined
  transport: GbMediaTransport
  /** the SSRC the device says it will send (it may not) */
  ssrc: string | undefined
  /** payload type → encoding name, upper case */
  payloads: Map<number, string>
  /** the device's setup role for TCP: the opposite of ours */
  setup: 'active' | 'passive' | undefined
}

/** Reads a device's answer leniently (LF or CRLF, any order, unknown lines ignored). */
export function parseGbAnswer(sdp: string): GbAnswer {
  const out: GbAnswer = { address: undefined, port: undefined, transport: 'udp', ssrc: undefined, payloads: new Map(), setup: undefined }
  let inVideo = false
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim()
    const type = line[0]
    const value = line.slice(2)
    if (line[1] !== '=') continue
    if (type === 'c') {
      const m = /^IN\s+IP[46]\s+(\S+)/i.exec(value)
      if (m && (out.address === undefined || inVideo)) out.address = m[1]
    } else if (type === 'm') {
      const m = /^(\w+)\s+(\d+)(?:\/\d+)?\s+(\S+)/.exec(value)
      inVideo = m?.[1]?.toLowerCase() === 'video'
      if (m && inVideo) {
        out.port = Number(m[2])
        if (/^TCP/i.test(m[3]!)) out.transport = 'tcp-active'
      }
    } else if (type === 'a') {
      const rtpmap = /^rtpmap:(\d+)\s+([^/\s]+)/i.exec(value)
      if (rtpmap) out.payloads.set(Number(rtpmap[1]), rtpmap[2]!.toUpperCase())
      const setup = /^setup:(active|passive)/i.exec(value)
      if (setup) out.setup = setup[1]!.toLowerCase() as 'active' | 'passive'
    } else if (type === 'y') {
      if (/^\d{1,10}$/.test(value.trim())) out.ssrc = value.trim()
    }
  }
  // the device's role decides ours: it is active (connects to us) when we offered passive
  if (out.transport !== 'udp') out.transport = out.setup === 'passive' ? 'tcp-active' : 'tcp-passive'
  return out
}
