import t from 'tap'
import { CandidateSyntaxError, chooseVideoCodec, OfferError, validateOffer, WebRtcSendPeer, offeredVideoCodecs } from '../../../src/lib/webrtc/werift-peer.js'

// A Chromium-like recvonly offer (trimmed).
const OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 106 108 112 45',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 3D:46:7F:D4:75:B2:23:3E:D0:AE:68:5C:DC:A3:21:38:0F:16:B2:1E:5D:22:90:0E:E5:C4:CE:19:AB:31:2F:E3',
  'a=setup:actpass',
  'a=mid:0',
  'a=recvonly',
  'a=rtcp-mux',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=rtcp-fb:102 nack',
  'a=rtcp-fb:102 nack pli',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:103 H264/90000',
  'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
  'a=rtpmap:106 H264/90000',
  'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:108 H264/90000',
  'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032',
  'a=rtpmap:112 H265/90000',
  'a=rtpmap:45 AV1/90000',
  '',
].join('\r\n')

t.test('codec choice follows the offer', async (t) => {
  t.equal(offeredVideoCodecs(OFFER).length, 8)
  t.same(chooseVideoCodec(OFFER, ['h264'], '42e01f'), { codec: 'h264', payloadType: 106, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', profileLevelId: '42e01f' })
  t.equal(chooseVideoCodec(OFFER, ['h264'], '42c01f')?.payloadType, 102, 'same profile, other constraints')
  t.equal(chooseVideoCodec(OFFER, ['h264'])?.payloadType, 108, 'unknown source profile: High')
  t.equal(chooseVideoCodec(OFFER, ['h265', 'h264'])?.codec, 'h265')
  t.equal(chooseVideoCodec(OFFER.replace(/packetization-mode=1/g, 'packetization-mode=0'), ['h264']), null, 'mode 0 only: nothing')
})

t.test('malformed offers are refused with a reason', async (t) => {
  t.throws(() => validateOffer('hello'), OfferError)
  t.throws(() => validateOffer('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n'), /no video/)
  await t.rejects(WebRtcSendPeer.answer({ offerSdp: 'garbage', video: { codec: 'h264', payloadType: 102, fmtp: '' } }), OfferError)
})

t.test('answer: one payload type, sendonly, host candidates, no public STUN; close is idempotent', async (t) => {
  const video = chooseVideoCodec(OFFER, ['h264'], '42e01f')!
  const peer = await WebRtcSendPeer.answer({ offerSdp: OFFER, video, ice: { announcedAddresses: ['127.0.0.1'] }, gatherTimeoutMs: 2000 })
  const sdp = peer.answerSdp
  t.match(sdp, /m=video 9 UDP\/TLS\/RTP\/SAVPF 106\r?\n/)
  t.match(sdp, /a=sendonly/)
  t.match(sdp, /a=fmtp:106 .*profile-level-id=42e01f/)
  t.notMatch(sdp, /rtpmap:102/)
  t.match(sdp, /a=candidate:.* 127\.0\.0\.1 \d+ typ host/)
  t.notMatch(sdp, /typ srflx/)
  t.not(peer.state, 'connected')
  t.equal(peer.addRemoteCandidates('a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host\r\n'), 1, 'trickled candidate added')
  t.throws(() => peer.addRemoteCandidates('a=ice-ufrag:other\r\na=ice-pwd:x\r\n'), OfferError, 'ICE restart refused')
  t.throws(() => peer.addRemoteCandidates('a=ice-ufrag:abcd\r\na=candidate:1 1 udp\r\n'), CandidateSyntaxError, 'a broken candidate line refused')
  peer.sendRtp({ sequenceNumber: 1, timestamp: 1, marker: true, payload: Buffer.from([0x65, 0]) }) // not connected: dropped
  t.equal(peer.stats.packetsSent, 0)
  await Promise.all([peer.close(), peer.close()])
  t.equal(peer.state, 'closed')
})

t.test('a trickled mDNS candidate nobody answers for is taken at once and resolved behind the caller', async (t) => {
  // Browsers name their host candidates <uuid>.local; werift looks such a name up by multicast DNS
  // and waits 10 s for an answer that, for a browser on another link, never comes. The WHEP PATCH
  // carrying it must not wait with it (issue 26): addRemoteCandidates returns while the lookup runs.
  const video = chooseVideoCodec(OFFER, ['h264'], '42e01f')!
  const peer = await WebRtcSendPeer.answer({ offerSdp: OFFER, video, ice: { announcedAddresses: ['127.0.0.1'] }, gatherTimeoutMs: 2000 })
  t.teardown(() => peer.close())
  const frag = 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=mid:0\r\n' +
    'a=candidate:2 1 udp 2113937151 5e0f3b0c-9a4e-4c3e-8d53-0f6a7c1d2e3f.local 50002 typ host generation 0\r\n' +
    'a=candidate:3 1 udp 2113937151 127.0.0.1 50003 typ host generation 0\r\n'
  const taken = peer.addRemoteCandidates(frag)
  t.equal(taken, 2, 'both candidates taken')
  t.equal(peer.pendingRemoteCandidates, 2, 'returned before werift has applied either')
  // The IP candidate does not queue behind the lookup: applied on its own.
  const deadline = Date.now() + 5000
  while (peer.pendingRemoteCandidates > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.equal(peer.pendingRemoteCandidates, 1, 'the IP candidate applied; the mDNS name still being looked up')
  await peer.close()
  t.equal(peer.pendingRemoteCandidates, 0, 'nothing pending after close')
})
