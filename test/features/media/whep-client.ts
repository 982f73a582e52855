import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift'

function gatherComplete(pc: RTCPeerConnection, timeoutMs = 3000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    const sub = pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        clearTimeout(timer)
        sub.unSubscribe()
        resolve()
      }
    })
  })
}

/**
 * A real WebRTC receiver (werift): an H.264 recvonly offer with its candidates gathered, as a
 * non-trickle WHEP client sends it. Close the peer when done.
 */
export async function h264Offer(): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        }),
      ],
      audio: [],
    },
    iceUseIpv4: true,
    iceUseIpv6: false,
  })
  pc.addTransceiver('video', { direction: 'recvonly' })
  await pc.setLocalDescription(await pc.createOffer())
  await gatherComplete(pc)
  return { pc, sdp: pc.localDescription!.sdp }
}

/** POSTs a WHEP offer to the gateway. */
export function postWhep(base: string, token: string, cameraId: number, sdp: string): Promise<Response> {
  return fetch(`${base}/api/cameras/${cameraId}/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: sdp })
}
