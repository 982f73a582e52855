import type { AddressInfo } from 'node:net'
import { ConfigError } from '../../core/errors.js'
import { AddressPolicy, IpParseError, type Endpoint } from '../../lib/net/index.js'

/**
 * The camera address policy from `cameras.allowedCidrs`: the one policy every connection on a
 * camera's behalf passes (registry writes, snapshots, RTSP, ONVIF, discovery's interrogation,
 * PTZ, event subscriptions). A bad range stops start-up naming it.
 */
export function cameraAddressPolicy(settings: { allowedCidrs: readonly string[] }, ownListeners: () => Iterable<Endpoint>): AddressPolicy {
  try {
    return new AddressPolicy({ allowedCidrs: settings.allowedCidrs, ownListeners, settingName: 'cameras.allowedCidrs' })
  } catch (e) {
    if (e instanceof IpParseError) throw new ConfigError(`cameras.allowedCidrs.${(e as IpParseError & { index?: number }).index ?? 0}`, e.message)
    throw e
  }
}

/**
 * The gateway's own HTTP listener: where the server listens once it does, else where it is
 * configured to (port 0 means "any", known only once listening).
 */
export function ownListeners(server: { address(): AddressInfo | string | null }, configured: { host: string; port: number }): Endpoint[] {
  const bound = server.address()
  if (bound && typeof bound === 'object') return [{ address: bound.address, port: bound.port }]
  return configured.port ? [{ address: configured.host, port: configured.port }] : []
}
