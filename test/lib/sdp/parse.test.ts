import { readFileSync } from 'node:fs'
import t from 'tap'
import { buildSdp, parseFmtp, parseSdp, resolveControlUrl, SdpParseError } from '../../../src/lib/sdp/index.js'
import { parseH264Sps } from '../../../src/lib/h264/index.js'

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/sdp/${name}`, import.meta.url), 'utf8')

t.test('Hikvision H.264: absolute controls, "; " fmtp separators, metadata track', async (t) => {
  const sdp = parseSdp(fixture('hikvision-h264.sdp'), { baseUrl: 'rtsp://192.168.1.64:554/Streaming/Channels/101/' })
  t.equal(sdp.name, 'Media Presentation')
  t.equal(sdp.origin?.address, '192.168.1.64')
  t.equal(sdp.url, 'rtsp://192.168.1.64:554/Streaming/Channels/101/')
  t.equal(sdp.bandwidth['AS'], 5100)
  t.equal(sdp.media.length, 2)
  const video = sdp.media[0]!
  t.equal(video.type, 'video')
  t.equal(video.codec, 'H264')
  t.equal(video.payloadType, 96)
  t.equal(video.clockRate, 90000)
  t.equal(video.direction, 'recvonly')
  t.equal(video.url, 'rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1')
  t.equal(video.width, 1920)
  t.equal(video.height, 1080)
  t.equal(video.parameters['packetization-mode'], '1')
  t.equal(video.h264?.packetizationMode, 1)
  t.equal(video.h264?.profileLevelId, '420029')
  t.equal(video.h264?.sps.length, 1)
  t.equal(video.h264?.pps.length, 1)
  t.same([...video.h264!.pps[0]!], [0x68, 0xee, 0x3c, 0x80])
  const sps = parseH264Sps(video.h264!.sps[0]!)
  t.match(sps, { width: 1920, height: 1080, profileIdc: 77, levelIdc: 42 })
  const meta = sdp.media[1]!
  t.equal(meta.type, 'application')
  t.equal(meta.codec, 'ISAPI.METADATA')
  t.equal(meta.url, 'rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=3')
  t.ok(meta.attributes.some((a) => a.name === 'Media_header' && a.value?.startsWith('MEDIAINFO=')))
})

t.test('Hikvision H.265: sprop-vps/sps/pps decoded', async (t) => {
  const sdp = parseSdp(fixture('hikvision-h265.sdp'))
  const video = sdp.media[0]!
  t.equal(video.codec, 'H265')
  t.equal(video.h264, undefined)
  t.equal(video.h265?.vps.length, 1)
  t.equal(video.h265?.sps.length, 1)
  t.equal(video.h265?.pps.length, 1)
  t.equal((video.h265!.vps[0]![0]! >> 1) & 0x3f, 32, 'VPS NAL type')
  t.equal((video.h265!.sps[0]![0]! >> 1) & 0x3f, 33, 'SPS NAL type')
  t.equal((video.h265!.pps[0]![0]! >> 1) & 0x3f, 34, 'PPS NAL type')
  // No base URL given, but the session control is absolute: it becomes the base.
  t.equal(video.url, 'rtsp://192.168.1.65:554/Streaming/Channels/101/trackID=1')
  const audio = sdp.media[1]!
  t.equal(audio.codec, 'PCMA')
  t.equal(audio.clockRate, 8000)
})

t.test('Dahua: a=control:* and relative trackIDs appended to a Content-Base with a query', async (t) => {
  const base = 'rtsp://192.168.1.108:554/cam/realmonitor?channel=1&subtype=0/'
  const sdp = parseSdp(fixture('dahua-h264.sdp'), { baseUrl: base })
  t.equal(sdp.control, '*')
  t.equal(sdp.url, base)
  t.equal(sdp.range, 'npt=now-')
  t.same(
    sdp.media.map((m) => m.url),
    [`${base}trackID=0`, `${base}trackID=1`, `${base}trackID=4`],
  )
  const video = sdp.media[0]!
  t.equal(video.framerate, 15)
  t.equal(video.h264?.profileLevelId, '640028')
  t.match(parseH264Sps(video.h264!.sps[0]!), { width: 1920, height: 1080, profileIdc: 100, frameRate: 15 })
  t.equal(sdp.media[1]!.codec, 'PCMA')
  t.equal(sdp.media[2]!.codec, 'VND.ONVIF.METADATA')
})

t.test('Axis: absolute controls with query strings are kept as they are', async (t) => {
  const sdp = parseSdp(fixture('axis-h264.sdp'), { baseUrl: 'rtsp://192.168.0.90/axis-media/media.amp/' })
  t.equal(sdp.url, 'rtsp://192.168.0.90/axis-media/media.amp?videocodec=h264&resolution=1280x720')
  const video = sdp.media[0]!
  t.equal(video.url, 'rtsp://192.168.0.90/axis-media/media.amp/stream=0?videocodec=h264&resolution=1280x720')
  t.equal(video.framerate, 30)
  t.match(parseH264Sps(video.h264!.sps[0]!), { width: 1280, height: 720 })
})

t.test('GStreamer rtsp-server capture: relative control against Content-Base', async (t) => {
  const sdp = parseSdp(fixture('gstreamer-rtsp-server.sdp'), { baseUrl: 'rtsp://127.0.0.1:42469/main/' })
  const video = sdp.media[0]!
  t.equal(video.url, 'rtsp://127.0.0.1:42469/main/stream=0')
  t.equal(video.framerate, 25)
  t.equal(video.parameters['level-asymmetry-allowed'], '1')
  t.match(parseH264Sps(video.h264!.sps[0]!), { width: 640, height: 480, profileIdc: 66 })
})

t.test('resolveControlUrl', async (t) => {
  t.equal(resolveControlUrl('rtsp://h/live', 'trackID=1'), 'rtsp://h/live/trackID=1', 'appends, not RFC 3986')
  t.equal(resolveControlUrl('rtsp://h/live/', 'trackID=1'), 'rtsp://h/live/trackID=1')
  t.equal(resolveControlUrl('rtsp://h/live/', '*'), 'rtsp://h/live/')
  t.equal(resolveControlUrl('rtsp://h/live/', undefined), 'rtsp://h/live/')
  t.equal(resolveControlUrl('rtsp://h:554/a/b', '/x/y'), 'rtsp://h:554/x/y')
  t.equal(resolveControlUrl('rtsp://h/a', 'RTSP://other/b'), 'RTSP://other/b')
})

t.test('parseFmtp keeps base64 padding and lower-cases keys', async (t) => {
  t.same(parseFmtp('96 Packetization-Mode=1; sprop-parameter-sets=Z0IAKA==,aM4=;flag'), {
    payloadType: 96,
    params: { 'packetization-mode': '1', 'sprop-parameter-sets': 'Z0IAKA==,aM4=', flag: '' },
  })
})

t.test('LF-only line ends and static payload types without rtpmap', async (t) => {
  const sdp = parseSdp('v=0\ns=x\nm=audio 0 RTP/AVP 0\na=control:track2\n', { baseUrl: 'rtsp://h/s' })
  t.equal(sdp.media[0]!.codec, 'PCMU')
  t.equal(sdp.media[0]!.clockRate, 8000)
  t.equal(sdp.media[0]!.url, 'rtsp://h/s/track2')
})

t.test('rejects a body that is not SDP', async (t) => {
  t.throws(() => parseSdp('<html><body>401</body></html>'), SdpParseError)
})

t.test('buildSdp round-trips a parsed description', async (t) => {
  const text = fixture('dahua-h264.sdp')
  const again = parseSdp(buildSdp(parseSdp(text)))
  const first = parseSdp(text)
  t.same(again.media.map((m) => [m.codec, m.control, m.parameters]), first.media.map((m) => [m.codec, m.control, m.parameters]))
  t.equal(again.control, '*')
})
