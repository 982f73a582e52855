/**
 * Named errors of the gateway. Services throw these; the single HTTP error handler maps each
 * to a status and an application/problem+json body. Anything else is a 500 whose text is hidden.
 */

export interface FieldProblem {
  /** JSON-pointer-ish path of the offending field, e.g. `body.unitId` or `query.cursor` */
  field: string
  message: string
  /** CSV import: 1-based line number in the uploaded file */
  line?: number
}

export abstract class GatewayError extends Error {
  abstract readonly status: number
  abstract readonly code: string
  readonly fields: FieldProblem[]
  readonly extra: Record<string, unknown>
  constructor(message: string, fields: FieldProblem[] = [], extra: Record<string, unknown> = {}) {
    super(message)
    this.name = new.target.name
    this.fields = fields
    this.extra = extra
  }
}

/** 400: the request itself is malformed or a field is invalid. */
export class ValidationError extends GatewayError {
  readonly status = 400
  readonly code = 'validation'
  static field(field: string, message: string): ValidationError {
    return new ValidationError(`${field}: ${message}`, [{ field, message }])
  }
}

/** 422: well-formed input whose content cannot be accepted (e.g. CSV rows that fail validation). */
export class UnprocessableError extends GatewayError {
  readonly status = 422
  readonly code = 'unprocessable'
}

/**
 * 422: a URI names an address the camera address policy (cameras.allowedCidrs) refuses: loopback,
 * link-local, the gateway itself, or outside the camera networks.
 */
export class AddressNotAllowedError extends GatewayError {
  readonly status = 422
  readonly code = 'address_not_allowed'
}

/** 401: no credentials, or credentials that do not identify a user. */
export class UnauthenticatedError extends GatewayError {
  readonly status = 401
  readonly code = 'unauthenticated'
}

/** 403: authenticated and in scope, but the role does not allow the action. */
export class ForbiddenError extends GatewayError {
  readonly status = 403
  readonly code: string = 'forbidden'
}

/**
 * 404: does not exist, or exists outside the caller's org subtree. The two are deliberately
 * indistinguishable so that scoping does not leak which ids exist.
 */
export class NotFoundError extends GatewayError {
  readonly status = 404
  readonly code = 'not_found'
  constructor(what: string, id?: string | number) {
    super(id === undefined ? `${what} not found` : `${what} ${id} not found`)
  }
}

/** 409: the request conflicts with current state (duplicate, still in use, illegal transition). */
export class ConflictError extends GatewayError {
  readonly status = 409
  readonly code: string = 'conflict'
}

/** 413: the request body (an upload) is larger than the route accepts. */
export class PayloadTooLargeError extends GatewayError {
  readonly status = 413
  readonly code = 'body_too_large'
  static field(field: string, message: string): PayloadTooLargeError {
    return new PayloadTooLargeError(`${field}: ${message}`, [{ field, message }])
  }
}

/** 415: the body is not of a type the route accepts (e.g. an image that is not PNG, JPEG or WebP). */
export class UnsupportedMediaTypeError extends GatewayError {
  readonly status = 415
  readonly code = 'unsupported_media_type'
  static field(field: string, message: string): UnsupportedMediaTypeError {
    return new UnsupportedMediaTypeError(`${field}: ${message}`, [{ field, message }])
  }
}

/** 429: too many requests; `retryAfterSeconds` goes into the Retry-After header. */
export class TooManyRequestsError extends GatewayError {
  readonly status = 429
  readonly code: string = 'too_many_requests'
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message)
  }
}

/** 502/504 family: a camera or other upstream failed. The message must already be redacted. */
export class UpstreamError extends GatewayError {
  readonly status: number = 502
  readonly code: string = 'upstream'
}

/** Start-up configuration error: names the key and stops the process. */
export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`config ${key}: ${message}`)
    this.name = 'ConfigError'
  }
}
