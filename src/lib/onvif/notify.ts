/**
 * Incoming WS-BaseNotification Notify (the push side of ONVIF events): a camera POSTs a SOAP
 * envelope whose Body holds wsnt:Notify with one or more wsnt:NotificationMessage. The body comes
 * from the network, unauthenticated beyond the URL token, so it passes the same gate as device
 * replies: a size limit, and no DTD or entity declarations.
 */
import { OnvifProtocolError } from './errors.js'
import { NS } from './ns.js'
import { parseNotificationMessage } from './parse.js'
import type { OnvifEvent } from './types.js'
import { child, children, parseXml, textAt } from './xml.js'

/** Notify bodies are small (a few KiB per message); 256 KiB is generous. */
export const DEFAULT_MAX_NOTIFY_BYTES = 256 * 1024

export interface ParseNotifyOptions {
  maxBytes?: number
  /** used in error messages */
  endpoint?: string
}

export interface NotifyContent {
  events: OnvifEvent[]
  /** SubscriptionReference/Address of the messages that carry one (informational) */
  subscriptions: string[]
  /** NotificationMessages that could not be read (no topic or message) */
  skipped: number
}

/**
 * Parse a Notify request body: a SOAP 1.2 or 1.1 envelope with wsnt:Notify in its Body (a bare
 * wsnt:Notify root is accepted too). Throws OnvifProtocolError: `too-large`, `dtd-or-entity`,
 * `malformed-xml`, `not-soap` (no envelope/Notify).
 */
export function parseNotify(xml: string, opts: ParseNotifyOptions = {}): NotifyContent {
  const root = parseXml(xml, { maxBytes: opts.maxBytes ?? DEFAULT_MAX_NOTIFY_BYTES, ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}) })
  let notify = root
  if (root.name === 'Envelope') {
    if (root.ns !== NS.soap12 && root.ns !== NS.soap11) throw notSoap('envelope in an unknown namespace', opts.endpoint)
    const body = child(root, 'Body')
    const first = body?.children[0]
    if (!first) throw notSoap('empty SOAP Body', opts.endpoint)
    notify = first
  }
  if (notify.name !== 'Notify' || notify.ns !== NS.wsnt) throw notSoap(`expected wsnt:Notify, got ${notify.name}`, opts.endpoint)
  const events: OnvifEvent[] = []
  const subscriptions = new Set<string>()
  let skipped = 0
  for (const nm of children(notify, 'NotificationMessage')) {
    const addr = textAt(nm, 'SubscriptionReference', 'Address')
    if (addr) subscriptions.add(addr)
    const ev = parseNotificationMessage(nm)
    if (ev) events.push(ev)
    else skipped++
  }
  return { events, subscriptions: [...subscriptions], skipped }
}

function notSoap(what: string, endpoint: string | undefined): OnvifProtocolError {
  return new OnvifProtocolError(`not a WS-BaseNotification Notify: ${what}`, { problem: 'not-soap', ...(endpoint !== undefined ? { endpoint } : {}) })
}
