import type { SdpAttribute, SdpMedia, SessionDescription } from './types.js'

function attrLine(a: SdpAttribute): string {
  return a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`
}

function bandwidthLines(b: Record<string, number>): string[] {
  return Object.entries(b).map(([k, v]) => `b=${k}:${v}`)
}

/**
 * Serializes a description back to SDP text (CRLF line ends). Attributes are written as stored,
 * so a parsed description round-trips; build one by hand with `attributes` for rtpmap/fmtp/control.
 */
export function buildSdp(desc: Pick<SessionDescription, 'name' | 'attributes' | 'bandwidth'> &
  Partial<Pick<SessionDescription, 'version' | 'origin' | 'info' | 'connection' | 'timing'>> & {
    media: Array<Pick<SdpMedia, 'type' | 'port' | 'protocol' | 'formats' | 'attributes' | 'bandwidth'> &
      Partial<Pick<SdpMedia, 'connection'>>>
  }): string {
  const o = desc.origin
  const lines = [
    `v=${desc.version ?? 0}`,
    o
      ? `o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`
      : 'o=- 0 0 IN IP4 127.0.0.1',
    `s=${desc.name || ' '}`,
  ]
  if (desc.info) lines.push(`i=${desc.info}`)
  if (desc.connection) lines.push(`c=${desc.connection}`)
  lines.push(...bandwidthLines(desc.bandwidth))
  lines.push(`t=${desc.timing ?? '0 0'}`)
  lines.push(...desc.attributes.map(attrLine))
  for (const m of desc.media) {
    lines.push(`m=${m.type} ${m.port} ${m.protocol} ${m.formats.join(' ')}`)
    if (m.connection) lines.push(`c=${m.connection}`)
    lines.push(...bandwidthLines(m.bandwidth))
    lines.push(...m.attributes.map(attrLine))
  }
  return lines.join('\r\n') + '\r\n'
}
