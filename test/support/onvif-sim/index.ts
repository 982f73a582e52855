/**
 * ONVIF camera simulator for tests and demos. Not part of the gateway; never imported from src/.
 *   const sim = await startOnvifSimulator({ address: '127.0.20.1', vendor: 'dahua', password: 'pw' })
 *   sim.emitMotion(true); sim.setFault({ kind: 'delay', ms: 3000 }); await sim.close()
 */
export {
  SimulatedDevice,
  startOnvifSimulator,
  type FaultMode,
  type OnvifSimulatorOptions,
  type RecordedCall,
  type SimEvent,
} from './device.js'
export { DiscoveryResponder, type DiscoveryOptions } from './discovery.js'
export { OnvifSimulatorFleet, type FleetOptions } from './fleet.js'
export { DARK_JPEG, LIVE_JPEGS } from './jpeg.js'
export { VENDORS, type VendorName, type VendorProfile } from './vendors.js'
