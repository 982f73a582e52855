import { ConflictError, GatewayError, ValidationError, type FieldProblem } from '../../core/errors.js'
import { requireRole } from '../../core/http/guard.js'
import { scopeOf, type Principal } from '../../core/scope.js'
import type { ConnectGuard } from '../../lib/net/index.js'
import { OnvifClient, OnvifFaultError, type PtzPreset } from '../../lib/onvif/index.js'
import type { AuditLog } from '../audit/index.js'
import { deviceError, type AddressPolicy } from '../discovery/index.js'
import type { OrgService } from '../org/index.js'
import type { Camera, CameraCredentials, PtzFeatures, RegistryService } from '../registry/index.js'

/**
 * 409 ptz_feature_missing: the camera's PTZ head lacks what the request needs (its PTZ node has no
 * such space, or no presets); `missing` names it: continuous_pan_tilt, continuous_zoom,
 * relative_zoom or presets.
 */
export class PtzFeatureMissingError extends GatewayError {
  readonly status = 409
  readonly code = 'ptz_feature_missing'
}

/**
 * 422 ptz_rejected: the camera refused a value the caller gave (an unknown preset token, a preset
 * name it does not take); the field names it. Not a camera fault: the same request fails again.
 */
export class PtzRejectedError extends GatewayError {
  readonly status = 422
  readonly code = 'ptz_rejected'
}

/** ONVIF PTZ fault subcodes that mean "your argument", and which request field carried it. */
const CALLER_FAULTS: Record<string, { field: string; message: string }> = {
  'ter:NoToken': { field: 'params.token', message: 'the camera has no preset with this token' },
  'ter:NoPreset': { field: 'params.token', message: 'the camera has no preset with this token' },
  'ter:InvalidPresetName': { field: 'body.name', message: 'the camera does not take this preset name (too long, or characters it refuses)' },
  'ter:PresetExist': { field: 'body.name', message: 'the camera already has a preset with this name' },
}

function callerFault(e: unknown): PtzRejectedError | undefined {
  if (!(e instanceof OnvifFaultError)) return undefined
  for (const sub of e.subcodes) {
    const f = CALLER_FAULTS[sub]
    if (f) return new PtzRejectedError(`${f.field}: ${f.message} (${e.reason || sub})`, [{ field: f.field, message: f.message }], { subcode: sub })
  }
  return undefined
}

/** a continuous move without a timeout stops after this long (the longest the API accepts) */
export const MAX_MOVE_MS = 60_000

type Log = { warn(obj: object, msg: string): void }

/**
 * PTZ for video patrol: continuous move/stop, relative zoom, presets. Every call finds the camera
 * in the caller's scope first (404 outside it), then checks the role (403), then the camera's PTZ
 * capability (409), then its address against discovery.allowedCidrs. Requests carry the stored
 * clock offset so the WS-UsernameToken is built on the camera's clock.
 *
 * A continuous move asks the camera to stop after its Timeout, and the gateway sends Stop itself
 * when that time has passed (and on close): cameras that ignore Timeout keep turning otherwise.
 */
export class PtzService {
  readonly #registry: RegistryService
  readonly #audit: AuditLog
  readonly #org: OrgService
  readonly #policy: AddressPolicy
  readonly #timeoutMs: number
  readonly #connectGuard: ConnectGuard | undefined
  readonly #log: Log | undefined
  /** cameras moving continuously: the Stop the gateway owes each when its timeout passes */
  readonly #moving = new Map<number, NodeJS.Timeout>()
  #closing: Promise<void> | undefined

  /** @param deps.connectGuard the camera address policy (cameras.allowedCidrs), checked at every connect */
  constructor(deps: { registry: RegistryService; audit: AuditLog; org: OrgService; policy: AddressPolicy; timeoutMs: number; connectGuard?: ConnectGuard; log?: Log }) {
    this.#connectGuard = deps.connectGuard
    this.#registry = deps.registry
    this.#audit = deps.audit
    this.#org = deps.org
    this.#policy = deps.policy
    this.#timeoutMs = deps.timeoutMs
    this.#log = deps.log
  }

