import { SYSTEM_SCOPE } from '../../../src/core/scope.js'
import { parseNotificationMessage, parseXml, type OnvifEvent } from '../../../src/lib/onvif/index.js'
import type { TestGateway } from '../../support/gateway.js'

export function unitId(gw: TestGateway, code: string): number {
  const u = gw.services.org.findByCode(SYSTEM_SCOPE, code)
  if (!u) throw new Error(`no unit ${code}`)
  return u.id
}

/** Demo cameras have serial DEMO-<unit code>-<n>. */
export function cameraId(gw: TestGateway, unitCode: string, n = 0): number {
  const id = gw.services.db.prepare('SELECT id FROM cameras WHERE serial = ?').pluck().get(`DEMO-${unitCode}-${n}`) as number | undefined
  if (!id) throw new Error(`no demo camera ${unitCode}-${n}`)
  return id
}

export async function createSource(gw: TestGateway, unitCode = 'JD01', name = 'test source'): Promise<string> {
  const admin = await gw.login('admin')
  const res = await gw.as(admin).post('/api/alarm-sources', { name, unitId: unitId(gw, unitCode) })
  if (res.statusCode !== 201) throw new Error(`create source: ${res.statusCode} ${res.body}`)
  return res.json.token as string
}

export async function postAlarm(gw: TestGateway, token: string | null, body: unknown): Promise<{ statusCode: number; json: any; body: string }> {
  const res = await gw.app.inject({ method: 'POST', url: '/api/alarms', headers: token ? { 'x-alarm-token': token } : {}, payload: body as object })
  let json: unknown
  try {
    json = JSON.parse(res.body)
  } catch {
    json = undefined
  }
  return { statusCode: res.statusCode, json, body: res.body }
}

/** A fake snapshot source: a tiny JPEG-looking buffer, or failure. */
export function fakeSnapshots(opts: { fail?: boolean } = {}): { snapshot(cameraId: number): Promise<{ contentType: string; data: Buffer }>; calls: number[] } {
  const calls: number[] = []
  return {
    calls,
    async snapshot(cameraId: number) {
      calls.push(cameraId)
      if (opts.fail) throw new Error('camera refused')
      return { contentType: 'image/jpeg', data: Buffer.from([0xff, 0xd8, 0xff, 0xe0, cameraId & 0xff, 0xff, 0xd9]) }
    },
  }
}

const NS = `xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tnshik="http://www.hikvision.com/2011/event/topics" xmlns:tnsdahua="http://www.dahuatech.com/2012/onvif/event/topics"`

/** A NotificationMessage as cameras send it in a PullMessagesResponse, parsed by the ONVIF client's parser. */
export function notification(opts: { topic: string; topicPrefixDecl?: string; source?: Record<string, string>; data?: Record<string, string>; op?: 'Initialized' | 'Changed' | 'Deleted'; utc?: string }): OnvifEvent {
  const items = (o: Record<string, string> = {}) => Object.entries(o).map(([k, v]) => `<tt:SimpleItem Name="${k}" Value="${v}"/>`).join('')
  const xml =
    `<wsnt:NotificationMessage ${NS} ${opts.topicPrefixDecl ?? ''}>` +
    `<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${opts.topic}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${opts.utc ?? new Date().toISOString()}" PropertyOperation="${opts.op ?? 'Changed'}">` +
    `<tt:Source>${items(opts.source)}</tt:Source><tt:Key></tt:Key><tt:Data>${items(opts.data)}</tt:Data>` +
    `</tt:Message></wsnt:Message></wsnt:NotificationMessage>`
  const ev = parseNotificationMessage(parseXml(xml))
  if (!ev) throw new Error('fixture did not parse')
  return ev
}

export const cellMotion = (active: boolean, op: 'Initialized' | 'Changed' = 'Changed') =>
  notification({
    topic: 'tns1:RuleEngine/CellMotionDetector/Motion',
    source: { VideoSourceConfigurationToken: 'VideoSourceToken', VideoAnalyticsConfigurationToken: 'VideoAnalyticsToken', Rule: 'MyMotionDetectorRule' },
    data: { IsMotion: String(active) },
    op,
  })
