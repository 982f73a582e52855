import t from 'tap'
import { OnvifClient, OnvifFaultError, OnvifNotSupportedError } from '../../../src/lib/onvif/index.js'
import { startOnvifSimulator } from '../../support/onvif-sim/index.js'

// This file owns 127.21.0.0/16.
const creds = { username: 'admin', password: 'ptz-pass' }

t.test('PTZ calls reach the device with the right parameters', async (t) => {
  const d = await startOnvifSimulator({ address: '127.21.0.1', vendor: 'hikvision', password: creds.password })
  const c = new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.teardown(async () => {
    c.close()
    await d.close()
  })
  const profile = 'Profile_1'

  await c.continuousMove(profile, { pan: 0.5, tilt: -0.25 }, 1500)
  t.same(d.ptzVelocity, { pan: 0.5, tilt: -0.25, zoom: 0 })
  await c.stop(profile)
  t.same(d.ptzVelocity, { pan: 0, tilt: 0, zoom: 0 })
  const afterMove = d.ptzPosition
  t.ok(afterMove.pan > 0 && afterMove.tilt < 0, 'the move had an effect')

  await c.relativeZoom(profile, 0.2)
  t.ok(Math.abs(d.ptzPosition.zoom - 0.2) < 1e-9)

  const presets = await c.getPresets(profile)
  t.same(presets.map((p) => [p.token, p.name]), [
    ['1', 'Gate'],
    ['2', 'Parking'],
  ])
  t.same(presets[1]!.position, { pan: 0.4, tilt: -0.2, zoom: 0.3 })

  await c.gotoPreset(profile, '1', { pan: 1, tilt: 1 })
  t.same(d.ptzPosition, { pan: -0.5, tilt: 0.1, zoom: 0 })

  const tok = await c.setPreset(profile, { name: 'Lobby <east>' })
  t.equal(tok, '3')
  t.ok(d.presets.some((p) => p.token === '3' && p.name === 'Lobby <east>'), 'name escaped and stored verbatim')

  const calls = d.ptzCalls()
  t.same(
    calls.map((x) => x.action),
    ['ContinuousMove', 'Stop', 'RelativeMove', 'GetPresets', 'GotoPreset', 'SetPreset'],
  )
  t.ok(calls.every((x) => x.authenticated))
  t.equal(calls[0]!.path, '/onvif/PTZ', 'sent to the PTZ service XAddr')
  t.match(calls[0]!.params, { ProfileToken: 'Profile_1', Timeout: 'PT1.5S' })
  t.match(calls[2]!.params, { Translation: { Zoom: { '@_x': '0.2' } } })
  t.match(calls[4]!.params, { PresetToken: '1' })

  const e = await c.gotoPreset(profile, '99').catch((x: unknown) => x)
  t.type(e, OnvifFaultError)
  t.same((e as OnvifFaultError).subcodes, ['ter:InvalidArgVal', 'ter:NoToken'])

  await t.rejects(c.continuousMove(profile, { pan: 2 }), RangeError)
  await t.rejects(c.continuousMove(profile, { pan: Number.NaN }), RangeError)
  t.equal(d.ptzCalls().length, calls.length + 1, 'invalid velocities never reached the device')
})

t.test('a camera without PTZ says not supported', async (t) => {
  const d = await startOnvifSimulator({ address: '127.21.0.2', vendor: 'axis', password: creds.password })
  const c = new OnvifClient({ xaddr: d.xaddr, ...creds, timeoutMs: 2000 })
  t.teardown(async () => {
    c.close()
    await d.close()
  })
  await t.rejects(c.continuousMove('profile_1_h264', { pan: 0.1 }), OnvifNotSupportedError)
  t.equal(d.ptzCalls().length, 0)
})