  /** Stops every camera still moving on the gateway's behalf (bounded by the ONVIF timeout). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const ids = [...this.#moving.keys()]
      for (const t of this.#moving.values()) clearTimeout(t)
      this.#moving.clear()
      await Promise.allSettled(ids.map((id) => this.#stopOwed(id)))
    })()
    return this.#closing
  }

  #owe(cameraId: number, afterMs: number): void {
    clearTimeout(this.#moving.get(cameraId))
    if (this.#closing) return
    const t = setTimeout(() => {
      this.#moving.delete(cameraId)
      void this.#stopOwed(cameraId)
    }, afterMs)
    t.unref()
    this.#moving.set(cameraId, t)
  }

  #settle(cameraId: number): void {
    clearTimeout(this.#moving.get(cameraId))
    this.#moving.delete(cameraId)
  }

  /** The Stop of a move whose time is up: on the system's behalf (the caller may be gone); failures are logged. */
  async #stopOwed(cameraId: number): Promise<void> {
    try {
      const target = this.#registry.getEnabledForSystem(cameraId)
      const profile = target?.camera.streams.main?.profileToken ?? target?.camera.streams.sub?.profileToken
      if (!target?.camera.onvifUrl || !profile) return
      const client = await this.#client(target.camera, target.credentials)
      try {
        await client.stop(profile, { panTilt: true, zoom: true })
      } finally {
        client.close()
      }
    } catch (err) {
      this.#log?.warn({ cameraId, err }, 'PTZ stop after the move timeout failed: the camera may still be moving')
    }
  }

  async #with<T>(
    actor: Principal,
    id: number,
    roles: ('admin' | 'technician' | 'patrol')[],
    fn: (c: OnvifClient, profile: string, camera: Camera) => Promise<T>,
    needs: (f: PtzFeatures) => { missing: string; field: string; message: string } | undefined = () => undefined,
  ): Promise<T> {
    const { camera, credentials } = this.#registry.getForUse(scopeOf(actor), id)
    requireRole(actor, ...roles)
    if (!camera.capabilities.ptz) throw new ConflictError(`camera ${id} has no PTZ`)
    // null: not known (registered by hand, or the camera did not say): the camera decides
    const lack = camera.capabilities.ptzFeatures ? needs(camera.capabilities.ptzFeatures) : undefined
    if (lack) {
      const fields: FieldProblem[] = [{ field: lack.field, message: lack.message }]
      throw new PtzFeatureMissingError(`camera ${id}: ${lack.message}`, fields, { missing: lack.missing })
    }
    if (!camera.onvifUrl) throw new ConflictError(`camera ${id} has no ONVIF address`)
    const profile = camera.streams.main?.profileToken ?? camera.streams.sub?.profileToken
    if (!profile) throw new ConflictError(`camera ${id} has no media profile token; refresh it first`)
    const client = await this.#client(camera, credentials)
    try {
      return await fn(client, profile, camera)
    } catch (e) {
      throw callerFault(e) ?? deviceError(e, 'credentials')
    } finally {
      client.close()
    }
  }

  async #client(camera: Camera, credentials: CameraCredentials | null): Promise<OnvifClient> {
    const url = new URL(camera.onvifUrl!)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    try {
      url.hostname = await this.#policy.resolve(host, 'onvifUrl')
    } catch (e) {
      // the stored address, not the request, is at fault (e.g. discovery.allowedCidrs narrowed since)
      if (e instanceof ValidationError) throw new ConflictError(`camera ${camera.id}: ${e.fields[0]?.message ?? e.message}`)
      throw e
    }
    return new OnvifClient({
      xaddr: url.href,
      username: credentials?.username,
      password: credentials?.password,
      timeoutMs: this.#timeoutMs,
      clockOffsetMs: camera.clockOffsetMs ?? undefined,
      connectGuard: this.#connectGuard,
    })
  }

  async move(actor: Principal, id: number, v: { pan?: number; tilt?: number; zoom?: number; timeoutMs?: number }): Promise<void> {
    if (!v.pan && !v.tilt && !v.zoom) throw ValidationError.field('body', 'give a non-zero pan, tilt or zoom velocity (use /ptz/stop to stop)')
    const timeoutMs = v.timeoutMs ?? MAX_MOVE_MS
    await this.#with(actor, id, ['patrol', 'admin', 'technician'], async (c, p) => {
      await c.continuousMove(p, { ...(v.pan !== undefined ? { pan: v.pan } : {}), ...(v.tilt !== undefined ? { tilt: v.tilt } : {}), ...(v.zoom !== undefined ? { zoom: v.zoom } : {}) }, timeoutMs)
      this.#owe(id, timeoutMs)
    }, (f) => {
      if ((v.pan || v.tilt) && !f.panTilt.continuous) return { missing: 'continuous_pan_tilt', field: v.pan ? 'body.pan' : 'body.tilt', message: 'the camera cannot pan or tilt (its PTZ node has no continuous pan/tilt space)' }
      if (v.zoom && !f.zoom.continuous) return { missing: 'continuous_zoom', field: 'body.zoom', message: 'the camera cannot zoom (its PTZ node has no continuous zoom space)' }
      return undefined
    })
  }

  async stop(actor: Principal, id: number): Promise<void> {
    await this.#with(actor, id, ['patrol', 'admin', 'technician'], async (c, p) => {
      await c.stop(p, { panTilt: true, zoom: true })
      this.#settle(id)
    })
  }

  async zoom(actor: Principal, id: number, delta: number): Promise<void> {
    await this.#with(actor, id, ['patrol', 'admin', 'technician'], (c, p) => c.relativeZoom(p, delta), (f) =>
      f.zoom.relative ? undefined : { missing: 'relative_zoom', field: 'body.delta', message: 'the camera cannot zoom in steps (its PTZ node has no relative zoom space)' },
    )
  }

  async presets(actor: Principal, id: number): Promise<PtzPreset[]> {
    return this.#with(actor, id, ['patrol', 'admin', 'technician'], (c, p) => c.getPresets(p), noPresets('params.id'))
  }

  async gotoPreset(actor: Principal, id: number, token: string): Promise<void> {
    await this.#with(actor, id, ['patrol', 'admin', 'technician'], (c, p) => c.gotoPreset(p, token), noPresets('params.token'))
  }

  async setPreset(actor: Principal, id: number, name: string, client?: string): Promise<{ token: string }> {
    return this.#with(actor, id, ['admin', 'technician'], async (c, p, camera) => {
      const token = await c.setPreset(p, { name })
      this.#audit.record({ actor, action: 'camera.ptz_preset_set', target: { type: 'camera', id }, unitPath: this.#org.getUnscoped(camera.unitId)?.path, client, detail: { name, token } })
      return { token }
    }, noPresets('body.name'))
  }
}

const noPresets = (field: string) => (f: PtzFeatures) => (f.presets ? undefined : { missing: 'presets', field, message: 'the camera has no presets (its PTZ node holds none)' })
