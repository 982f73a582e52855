import { GatewayError, type FieldProblem } from '../../core/errors.js'
import {
  OnvifAuthError,
  OnvifError,
  OnvifFaultError,
  OnvifNotSupportedError,
  OnvifProtocolError,
  OnvifTimeoutError,
  OnvifUnreachableError,
} from '../../lib/onvif/index.js'
import { RefusedAddressError } from '../../lib/net/index.js'

/**
 * A camera exchange that failed, as the API reports it. Each cause has its own code, so a client
 * (and a technician) can tell a wrong password from a dead host from a broken firmware:
 *   422 camera_auth_failed   the camera refused the user name or password (field body.credentials.password)
 *   502 camera_unreachable   no TCP connection (refused, reset, no route)
 *   504 camera_timeout       no complete reply within discovery.onvifTimeoutMs
 *   502 camera_bad_reply     the reply was not usable SOAP (garbage, HTML, too large, DTD)
 *   502 camera_fault         a SOAP fault other than an auth refusal
 *   502 camera_not_supported the camera lacks the service or operation
 *   422/409 address_not_allowed  the address (as resolved) is refused by cameras.allowedCidrs: 422
 *                                when the request gave it, 409 when it is the camera's stored one
 */
export class CameraDeviceError extends GatewayError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    fields: FieldProblem[] = [],
    extra: Record<string, unknown> = {},
  ) {
    super(message, fields, extra)
  }
}

export function deviceError(e: unknown, credentialsField = 'body.credentials.password', addressField = 'onvifUrl'): unknown {
  if (e instanceof RefusedAddressError) {
    return new CameraDeviceError(addressField.startsWith('body.') ? 422 : 409, 'address_not_allowed', e.message, [{ field: addressField, message: e.refusal.message }], { reason: e.kind })
  }
  if (!(e instanceof OnvifError)) return e
  const where = e.endpoint ? ` (${e.endpoint}${e.operation ? `, ${e.operation}` : ''})` : ''
  if (e instanceof OnvifAuthError) {
    return new CameraDeviceError(422, 'camera_auth_failed', `the camera refused the user name or password${where}`, [{ field: credentialsField, message: 'wrong user name or password: the camera refused them' }], { reason: 'wrong_password', httpStatus: e.httpStatus ?? null })
  }
  if (e instanceof OnvifTimeoutError) return new CameraDeviceError(504, 'camera_timeout', `the camera did not answer within ${e.timeoutMs} ms${where}`, [], { reason: 'timeout', timeoutMs: e.timeoutMs })
  if (e instanceof OnvifUnreachableError) return new CameraDeviceError(502, 'camera_unreachable', `the camera cannot be reached${e.code ? ` (${e.code})` : ''}${where}`, [], { reason: 'unreachable', errno: e.code ?? null })
  if (e instanceof OnvifProtocolError) return new CameraDeviceError(502, 'camera_bad_reply', `the camera's reply is not usable ONVIF SOAP (${e.problem})${where}`, [], { reason: 'bad_reply', problem: e.problem, httpStatus: e.httpStatus ?? null })
  if (e instanceof OnvifNotSupportedError) return new CameraDeviceError(502, 'camera_not_supported', `the camera does not support this${where}: ${e.message}`, [], { reason: 'not_supported' })
  if (e instanceof OnvifFaultError) return new CameraDeviceError(502, 'camera_fault', `the camera answered with a fault: ${e.reason || e.code}${where}`, [], { reason: 'fault', faultCode: e.code, subcodes: e.subcodes })
  return new CameraDeviceError(502, 'camera_error', `${e.message}`, [], { reason: 'error' })
}

/** For job results: the same classification as a plain object. */
export function deviceErrorSummary(e: unknown): { status: number; code: string; message: string } {
  const mapped = deviceError(e)
  if (mapped instanceof GatewayError) return { status: mapped.status, code: mapped.code, message: mapped.message }
  return { status: 500, code: 'internal', message: 'internal error' }
}
