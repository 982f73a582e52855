import { UpstreamError } from '../../core/errors.js'
import { CameraHttpError, fetchCameraImage, type CameraImage, type ConnectGuard } from '../../lib/net/index.js'

/**
 * A camera's snapshot URI failed. Status and code are stable: 502 snapshot_too_large |
 * snapshot_not_image | snapshot_redirect | snapshot_failed | camera_auth_failed |
 * camera_unreachable, 504 snapshot_timeout, 409 address_not_allowed (the stored URI names an
 * address the camera policy refuses: fix the camera, not the request).
 */
export class SnapshotError extends UpstreamError {
  override readonly status: number
  override readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message, code === 'address_not_allowed' ? [{ field: 'snapshotUri', message }] : [])
    this.status = status
    this.code = code
  }
}

const MAPPING: Record<CameraHttpError['code'], [number, string]> = {
  too_large: [502, 'snapshot_too_large'],
  not_image: [502, 'snapshot_not_image'],
  redirect: [502, 'snapshot_redirect'],
  http_status: [502, 'snapshot_failed'],
  protocol: [502, 'snapshot_failed'],
  auth_failed: [502, 'camera_auth_failed'],
  unreachable: [502, 'camera_unreachable'],
  timeout: [504, 'snapshot_timeout'],
  address_not_allowed: [409, 'address_not_allowed'],
}

/** GET a camera's snapshot URI (ONVIF GetSnapshotUri), bounded in address, time, size and type (lib/net fetchCameraImage). */
export async function fetchSnapshot(uri: string, credentials: { username: string; password: string } | null, opts: { timeoutMs: number; maxBytes: number; connectGuard?: ConnectGuard | undefined }): Promise<CameraImage> {
  try {
    return await fetchCameraImage(uri, { credentials, timeoutMs: opts.timeoutMs, maxBytes: opts.maxBytes, ...(opts.connectGuard ? { guard: opts.connectGuard } : {}) })
  } catch (e) {
    if (!(e instanceof CameraHttpError)) throw e
    const [status, code] = MAPPING[e.code]
    throw new SnapshotError(status, code, `snapshot: ${e.message}`)
  }
}
