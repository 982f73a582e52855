import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import t, { type Test } from 'tap'
import { DigestServer, SipEndpoint, SipTimeoutError, header, headerValues, parseDatagram, parseVia, newCallId, type IncomingRequest, type SipPeer } from '../../../src/lib/sip/index.js'
import { runSipp } from '../../support/sipp.js'

/**
 * Our SIP endpoint against SIPp acting as a GB/T 28181 device (UDP and TCP): REGISTER answered
 * with a Digest challenge that SIPp's own MD5 digest code satisfies, a wrong password refused,
 * keepalive MESSAGEs, a request of ours sent back over the device's TCP connection (as to a device
 * behind NAT), UDP retransmissions in both directions, a timeout, and malformed input that harms
 * nothing.
 */

const DEVICE = '34020000001320000001'
const PLATFORM = '34020000002000000001'
const PASSWORD = 'gb-pass-2026'

/** A tiny registrar on our endpoint: what the GB/T 28181 feature does, reduced to the protocol. */
async function registrar(t: Test, transports: { tcp: boolean } = { tcp: true }) {
  const digest = new DigestServer('3402000000')
  const seen: IncomingRequest[] = []
  const malformed: Error[] = []
  const endpoint = new SipEndpoint({
    host: '127.0.0.1',
    udpPort: 0,
    tcpPort: transports.tcp ? 0 : null,
    publicAddress: '127.0.0.1',
    userAgent: 'sharp-eyes-gateway test',
    t1Ms: 100,
    onMalformed: (err) => malformed.push(err),
    onRequest: (req) => {
      seen.push(req)
      const m = req.message
      if (m.method === 'REGISTER') {
        const auth = header(m, 'authorization')
        if (!auth) return req.respond(401, 'Unauthorized', { headers: { 'WWW-Authenticate': digest.challenge() } })
        const verdict = digest.verify(auth, 'REGISTER', PASSWORD)
        if (verdict !== 'ok') return req.respond(403, 'Forbidden')
        return req.respond(200, 'OK', { headers: { Expires: header(m, 'expires') ?? '3600', Date: new Date().toISOString().slice(0, 19) } })
      }
      req.respond(200, 'OK')
    },
  })
  await endpoint.start()
  t.teardown(() => endpoint.close())
  return { endpoint, seen, malformed }
}

const registerScenario = (password: string, final: '200' | '403', then = '') => `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="gb28181 device register">
  <send retrans="500"><![CDATA[
REGISTER sip:${PLATFORM}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${DEVICE}@3402000000>;tag=[pid]SIPpTag00[call_number]
To: <sip:${DEVICE}@3402000000>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:${DEVICE}@[local_ip]:[local_port]>
Max-Forwards: 70
User-Agent: IP Camera
Expires: 3600
Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:${PLATFORM}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${DEVICE}@3402000000>;tag=[pid]SIPpTag00[call_number]
To: <sip:${DEVICE}@3402000000>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:${DEVICE}@[local_ip]:[local_port]>
[authentication username=${DEVICE} password=${password}]
Max-Forwards: 70
User-Agent: IP Camera
Expires: 3600
X-GB-Ver: 3.0
Content-Length: 0

  ]]></send>
  <recv response="${final}"/>
${then}
</scenario>`

const keepalive = `
  <send retrans="500"><![CDATA[
MESSAGE sip:${PLATFORM}@3402000000 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:${DEVICE}@3402000000>;tag=[pid]SIPpTag01[call_number]
To: <sip:${PLATFORM}@3402000000>
Call-ID: [call_id]
CSeq: 3 MESSAGE
Content-Type: Application/MANSCDP+xml
Max-Forwards: 70
Content-Length: [len]

<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>Keepalive</CmdType>
<SN>1</SN>
<DeviceID>${DEVICE}</DeviceID>
<Status>OK</Status>
</Notify>
  ]]></send>
  <recv response="200"/>`

for (const transport of ['udp', 'tcp'] as const) {
  t.test(`SIPp device over ${transport}: REGISTER with Digest, then a keepalive`, async (t) => {
    const { endpoint, seen } = await registrar(t)
    const port = transport === 'tcp' ? endpoint.tcpPort : endpoint.udpPort
    const run = await runSipp({ scenario: registerScenario(PASSWORD, '200', keepalive), remote: `127.0.0.1:${port}`, transport })
    t.equal(run.code, 0, `SIPp's scenario passed ${run.errors}`)
    const registers = seen.filter((r) => r.message.method === 'REGISTER')
    t.equal(registers.length, 2, 'challenged, then authenticated')
    t.equal(DigestServer.username(header(registers[1]!.message, 'authorization')), DEVICE, 'SIPp answered our challenge for the device id')
    t.equal(header(registers[1]!.message, 'x-gb-ver'), '3.0', 'the 2022 header is tolerated')
    t.equal(registers[1]!.source.transport, transport.toUpperCase())
    const via = parseVia(headerValues(registers[1]!.message, 'via')[0]!)
    t.equal(via.params.get('rport'), String(registers[1]!.source.port), 'rport filled in with the source port')
    const message = seen.find((r) => r.message.method === 'MESSAGE')
    t.match(message?.message.body.toString('latin1'), /<CmdType>Keepalive<\/CmdType>/, 'keepalive body arrived')
  })
}

t.test('a wrong password is refused, and SIPp sees 403', async (t) => {
  const { endpoint } = await registrar(t)
  const run = await runSipp({ scenario: registerScenario('not-the-password', '403'), remote: `127.0.0.1:${endpoint.udpPort}` })
  t.equal(run.code, 0, `SIPp's scenario passed ${run.errors}`)
})

