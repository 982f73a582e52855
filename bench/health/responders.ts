/**
 * bench/health responders: a separate process (so the gateway's CPU and memory are measured
 * alone) answering as many cameras as asked, on loopback addresses only.
 *   - RTSP (OPTIONS, DESCRIBE with an H.264 1920x1080 SDP) and HTTP (ONVIF GetSystemDateAndTime,
 *     GET /snap/<i> JPEG) listeners on ADDRESSES addresses of 127.0.60.0/24, ephemeral ports;
 *   - "slow" cameras answer after SLOW_MS; "hang" listeners on 127.0.61.0/24 accept and never answer.
 * Prints one JSON line {rtsp: [[addr, port]...], http: [...], hang: [...], refused: [addr, port]} when ready;
 * exits when its stdin closes.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'

const ADDRESSES = Number(process.env.ADDRESSES ?? 100)
const HANG = Number(process.env.HANG_LISTENERS ?? 10)
const SLOW_MS = Number(process.env.SLOW_MS ?? 1500)
const jpeg = readFileSync(process.env.JPEG_FILE!)
const sockets = new Set<net.Socket>()
const track = (s: net.Socket) => {
  sockets.add(s)
  s.on('close', () => sockets.delete(s))
  s.on('error', () => undefined)
}
const isSlow = (path: string) => /[?&/]slow\b/.test(path) || path.includes('slow=1')

const sdp = (host: string) =>
  [
    'v=0',
    `o=- 1 1 IN IP4 ${host}`,
    's=bench camera',
    't=0 0',
    'm=video 0 RTP/AVP 96',
    'a=rtpmap:96 H264/90000',
    'a=fmtp:96 packetization-mode=1;profile-level-id=640028',
    'a=x-dimensions:1920,1080',
    'a=framerate:25',
    'a=control:trackID=1',
    '',
  ].join('\r\n')

function rtspServer(host: string): Promise<number> {
  const srv = net.createServer((s) => {
    track(s)
    let buf = ''
    s.setEncoding('latin1')
    s.on('data', (chunk: string) => {
      buf += chunk
      let end: number
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end)
        buf = buf.slice(end + 4)
        const [line = ''] = head.split('\r\n')
        const [method = '', url = ''] = line.split(' ')
        const cseq = /\r\ncseq:\s*(\d+)/i.exec(head)?.[1] ?? '0'
        let reply: string
        if (method === 'DESCRIBE') {
          const body = sdp(host)
          reply = `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Base: ${url}/\r\nContent-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
        } else if (method === 'OPTIONS') reply = `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n`
        else reply = `RTSP/1.0 405 Method Not Allowed\r\nCSeq: ${cseq}\r\n\r\n`
        if (isSlow(url)) setTimeout(() => s.writable && s.write(reply, 'latin1'), SLOW_MS)
        else s.write(reply, 'latin1')
      }
    })
  })
  return listen(srv, host)
}

const clock = () => {
  const d = new Date()
  return `<tt:UTCDateTime><tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time><tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime>`
}
const envelope = () =>
  '<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body>' +
  '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone>' +
  clock() +
  '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>'

function httpServer(host: string): Promise<number> {
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const answer = () => {
        if (req.method === 'GET' && req.url?.startsWith('/snap/')) res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length }).end(jpeg)
        else {
          const body = envelope()
          res.writeHead(200, { 'content-type': 'application/soap+xml; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body)
        }
      }
      if (isSlow(req.url ?? '')) setTimeout(answer, SLOW_MS)
      else answer()
    })
  })
  srv.on('connection', track)
  srv.keepAliveTimeout = 1000
  return listen(srv, host)
}

function hangServer(host: string): Promise<number> {
  return listen(net.createServer(track), host)
}

function listen(srv: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject)
    srv.listen({ port: 0, host, backlog: 4096 }, () => resolve((srv.address() as net.AddressInfo).port))
  })
}

const rtsp: [string, number][] = []
const httpEps: [string, number][] = []
const hang: [string, number][] = []
for (let a = 1; a <= ADDRESSES; a++) {
  const host = `127.0.60.${a}`
  rtsp.push([host, await rtspServer(host)])
  httpEps.push([host, await httpServer(host)])
}
for (let a = 1; a <= HANG; a++) {
  const host = `127.0.61.${a}`
  hang.push([host, await hangServer(host)])
}
// a port nobody listens on: connections are refused at once
const probe = net.createServer()
const refusedPort = await listen(probe, '127.0.62.1')
await new Promise((r) => probe.close(r))
process.stdout.write(JSON.stringify({ rtsp, http: httpEps, hang, refused: ['127.0.62.1', refusedPort] }) + '\n')
process.stdin.resume()
process.stdin.on('end', () => {
  for (const s of sockets) s.destroy()
  process.exit(0)
})
