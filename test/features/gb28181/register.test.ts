import t from 'tap'
import { NVR, PASSWORD, PLATFORM, answering, keepalive, overrides, register, scenario, unregister } from '../../support/gb-device.js'
import { startTestGateway, type TestGateway } from '../../support/gateway.js'
import { runSipp } from '../../support/sipp.js'

/**
 * GB/T 28181 access end to end: SIPp plays an NVR that registers to a real gateway with the
 * password a technician set, answers the gateway's DeviceInfo and Catalog queries (the catalog in
 * GB2312, in two pages), sends keepalives, then unregisters; the API shows it online with its
 * channels, then offline. Also: no password → refused; a wrong password → 403 and nothing stored;
 * keepalives that stop → offline after the configured silence, not before.
 */

async function until<T>(what: string, fn: () => Promise<T | false | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function setPassword(gw: TestGateway, admin: string) {
  const res = await gw.as(admin).request('PUT', `/api/gb28181/devices/${NVR}/password`, { password: PASSWORD })
  t.equal(res.statusCode, 204, res.body)
}

t.test('an NVR registers, answers DeviceInfo and a two-page GB2312 catalog, keeps alive, unregisters', async (t) => {
  const gw = await startTestGateway(t, { overrides: overrides() })
  const admin = await gw.login('admin')
  const endpoint = (await gw.as(admin).get('/api/gb28181/endpoint')).json
  t.equal(endpoint.sipId, PLATFORM)
  await setPassword(gw, admin)
  const patrol = await gw.login('street.patrol')
  t.equal((await gw.as(patrol).get('/api/gb28181/devices')).statusCode, 403, 'patrol staff do not manage devices')

  const device = (async () => (await gw.as(admin).get(`/api/gb28181/devices/${NVR}`)).json)
  const sipp = runSipp({
    scenario: scenario(register(PASSWORD, '200') + keepalive(3) + '\n  <pause milliseconds="4000"/>' + keepalive(4) + '\n  <pause milliseconds="1500"/>' + unregister),
    outOfCallScenario: answering,
    remote: `127.0.0.1:${endpoint.udpPort}`,
    timeoutSeconds: 30,
  })
  const online = await until('the NVR online with its catalog', async () => {
    const d = await device()
    return d.online && d.channels?.length === 3 && d.name && d
  })
  t.equal(online.name, '东区录像机', 'DeviceInfo read, GB2312 name intact')
  t.equal(online.manufacturer, 'Hikvision')
  t.equal(online.transport, 'UDP')
  t.equal(online.catalogSum, 3)
  t.same(online.channels.map((c: { name: string }) => c.name), ['东门口 枪机', '北区 球机', '地下车库入口'], 'all pages, names intact')
  t.same(online.channels.map((c: { status: string }) => c.status), ['on', 'off', 'on'])
  t.ok(online.channels.every((c: { kind: string }) => c.kind === 'ipc'))
  const run = await sipp
  t.equal(run.code, 0, `SIPp's scenarios passed ${run.errors}`)
  const after = await device()
  t.equal(after.online, false, 'unregistered: offline')
  t.equal(after.offlineReason, 'unregistered')
  const audit = (await gw.as(admin).get('/api/audit?limit=50')).json.items as { action: string; targetId: string | null }[]
  t.ok(audit.some((a) => a.action === 'gb.device_password_set'), 'password change audited')
  t.ok(audit.some((a) => a.action === 'gb.device_registered'), 'first registration audited')
})

t.test('refused: no password known, a wrong password; nothing comes online', async (t) => {
  const gw = await startTestGateway(t, { overrides: overrides() })
  const admin = await gw.login('admin')
  const port = (await gw.as(admin).get('/api/gb28181/endpoint')).json.udpPort
  const unknown = await runSipp({ scenario: scenario(register('whatever', '403')), remote: `127.0.0.1:${port}` })
  t.equal(unknown.code, 0, `no password set and no default: 403 ${unknown.errors}`)
  await setPassword(gw, admin)
  const wrong = await runSipp({ scenario: scenario(register('not-the-password', '403')), remote: `127.0.0.1:${port}` })
  t.equal(wrong.code, 0, `wrong password: 403 ${wrong.errors}`)
  const d = (await gw.as(admin).get(`/api/gb28181/devices/${NVR}`)).json
  t.equal(d.online, false)
  t.equal(d.registeredAt, null, 'never registered')
  t.equal((await gw.as(admin).get('/api/gb28181/devices/34020000001180000002')).statusCode, 404)
  t.equal((await gw.as(admin).request('PUT', `/api/gb28181/devices/12345/password`, { password: PASSWORD })).statusCode, 400, 'a device id that is not 20 digits')
  t.equal((await gw.as(admin).post(`/api/gb28181/devices/${NVR}/catalog`)).json.code, 'gb_device_offline', 'a device offline cannot be asked')
})

t.test('the default password; keepalives that stop make the device offline after the silence, not before', async (t) => {
  const gw = await startTestGateway(t, { overrides: overrides({ keepaliveIntervalSeconds: 2, keepaliveMissedLimit: 2 }), env: { GW_GB28181_DEFAULT_PASSWORD: PASSWORD } })
  const admin = await gw.login('admin')
  const port = (await gw.as(admin).get('/api/gb28181/endpoint')).json.udpPort
  // register, keep alive twice 1.5 s apart, then go silent (SIPp ends without unregistering)
  const run = await runSipp({ scenario: scenario(register(PASSWORD, '200') + keepalive(3) + '\n  <pause milliseconds="1500"/>' + keepalive(4)), outOfCallScenario: answering, remote: `127.0.0.1:${port}` })
  t.equal(run.code, 0, `registered with the default password ${run.errors}`)
  const lastKeepalive = Date.now()
  const d = (await gw.as(admin).get(`/api/gb28181/devices/${NVR}`)).json
  t.equal(d.online, true, 'online while keepalives arrive')
  t.equal(d.hasOwnPassword, false)
  const offline = await until('offline', async () => {
    const x = (await gw.as(admin).get(`/api/gb28181/devices/${NVR}`)).json
    return !x.online && x
  })
  t.equal(offline.offlineReason, 'keepalive_timeout')
  t.ok(Date.now() - lastKeepalive >= 2 * 2000 - 200, `offline only after 2 missed intervals (${Date.now() - lastKeepalive} ms of silence)`)
})
