/**
 * ONVIF push events (WS-BaseNotification) for cameras without PullPoint. The supervisor
 * (pullpoint.ts) subscribes such a camera with a consumer URL
 * `<alarms.notifyBaseUrl>/api/onvif/notify/<token>`; the camera then POSTs wsnt:Notify there.
 *
 * There is no session on these requests: the token, 192 random bits minted per subscription and
 * bound to one camera, is the credential. An unknown token is a 404 before the body is read, the
 * body passes the ONVIF XML gate (size limit, no DTD/entities), and the answer (202, empty, the
 * SOAP one-way convention) never waits for the alarm to be stored.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { NotFoundError, ValidationError } from '../../core/errors.js'
import { DEFAULT_MAX_NOTIFY_BYTES, OnvifProtocolError, parseNotify, type OnvifEvent } from '../../lib/onvif/index.js'

export const NOTIFY_PATH = '/api/onvif/notify'

export interface NotifyBinding {
  cameraId: number
  /** called with the events of one Notify; must not throw */
  deliver(events: OnvifEvent[]): void
}

interface Entry extends NotifyBinding {
  token: Buffer
  notifies: number
}

/** Tokens of the live push subscriptions, each bound to one camera. */
export class NotifyEndpoint {
  readonly #byToken = new Map<string, Entry>()
  readonly baseUrl: string
  readonly maxBytes: number

  /** @param baseUrl `alarms.notifyBaseUrl`; empty: push is off */
  constructor(opts: { baseUrl: string; maxBytes?: number }) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_NOTIFY_BYTES
  }

  get enabled(): boolean {
    return this.baseUrl !== ''
  }

  get size(): number {
    return this.#byToken.size
  }

  /** Mints a token for a new subscription of `cameraId`; returns it with the consumer URL to give the camera. */
  register(binding: NotifyBinding): { token: string; consumerUrl: string } {
    if (!this.enabled) throw new Error('push events are off: alarms.notifyBaseUrl is empty')
    const raw = randomBytes(24)
    const token = raw.toString('base64url')
    this.#byToken.set(token, { ...binding, token: raw, notifies: 0 })
    return { token, consumerUrl: `${this.baseUrl}${NOTIFY_PATH}/${token}` }
  }

  unregister(token: string): void {
    this.#byToken.delete(token)
  }

  /** The binding for a token, or undefined. Constant-time on the token bytes once the map lookup hit. */
  lookup(token: string): NotifyBinding | undefined {
    if (!/^[A-Za-z0-9_-]{32}$/.test(token)) return undefined
    const e = this.#byToken.get(token)
    if (!e) return undefined
    const given = Buffer.from(token, 'base64url')
    return given.length === e.token.length && timingSafeEqual(given, e.token) ? e : undefined
  }

  /** Parses a Notify body for `token` and hands the events to its binding. Throws NotFoundError / ValidationError. */
  accept(token: string, body: string): { cameraId: number; events: number } {
    const b = this.lookup(token)
    if (!b) throw new NotFoundError('notification endpoint')
    let events: OnvifEvent[]
    try {
      events = parseNotify(body, { maxBytes: this.maxBytes }).events
    } catch (e) {
      if (e instanceof OnvifProtocolError) throw ValidationError.field('body', `not an acceptable Notify (${e.problem}): ${e.message}`)
      throw e
    }
    ;(b as Entry).notifies++
    if (events.length) b.deliver(events)
    return { cameraId: b.cameraId, events: events.length }
  }
}

const XML_TYPES = ['application/soap+xml', 'text/xml', 'application/xml']

/**
 * `POST /onvif/notify/:token` (under /api). Bodies above the endpoint's XML limit and below twice
 * that are read and refused with 400 by the XML gate; larger ones are cut off by the transport (413).
 */
export function notifyRoutes(deps: { endpoint: NotifyEndpoint }): FastifyPluginAsync {
  const { endpoint } = deps
  return async (app) => {
    app.addContentTypeParser(XML_TYPES, { parseAs: 'string', bodyLimit: endpoint.maxBytes * 2 }, (_req, body, done) => done(null, body))
    app.post<{ Params: { token: string } }>(
      '/onvif/notify/:token',
      {
        schema: { hide: true } as object,
        // the token is checked before the body is read: a stranger's body is never parsed
        onRequest: async (request) => {
          const token = (request.params as { token?: string }).token ?? ''
          if (!endpoint.lookup(token)) throw new NotFoundError('notification endpoint')
        },
      },
      async (request, reply) => {
        if (typeof request.body !== 'string') throw ValidationError.field('body', 'send the Notify as application/soap+xml or text/xml')
        endpoint.accept(request.params.token, request.body)
        return reply.status(202).send()
      },
    )
  }
}
