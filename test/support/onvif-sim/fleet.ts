/** Many simulated cameras in one process, each on its own 127.x.y.z address. */
import { intToIpv4, ipv4ToInt } from '../../../src/lib/wsdiscovery/cidr.js'
import type { DiscoveryOptions } from './discovery.js'
import { SimulatedDevice, type OnvifSimulatorOptions } from './device.js'
import type { VendorName } from './vendors.js'

export interface FleetOptions {
  count: number
  /** address of the first device; the next ones follow (127.0.0.0/8 only), default 127.0.10.1 */
  firstAddress?: string
  /** assigned round-robin, default all four */
  vendors?: VendorName[]
  /** discovery for every device; default: unicast only on port 3702 */
  discovery?: DiscoveryOptions | false
  /** options shared by every device */
  device?: Omit<OnvifSimulatorOptions, 'address' | 'discovery' | 'vendor'>
  /** per-device overrides */
  perDevice?: (index: number) => Partial<OnvifSimulatorOptions>
  /** devices started at once, default 25 */
  startConcurrency?: number
}

export class OnvifSimulatorFleet {
  readonly devices: SimulatedDevice[]
  #closed: Promise<void> | undefined

  private constructor(devices: SimulatedDevice[]) {
    this.devices = devices
  }

  static async start(opts: FleetOptions): Promise<OnvifSimulatorFleet> {
    if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 1000) throw new RangeError('count must be 1..1000')
    const first = ipv4ToInt(opts.firstAddress ?? '127.0.10.1')
    const last = first + opts.count - 1
    if (first >>> 24 !== 127 || last >>> 24 !== 127) throw new RangeError('fleet addresses must stay inside 127.0.0.0/8')
    const vendors = opts.vendors ?? (['hikvision', 'dahua', 'axis', 'uniview'] as VendorName[])
    const discovery = opts.discovery === undefined ? {} : opts.discovery
    const started: SimulatedDevice[] = new Array(opts.count)
    const batch = Math.max(1, opts.startConcurrency ?? 25)
    try {
      for (let i = 0; i < opts.count; i += batch) {
        const idx = Array.from({ length: Math.min(batch, opts.count - i) }, (_, k) => i + k)
        await Promise.all(
          idx.map(async (n) => {
            const address = intToIpv4(first + n)
            started[n] = await SimulatedDevice.start({
              ...opts.device,
              address,
              vendor: vendors[n % vendors.length]!,
              name: `Sim ${vendors[n % vendors.length]} ${n + 1}`,
              discovery,
              ...opts.perDevice?.(n),
            })
          }),
        )
      }
    } catch (e) {
      await Promise.all(started.filter(Boolean).map((d) => d.close()))
      throw e
    }
    return new OnvifSimulatorFleet(started)
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.#closed ??= Promise.all(this.devices.map((d) => d.close())).then(() => undefined)
    return this.#closed
  }
}
