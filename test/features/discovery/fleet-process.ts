/**
 * A fleet of simulated ONVIF devices in its own process, so that replies are parsed by the gateway
 * under test without the simulators competing for the same event loop (as separate cameras would).
 * argv: count firstAddress [multicastInterface|-] [maxReplyDelayMs] [password] [mainUri] [subUri]
 * Prints one JSON line with the devices once they listen; exits when stdin closes.
 */
import { OnvifSimulatorFleet } from '../../support/onvif-sim/index.js'

if (process.argv.length < 4) process.exit(0) // run directly by a test runner: nothing to do
const [count = '10', firstAddress = '127.41.0.1', iface = '-', delay = '30', password = 'admin123', main, sub] = process.argv.slice(2)
const fleet = await OnvifSimulatorFleet.start({
  count: Number(count),
  firstAddress,
  discovery: { ...(iface !== '-' ? { multicastInterface: iface } : {}), maxReplyDelayMs: Number(delay) },
  device: { password, ...(main ? { mainStreamUri: main } : {}), ...(sub ? { subStreamUri: sub } : {}) },
})
process.stdout.write(JSON.stringify({ devices: fleet.devices.map((d) => ({ uuid: d.uuid, xaddr: d.xaddr, address: d.address, name: d.name })) }) + '\n')
process.stdin.resume()
process.stdin.on('end', () => void fleet.close().then(() => process.exit(0)))
process.on('SIGTERM', () => void fleet.close().then(() => process.exit(0)))
