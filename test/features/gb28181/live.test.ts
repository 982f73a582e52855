import { execFileSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { INVITE_ANSWER, NVR, PASSWORD, answeringWith, keepalive, overrides, register, scenario } from '../../support/gb-device.js'
import { startTestGateway } from '../../support/gateway.js'
import { runSipp } from '../../support/sipp.js'
import { serializeRtpPacket } from '../../../src/lib/rtp/index.js'

/**
 * A GB/T 28181 channel on the live path: SIPp plays the NVR (registers, answers the catalog and the
 * INVITE with its SDP), the test sends the NVR's video — an MPEG-PS written by GStreamer's
 * mpegpsmux, in RTP as devices send it — to the media port the gateway offered; the channel,
 * adopted as a camera, gives a snapshot decoded by ffmpeg from that video. Two consumers make one
 * INVITE; closing the gateway sends BYE.
 */

const dir = mkdtempSync(join(tmpdir(), 'gw-gb-live-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const psFile = join(dir, 'nvr.ps')
execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=250', 'pattern=ball', '!', 'video/x-raw,width=640,height=360,framerate=25/1', '!', 'x264enc', 'key-int-max=25', 'bframes=0', 'speed-preset=ultrafast', '!', 'video/x-h264,stream-format=byte-stream', '!', 'mpegpsmux', '!', 'filesink', `location=${psFile}`])
const ps = readFileSync(psFile)
/** Where each frame begins in the file (ffprobe), so a frame's last RTP packet carries the marker, as devices send it. */
const frameStarts = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pos', '-of', 'csv=p=0', psFile]).toString().trim().split('\n').map(Number)
frameStarts[0] = 0

const CHANNEL = '34020000001320000001'

async function until<T>(what: string, fn: () => Promise<T | false | undefined> | T | false | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('a GB channel adopted as a camera: one INVITE, PS video decoded to a snapshot, BYE on close', async (t) => {
  const gw = await startTestGateway(t, { overrides: overrides() })
  const admin = await gw.login('admin')
  t.equal((await gw.as(admin).request('PUT', `/api/gb28181/devices/${NVR}/password`, { password: PASSWORD })).statusCode, 204)
  const port = (await gw.as(admin).get('/api/gb28181/endpoint')).json.udpPort
  const stop = new AbortController()
  const sipp = runSipp({ scenario: scenario(register(PASSWORD, '200') + keepalive(3) + '\n  <pause milliseconds="60000"/>'), outOfCallScenario: answeringWith(INVITE_ANSWER), remote: `127.0.0.1:${port}`, timeoutSeconds: 90, signal: stop.signal })
  t.teardown(() => stop.abort())
  await until('catalog', async () => (await gw.as(admin).get(`/api/gb28181/devices/${NVR}`)).json.channels?.length === 3)

  const station = ((await gw.as(admin).get('/api/units?tier=police_station')).json.items as { id: number }[])[0]!
  const adopted = await gw.as(admin).post(`/api/gb28181/devices/${NVR}/channels/${CHANNEL}/adopt`, { unitId: station.id, class: 2 })
  t.equal(adopted.statusCode, 201, adopted.body)
  t.equal(adopted.json.name, '东门口 枪机', 'named from the catalog')
  const cam = adopted.json.id as number
  const camera = (await gw.as(admin).get(`/api/cameras/${cam}`)).json
  t.equal(camera.streams.main.uri, `gb28181://${NVR}/${CHANNEL}`)
  const badUri = await gw.as(admin).post('/api/cameras', { unitId: station.id, name: 'bad', class: 2, kind: 'fixed', streams: { main: { uri: 'gb28181://1234/5678', codec: 'h264' } } })
  t.equal(badUri.statusCode, 400, 'a gb28181 URI must name two 20-digit ids')
  t.match(JSON.stringify(badUri.json.errors), /streams\.main\.uri/)
  t.equal((await gw.as(admin).post(`/api/gb28181/devices/${NVR}/channels/34020000001320000009/adopt`, { unitId: station.id, class: 2 })).statusCode, 404, 'a channel the catalog does not list')

  // the device sends its video once the INVITE is answered
  const sender = createSocket('udp4')
  let senderClosed = false
  t.teardown(() => {
    senderClosed = true
    sender.close()
  })
  let sent = false
  const sendVideo = (mediaPort: number, ssrc: number) => {
    if (sent) return
    sent = true
    let seq = 1000
    void (async () => {
      for (let f = 0; f < frameStarts.length && !senderClosed; f++) {
        const from = frameStarts[f]!
        const to = frameStarts[f + 1] ?? ps.length
        for (let at = from; at < to; at += 1400) {
          const payload = ps.subarray(at, Math.min(at + 1400, to))
          sender.send(serializeRtpPacket({ payloadType: 96, sequenceNumber: seq++ & 0xffff, timestamp: f * 3600, ssrc, marker: at + 1400 >= to, csrc: [], payload, paddingLength: 0 }), mediaPort, '127.0.0.1')
        }
        await new Promise((r) => setTimeout(r, 40))
      }
    })()
  }
  const watcher = setInterval(() => {
    const s = gw.services.gb28181.liveSessions()[0]
    if (s) sendVideo(s.mediaPort, Number(s.ssrc))
  }, 20)
  t.teardown(() => clearInterval(watcher))

  const snapshot = () => gw.app.inject({ method: 'GET', url: `/api/cameras/${cam}/snapshot`, headers: { authorization: `Bearer ${admin}` } })
  const snap = await snapshot()
  t.equal(snap.statusCode, 200, snap.body.slice(0, 300))
  t.equal(snap.headers['content-type'], 'image/jpeg')
  const file = join(dir, 'snap.jpg')
  writeFileSync(file, snap.rawPayload)
  t.equal(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file]).toString().trim(), '640,360', 'the picture the NVR sent, decoded')
  // a second consumer while the first is live: the same upstream
  t.equal((await snapshot()).statusCode, 200)
  t.equal(gw.services.gb28181.liveSessions().length, 1, 'one INVITE for the channel')
  const session = gw.services.gb28181.liveSessions()[0]!
  t.match(session.ssrc, /^0\d{9}$/, 'a live SSRC: 0, the domain, a sequence')

  await gw.close()
  t.equal(gw.services.gb28181.liveSessions().length, 0, 'closed')
  stop.abort()
  const run = await sipp
  const invites = run.messages.match(/^INVITE sip:/gm) ?? []
  const byes = run.messages.match(/^BYE sip:/gm) ?? []
  t.equal(invites.length, 1, 'the NVR saw one INVITE')
  t.equal(byes.length, 1, 'and a BYE when the gateway closed')
})
