/**
 * Simulated ONVIF cameras for demos and manual testing, plus a discovery client to find them.
 *
 *   npx tsx scripts/onvif-sim.ts serve --count 8 --password demo123 --rtsp-main rtsp://127.0.0.1:8554/main
 *   npx tsx scripts/onvif-sim.ts discover --sweep 127.0.10.0/27
 *   npx tsx scripts/onvif-sim.ts discover --interface 127.0.0.1        (needs serve --multicast-if 127.0.0.1)
 *
 * Devices bind 127.x.y.z addresses only (each its own, so each can own UDP 3702). Multicast on the
 * loopback works when both sides pin the interface to 127.0.0.1, as these commands do.
 */
import { parseArgs } from 'node:util'
import { probeMulticast, sweepUnicast, type DiscoveredDevice } from '../src/lib/wsdiscovery/index.js'
import { OnvifSimulatorFleet, type VendorName } from '../test/support/onvif-sim/index.js'

const HELP = `usage:
  onvif-sim serve [--count N] [--first 127.0.10.1] [--vendors hikvision,dahua,axis,uniview]
                  [--username admin] [--password admin123] [--skew SECONDS]
                  [--rtsp-main URL] [--rtsp-sub URL] [--multicast-if 127.0.0.1]
                  [--discovery-port 3702] [--no-discovery] [--json]
  onvif-sim discover (--interface 127.0.0.1 | --sweep CIDR[,CIDR]) [--window-ms 2000] [--json]
`

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${HELP}`)
  process.exit(2)
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '4' },
      first: { type: 'string', default: '127.0.10.1' },
      vendors: { type: 'string', default: 'hikvision,dahua,axis,uniview' },
      username: { type: 'string', default: 'admin' },
      password: { type: 'string', default: 'admin123' },
      skew: { type: 'string', default: '0' },
      'rtsp-main': { type: 'string' },
      'rtsp-sub': { type: 'string' },
      'multicast-if': { type: 'string' },
      'discovery-port': { type: 'string', default: '3702' },
      'no-discovery': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  const vendors = values.vendors.split(',').map((v) => v.trim()) as VendorName[]
  for (const v of vendors) if (!['hikvision', 'dahua', 'axis', 'uniview'].includes(v)) fail(`unknown vendor ${v}`)
  const count = Number(values.count)
  if (!Number.isInteger(count) || count < 1 || count > 1000) fail('--count must be 1..1000')
  const fleet = await OnvifSimulatorFleet.start({
    count,
    firstAddress: values.first,
    vendors,
    discovery: values['no-discovery']
      ? false
      : { port: Number(values['discovery-port']), ...(values['multicast-if'] ? { multicastInterface: values['multicast-if'] } : {}) },
    device: {
      username: values.username,
      password: values.password,
      clockSkewSec: Number(values.skew),
      ...(values['rtsp-main'] ? { mainStreamUri: values['rtsp-main'] } : {}),
      ...(values['rtsp-sub'] ? { subStreamUri: values['rtsp-sub'] } : {}),
    },
  })
  const rows = fleet.devices.map((d) => ({ vendor: d.vendor.name, model: d.vendor.model, address: d.address, xaddr: d.xaddr, uuid: d.uuid, name: d.name }))
  if (values.json) process.stdout.write(JSON.stringify(rows) + '\n')
  else {
    for (const r of rows) process.stdout.write(`${r.vendor.padEnd(10)} ${r.model.padEnd(20)} ${r.xaddr}  ${r.uuid}\n`)
    process.stdout.write(`\n${rows.length} device(s) up; user "${values.username}". Ctrl-C to stop.\n`)
  }
  const stop = async (): Promise<void> => {
    await fleet.close()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
}

async function discover(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      interface: { type: 'string' },
      sweep: { type: 'string' },
      'window-ms': { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
    },
  })
  const windowMs = Number(values['window-ms'])
  let devices: DiscoveredDevice[]
  if (values.sweep) {
    devices = (await sweepUnicast({ cidrs: values.sweep.split(','), windowMs, bindAddress: '127.0.0.1' })).devices
  } else if (values.interface) {
    devices = (await probeMulticast({ interfaceAddress: values.interface, windowMs })).devices
  } else fail('give --interface or --sweep')
  if (values.json) {
    process.stdout.write(JSON.stringify(devices.map((d) => ({ ...d, xaddrs: d.xaddrs.map((x) => x.url.href) }))) + '\n')
    return
  }
  for (const d of devices) {
    process.stdout.write(`${d.from.address.padEnd(15)} ${(d.scopeInfo.name ?? '?').padEnd(28)} ${d.xaddrs.map((x) => x.url.href).join(' ')}\n`)
  }
  process.stdout.write(`${devices.length} device(s) found\n`)
}

const [cmd, ...rest] = process.argv.slice(2)
if (cmd === 'serve' || cmd === undefined) await serve(rest)
else if (cmd === 'discover') await discover(rest)
else fail(`unknown command ${cmd}`)