t.test('our request over the TCP connection the device registered on (a device behind NAT)', async (t) => {
  const { endpoint, seen } = await registrar(t)
  // after registering, the device waits for a MESSAGE of ours on the same connection and answers it
  const waitQuery = `
  <recv request="MESSAGE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>`
  const sipp = runSipp({ scenario: registerScenario(PASSWORD, '200', waitQuery), remote: `127.0.0.1:${endpoint.tcpPort}`, transport: 'tcp' })
  const deadline = Date.now() + 20_000
  while (seen.filter((r) => r.message.method === 'REGISTER').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const register = seen.filter((r) => r.message.method === 'REGISTER')[1]!
  const device = register.source
  // SIPp routes messages to its call by Call-ID: ours continues the device's dialog-less exchange
  const callId = header(register.message, 'call-id')!
  const res = await endpoint.request({
    method: 'MESSAGE',
    uri: `sip:${DEVICE}@${device.address}:${device.port}`,
    destination: device,
    headers: { From: `<sip:${PLATFORM}@3402000000>;tag=abc`, To: `<sip:${DEVICE}@3402000000>`, 'Call-ID': callId, CSeq: '20 MESSAGE', 'Content-Type': 'Application/MANSCDP+xml' },
    body: Buffer.from('<?xml version="1.0"?><Query><CmdType>DeviceInfo</CmdType><SN>2</SN><DeviceID>' + DEVICE + '</DeviceID></Query>'),
  })
  t.equal(res.status, 200, 'the device answered over its own connection')
  const run = await sipp
  t.equal(run.code, 0, `SIPp's scenario passed ${run.errors}`)
})

t.test('UDP: we retransmit until answered (SIPp answers late), and time out when nobody answers', async (t) => {
  const { endpoint } = await registrar(t, { tcp: false })
  const probe = createSocket('udp4')
  probe.bind(0, '127.0.0.1')
  await once(probe, 'listening')
  const sippPort = probe.address().port
  probe.close()
  const uas = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="slow device">
  <recv request="MESSAGE"/>
  <pause milliseconds="450"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag03
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
</scenario>`
  const sipp = runSipp({ scenario: uas, localPort: sippPort })
  await new Promise((r) => setTimeout(r, 300)) // SIPp binding its port; our retransmissions cover a late start too
  const destination: SipPeer = { transport: 'UDP', address: '127.0.0.1', port: sippPort }
  const res = await endpoint.request({ method: 'MESSAGE', uri: `sip:${DEVICE}@127.0.0.1:${sippPort}`, destination, headers: { From: `<sip:${PLATFORM}@3402000000>;tag=x1`, To: `<sip:${DEVICE}@3402000000>`, 'Call-ID': newCallId(), CSeq: '1 MESSAGE' } })
  t.equal(res.status, 200)
  t.ok(endpoint.counters.retransmissionsSent >= 1, `retransmitted ${endpoint.counters.retransmissionsSent}×`)
  const run = await sipp
  t.equal(run.code, 0, `SIPp's scenario passed ${run.errors}`)

  // nobody listens: Timer F ends the transaction after 64×T1
  const started = Date.now()
  await t.rejects(endpoint.request({ method: 'MESSAGE', uri: 'sip:x@127.0.0.1:9', destination: { transport: 'UDP', address: '127.0.0.1', port: sippPort }, headers: { From: '<sip:a@b>;tag=1', To: '<sip:c@d>', 'Call-ID': newCallId(), CSeq: '1 MESSAGE' } }), SipTimeoutError)
  t.ok(Date.now() - started >= 64 * 100 - 50, 'not before 64×T1')
})

t.test('a retransmitted request is answered again from its transaction, handed up once; garbage harms nothing', async (t) => {
  const { endpoint, seen, malformed } = await registrar(t, { tcp: false })
  const sock = createSocket('udp4')
  sock.bind(0, '127.0.0.1')
  await once(sock, 'listening')
  t.teardown(() => sock.close())
  const answers: Buffer[] = []
  sock.on('message', (b) => answers.push(b))
  const send = (s: string | Buffer) => sock.send(typeof s === 'string' ? Buffer.from(s) : s, endpoint.udpPort, '127.0.0.1')
  const msg = `MESSAGE sip:${PLATFORM}@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKretrans1\r\nFrom: <sip:${DEVICE}@3402000000>;tag=1\r\nTo: <sip:${PLATFORM}@3402000000>\r\nCall-ID: r1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n`
  // garbage first: a binary blob, a header-less start line, a lying Content-Length, an oversized datagram
  for (const g of [Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2]), 'HELLO\r\n\r\n', msg.replace('Content-Length: 0', 'Content-Length: 999'), 'MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n', Buffer.alloc(60_000, 0x41)]) send(g)
  send(msg)
  send(msg.replace(/\r\n/g, '\n')) // the same transaction again, with bare LF line ends as some devices send
  const deadline = Date.now() + 5000
  while (answers.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.equal(seen.filter((r) => r.message.method === 'MESSAGE').length, 1, 'handed up once')
  t.equal(answers.length, 2, 'answered twice')
  const res = parseDatagram(answers[1]!)
  t.equal(res.kind === 'response' && res.status, 200)
  t.match(headerValues(res, 'via')[0], /received=127\.0\.0\.1/, 'received= added for the NAT path')
  t.equal(header(res, 'to'), header(parseDatagram(answers[0]!), 'to'), 'the same To tag both times')
  t.ok(malformed.length >= 4, `malformed input counted (${malformed.length})`)
})
