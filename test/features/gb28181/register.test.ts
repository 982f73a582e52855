import { execFileSync } from 'node:child_process'
import t from 'tap'
import { startTestGateway, type TestGateway } from '../../support/gateway.js'
import { runSipp } from '../../support/sipp.js'

/**
 * GB/T 28181 access end to end: SIPp plays an NVR that registers to a real gateway with the
 * password a technician set, answers the gateway's DeviceInfo and Catalog queries (the catalog in
 * GB2312, in two pages), sends keepalives, then unregisters; the API shows it online with its
 * channels, then offline. Also: no password → refused; a wrong password → 403 and nothing stored;
 * keepalives that stop → offline after the configured silence, not before.
 */

const NVR = '34020000001180000001'
const PLATFORM = '34020000002000000001'
const PASSWORD = 'nvr-pass-2026'
const gb2312 = (s: string) => execFileSync('iconv', ['-f', 'UTF-8', '-t', 'GB2312'], { input: s })

const overrides = (extra: Record<string, unknown> = {}) => ({
  gb28181: { enabled: true, host: '127.0.0.1', sipPort: 0, tcp: false, publicAddress: '127.0.0.1', keepaliveIntervalSeconds: 5, keepaliveMissedLimit: 1, catalogTimeoutSeconds: 10, sipT1Ms: 100, ...extra },
})

const register = (password: string, final: string) => `
  <send retrans="500"><![CDATA[
REGISTER sip:${PLATFORM}@3402000000 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${NVR}@3402000000>;tag=[pid]SIPpTag00[call_number]
To: <sip:${NVR}@3402000000>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:${NVR}@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: 3600
Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:${PLATFORM}@3402000000 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${NVR}@3402000000>;tag=[pid]SIPpTag00[call_number]
To: <sip:${NVR}@3402000000>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:${NVR}@[local_ip]:[local_port]>
[authentication username=${NVR} password=${password}]
Max-Forwards: 70
Expires: 3600
Content-Length: 0

  ]]></send>
  <recv response="${final}"/>`

const keepalive = (cseq: number) => `
  <send retrans="500"><![CDATA[
MESSAGE sip:${PLATFORM}@3402000000 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${NVR}@3402000000>;tag=[pid]SIPpTag01[call_number]
To: <sip:${PLATFORM}@3402000000>
Call-ID: [call_id]
CSeq: ${cseq} MESSAGE
Content-Type: Application/MANSCDP+xml
Max-Forwards: 70
Content-Length: [len]

<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>Keepalive</CmdType>
<SN>${cseq}</SN>
<DeviceID>${NVR}</DeviceID>
<Status>OK</Status>
</Notify>
  ]]></send>
  <recv response="200"/>`

const unregister = `
  <send retrans="500"><![CDATA[
REGISTER sip:${PLATFORM}@3402000000 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${NVR}@3402000000>;tag=[pid]SIPpTag00[call_number]
To: <sip:${NVR}@3402000000>
Call-ID: [call_id]
CSeq: 9 REGISTER
Contact: <sip:${NVR}@[local_ip]:[local_port]>
[authentication username=${NVR} password=${PASSWORD}]
Max-Forwards: 70
Expires: 0
Content-Length: 0

  ]]></send>
  <recv response="401" auth="true" optional="true"/>
  <recv response="200"/>`

const scenario = (body: string) => `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="gb28181 nvr">${body}\n</scenario>`

/** A device's answer MESSAGE to the platform, body given. */
const deviceMessage = (body: string, tag: string) => `
  <send retrans="500"><![CDATA[
MESSAGE sip:${PLATFORM}@3402000000 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${NVR}@3402000000>;tag=${tag}
To: <sip:${PLATFORM}@3402000000>
Call-ID: [call_id]
CSeq: 1 MESSAGE
Content-Type: Application/MANSCDP+xml
Max-Forwards: 70
Content-Length: [len]

${body}
  ]]></send>
  <recv response="200"/>`

const item = (n: number, name: string, status: string) => `<Item>
<DeviceID>3402000000132000000${n}</DeviceID>
<Name>${name}</Name>
<Manufacturer>Hikvision</Manufacturer>
<Model>DS-2CD</Model>
<Owner>0</Owner>
<CivilCode>340200</CivilCode>
<Parental>0</Parental>
<ParentID>${NVR}</ParentID>
<SafetyWay>0</SafetyWay>
<RegisterWay>1</RegisterWay>
<Secrecy>0</Secrecy>
<Status>${status}</Status>
</Item>`

const catalogPage = (items: string[]) => `<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>Catalog</CmdType>
<SN>[$sn]</SN>
<DeviceID>${NVR}</DeviceID>
<SumNum>3</SumNum>
<DeviceList Num="${items.length}">
${items.join('\n')}
</DeviceList>
</Response>`

/**
 * The NVR answering the gateway's queries (they come with Call-IDs of the gateway's, so they are
 * "out of call" for SIPp): 200 at once, then the answer MESSAGE — DeviceInfo, or the catalog in two
 * GB2312 pages. Names are written in GB2312 bytes inside an ISO-8859-1 scenario, as a device sends them.
 */
const answering = Buffer.concat([
  Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="gb28181 nvr answers">
  <recv request="MESSAGE">
    <action>
      <ereg regexp="&lt;SN&gt;([0-9]+)&lt;/SN&gt;" search_in="body" check_it="true" assign_to="whole,sn"/>
      <ereg regexp="&lt;CmdType&gt;Catalog" search_in="body" check_it="false" assign_to="isCatalog"/>
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag09
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
  <nop next="catalog" test="isCatalog"/>
  <Reference variables="whole"/>
`),
  Buffer.from(deviceMessage(`<?xml version="1.0" encoding="GB2312"?>\n<Response>\n<CmdType>DeviceInfo</CmdType>\n<SN>[$sn]</SN>\n<DeviceID>${NVR}</DeviceID>\n<DeviceName>`, 'info').split('<DeviceName>')[0]! + '<DeviceName>'),
  gb2312('东区录像机'),
  Buffer.from(`</DeviceName>\n<Result>OK</Result>\n<Manufacturer>Hikvision</Manufacturer>\n<Model>DS-7608</Model>\n<Firmware>V4.1</Firmware>\n<Channel>3</Channel>\n</Response>\n  ]]></send>\n  <recv response="200"/>\n  <nop next="end"/>\n  <label id="catalog"/>\n`),
  gb2312(deviceMessage(catalogPage([item(1, '东门口 枪机', 'ON'), item(2, '北区 球机', 'OFF')]), 'cat1')),
  gb2312(deviceMessage(catalogPage([item(3, '地下车库入口', 'ON')]), 'cat2')),
  Buffer.from(`  <label id="end"/>\n</scenario>\n`),
])

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
