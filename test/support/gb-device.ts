import { execFileSync } from 'node:child_process'

/**
 * SIPp scenarios of a GB/T 28181 NVR (the independent peer the gb28181 feature is tested with):
 * REGISTER with Digest, keepalives, unregister, and an out-of-call scenario that answers the
 * gateway's DeviceInfo and Catalog queries (GB2312 names, two catalog pages) and, when asked, an
 * INVITE for live video (200 with its SDP, then ACK and BYE).
 */

export const NVR = '34020000001180000001'
export const PLATFORM = '34020000002000000001'
export const PASSWORD = 'nvr-pass-2026'
export const gb2312 = (s: string) => execFileSync('iconv', ['-f', 'UTF-8', '-t', 'GB2312'], { input: s })

export const overrides = (extra: Record<string, unknown> = {}) => ({
  gb28181: { enabled: true, host: '127.0.0.1', sipPort: 0, tcp: false, publicAddress: '127.0.0.1', keepaliveIntervalSeconds: 5, keepaliveMissedLimit: 1, catalogTimeoutSeconds: 10, sipT1Ms: 100, mediaPortMin: 0, mediaPortMax: 0, firstFrameTimeoutSeconds: 10, ...extra },
})

export const register = (password: string, final: string) => `
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

export const keepalive = (cseq: number) => `
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

export const unregister = `
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

export const scenario = (body: string) => `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="gb28181 nvr">${body}\n</scenario>`

/** A device's answer MESSAGE to the platform, body given. */
export const deviceMessage = (body: string, tag: string) => `
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

export const item = (n: number, name: string, status: string) => `<Item>
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

export const catalogPage = (items: string[]) => `<?xml version="1.0" encoding="GB2312"?>
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
export const answering = answeringWith('')

/** `inviteAnswer`: SIPp elements answering an INVITE (see INVITE_ANSWER), or '' for none. */
export function answeringWith(inviteAnswer: string): Buffer {
  return Buffer.concat([
  Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="gb28181 nvr answers">
${inviteAnswer ? '  <recv request="INVITE" optional="true" next="invite"/>' : ''}
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
  Buffer.from(`  <nop next="end"/>\n  <label id="invite"/>\n${inviteAnswer}\n  <label id="end"/>\n</scenario>\n`),
])
}

/** The device's answer to an INVITE: 200 with a PS/90000 SDP carrying the SSRC asked for, ACK, later BYE. */
export const INVITE_ANSWER = `
  <send><![CDATA[
SIP/2.0 100 Trying
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag10
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:${NVR}@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=${NVR} 0 0 IN IP4 [local_ip]
s=Play
c=IN IP4 [local_ip]
t=0 0
m=video 15060 RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
y=0200000001
f=
  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>`

