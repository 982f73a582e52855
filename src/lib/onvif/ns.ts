/** Namespace URIs used on the wire and the prefixes we normalise QNames to. */

export const NS = {
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  soap11: 'http://schemas.xmlsoap.org/soap/envelope/',
  wsa: 'http://www.w3.org/2005/08/addressing',
  /** WS-Addressing 2004/08, still used by WS-Discovery 2005/04 */
  wsa2004: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  wsrfrw: 'http://docs.oasis-open.org/wsrf/rw-2',
  wstop: 'http://docs.oasis-open.org/wsn/t-1',
  tt: 'http://www.onvif.org/ver10/schema',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tr2: 'http://www.onvif.org/ver20/media/wsdl',
  tptz: 'http://www.onvif.org/ver20/ptz/wsdl',
  tev: 'http://www.onvif.org/ver10/events/wsdl',
  timg: 'http://www.onvif.org/ver20/imaging/wsdl',
  ter: 'http://www.onvif.org/ver10/error',
  tns1: 'http://www.onvif.org/ver10/topics',
  dn: 'http://www.onvif.org/ver10/network/wsdl',
  wsd: 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
} as const

const CANONICAL_PREFIX = new Map<string, string>([
  [NS.soap12, 'env'],
  [NS.soap11, 'env'],
  [NS.wsa, 'wsa'],
  [NS.wsa2004, 'wsa'],
  [NS.wsse, 'wsse'],
  [NS.wsu, 'wsu'],
  [NS.wsnt, 'wsnt'],
  [NS.wsrfrw, 'wsrf-rw'],
  [NS.tt, 'tt'],
  [NS.tds, 'tds'],
  [NS.trt, 'trt'],
  [NS.tr2, 'tr2'],
  [NS.tptz, 'tptz'],
  [NS.tev, 'tev'],
  [NS.ter, 'ter'],
  [NS.tns1, 'tns1'],
  [NS.dn, 'dn'],
  [NS.wsd, 'wsd'],
])

/** Prefix we print for a namespace we know, so `ter:NotAuthorized` means the same whatever the device wrote. */
export function canonicalPrefix(ns: string): string | undefined {
  return CANONICAL_PREFIX.get(ns)
}
