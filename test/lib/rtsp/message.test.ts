import t from 'tap'
import {
  parseRtpInfo,
  parseSessionHeader,
  parseTransportHeader,
  RtspProtocolError,
  RtspStreamParser,
  serializeRequest,
  type RtspStreamItem,
} from '../../../src/lib/rtsp/index.js'

const DESCRIBE_RESPONSE =
  'RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Base: rtsp://10.0.0.5/Streaming/Channels/101/\r\n' +
  'Content-Type: application/sdp\r\nContent-Length: 13\r\n\r\nv=0\r\ns=test\r\n'

function interleaved(channel: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x24, channel, payload.length >> 8, payload.length & 0xff]), payload])
}

function feedInPieces(parser: RtspStreamParser, data: Buffer, sizes: number[]): RtspStreamItem[] {
  const out: RtspStreamItem[] = []
  let o = 0
  let i = 0
  while (o < data.length) {
    const n = sizes[i++ % sizes.length]!
    out.push(...parser.push(data.subarray(o, o + n)))
    o += n
  }
  return out
}

t.test('responses and $ frames mixed, split at every possible byte boundary', async (t) => {
  const rtp1 = Buffer.alloc(1400, 0x80)
  const rtcp = Buffer.from('80c8000600000001', 'hex')
  const stream = Buffer.concat([
    interleaved(0, rtp1),
    Buffer.from(DESCRIBE_RESPONSE),
    interleaved(1, rtcp),
    Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 12345678;timeout=60\r\n\r\n'),
    interleaved(0, Buffer.from([0x80, 0x60, 0, 1])),
  ])
  for (const sizes of [[1], [2], [3], [7], [1399], [stream.length], [5, 1, 4000]]) {
    const items = feedInPieces(new RtspStreamParser(), stream, sizes)
    t.same(
      items.map((i) => (i.kind === 'interleaved' ? `$${i.channel}:${i.data.length}` : i.kind === 'response' ? `R${i.response.cseq}` : 'Q')),
      ['$0:1400', 'R3', '$1:8', 'R4', '$0:4'],
      `chunks of ${sizes.join(',')}`,
    )
    const describe = items[1]
    if (describe?.kind === 'response') {
      t.equal(describe.response.body.toString(), 'v=0\r\ns=test\r\n')
      t.equal(describe.response.headers.get('content-base'), 'rtsp://10.0.0.5/Streaming/Channels/101/')
    }
  }
})

t.test('multiple headers of one name, and a request from the server', async (t) => {
  const items = new RtspStreamParser().push(
    Buffer.from(
      'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="IP Camera(C2195)", nonce="abc", stale="FALSE"\r\n' +
        'WWW-Authenticate: Basic realm="IP Camera(C2195)"\r\n\r\n' +
        'GET_PARAMETER rtsp://10.0.0.9/ RTSP/1.0\r\nCSeq: 9\r\n\r\n',
    ),
  )
  t.equal(items.length, 2)
  const [res, req] = items
  t.equal(res?.kind === 'response' && res.response.status, 401)
  t.equal(res?.kind === 'response' && res.response.headers.getAll('www-authenticate').length, 2)
  t.match(req, { kind: 'request', request: { method: 'GET_PARAMETER', cseq: 9 } })
})

t.test('garbage between frames is skipped', async (t) => {
  const parser = new RtspStreamParser()
  const items = parser.push(Buffer.concat([Buffer.from([0, 0, 0]), interleaved(2, Buffer.from([1, 2]))]))
  t.same(items.map((i) => i.kind), ['interleaved'])
  t.equal(parser.skippedBytes, 3)
})

t.test('malformed messages raise RtspProtocolError', async (t) => {
  t.throws(() => new RtspStreamParser().push(Buffer.from('RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n')), RtspProtocolError)
  t.throws(() => new RtspStreamParser().push(Buffer.from('HELLO world\r\n\r\n')), RtspProtocolError)
  t.throws(() => new RtspStreamParser().push(Buffer.from('RTSP/1.0 200 OK\r\nX: ' + 'a'.repeat(70_000))), RtspProtocolError)
})

t.test('header parsers', async (t) => {
  t.same(parseSessionHeader('12345678;timeout=30'), { id: '12345678', timeout: 30 })
  t.same(parseSessionHeader(' 0F1E2D3C '), { id: '0F1E2D3C', timeout: 60 })
  t.match(parseTransportHeader('RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=4BD3A7F2;mode="PLAY"'), {
    protocol: 'RTP/AVP/TCP',
    interleaved: [2, 3],
    ssrc: 0x4bd3a7f2,
  })
  t.match(parseTransportHeader('RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971'), {
    clientPort: [5000, 5001],
    serverPort: [6970, 6971],
  })
  t.same(parseRtpInfo('url=rtsp://h/a/trackID=1;seq=37817;rtptime=1926454730,url=trackID=2;seq=5'), [
    { url: 'rtsp://h/a/trackID=1', seq: 37817, rtptime: 1926454730 },
    { url: 'trackID=2', seq: 5 },
  ])
})

t.test('serializeRequest', async (t) => {
  t.equal(
    serializeRequest('SETUP', 'rtsp://h/s/stream=0', 4, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' }).toString(),
    'SETUP rtsp://h/s/stream=0 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n',
  )
  t.equal(
    serializeRequest('SET_PARAMETER', 'rtsp://h/', 5, {}, Buffer.from('a: b\r\n')).toString(),
    'SET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 6\r\n\r\na: b\r\n',
  )
})
