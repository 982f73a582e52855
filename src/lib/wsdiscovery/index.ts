/**
 * WS-Discovery for ONVIF devices: Probe/ProbeMatches codec, multicast prober, unicast CIDR sweeper.
 * Implemented here rather than with the `onvif` package's Discovery (see src/lib/onvif/index.ts).
 */
export { CidrError, cidrContains, cidrHosts, hostCount, intToIpv4, ipv4ToInt, parseCidr, type Cidr } from './cidr.js'
export type { DiscoveredDevice } from './collector.js'
export { MulticastProbe, probeMulticast, type MulticastProbeOptions, type MulticastProbeResult } from './multicast.js'
export {
  buildProbe,
  DEFAULT_PROBE_TYPES,
  MAX_PROBE_REPLY_BYTES,
  parseProbeMatches,
  parseScopes,
  WSD_MULTICAST_ADDRESS,
  WSD_PORT,
  type BuiltProbe,
  type ParsedProbeMatches,
  type ProbeMatch,
  type ScopeInfo,
} from './probe.js'
export { MAX_SWEEP_PREFIX, planSweep, sweepUnicast, UnicastSweep, type UnicastSweepOptions, type UnicastSweepResult } from './unicast.js'
