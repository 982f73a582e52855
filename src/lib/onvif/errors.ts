/**
 * Named failures of an ONVIF exchange. Callers branch on the class, never on message text.
 * Messages carry the endpoint without user info and never a username or password.
 */

export interface OnvifErrorOptions {
  /** device or service URL, already stripped of user info */
  endpoint?: string
  /** SOAP action or operation name, e.g. `GetProfiles` */
  operation?: string
  cause?: unknown
}

export class OnvifError extends Error {
  readonly endpoint: string | undefined
  readonly operation: string | undefined
  constructor(message: string, opts: OnvifErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = new.target.name
    this.endpoint = opts.endpoint
    this.operation = opts.operation
  }
}

/** The device refused the credentials (wrong user/password, or a digest it considers stale). */
export class OnvifAuthError extends OnvifError {
  readonly httpStatus: number | undefined
  /** the SOAP fault behind the refusal, when the device sent one */
  readonly fault: SoapFault | undefined
  constructor(message: string, opts: OnvifErrorOptions & { httpStatus?: number; fault?: SoapFault } = {}) {
    super(message, opts)
    this.httpStatus = opts.httpStatus
    this.fault = opts.fault
  }
}

/** No complete reply within the deadline (connect + request + whole response). */
export class OnvifTimeoutError extends OnvifError {
  readonly timeoutMs: number
  constructor(message: string, opts: OnvifErrorOptions & { timeoutMs: number }) {
    super(message, opts)
    this.timeoutMs = opts.timeoutMs
  }
}

/** The TCP connection could not be made or was reset before any reply. */
export class OnvifUnreachableError extends OnvifError {
  /** errno code from the socket layer, e.g. `ECONNREFUSED` */
  readonly code: string | undefined
  constructor(message: string, opts: OnvifErrorOptions & { code?: string } = {}) {
    super(message, opts)
    this.code = opts.code
  }
}

export type OnvifProtocolProblem =
  | 'too-large'
  | 'dtd-or-entity'
  | 'malformed-xml'
  | 'not-soap'
  | 'unexpected-reply'
  | 'http-status'
  | 'truncated'

/** The device answered, but not with something we can safely use. */
export class OnvifProtocolError extends OnvifError {
  readonly problem: OnvifProtocolProblem
  readonly httpStatus: number | undefined
  constructor(message: string, opts: OnvifErrorOptions & { problem: OnvifProtocolProblem; httpStatus?: number }) {
    super(message, opts)
    this.problem = opts.problem
    this.httpStatus = opts.httpStatus
  }
}

export interface SoapFault {
  soapVersion: '1.1' | '1.2'
  /** normalised QName, e.g. `env:Sender`, `env:Receiver` (SOAP 1.1 `Client`/`Server` are mapped to these) */
  code: string
  /** subcode chain, outermost first, normalised: `ter:NotAuthorized`, `ter:InvalidArgVal`, `ter:NoProfile` */
  subcodes: string[]
  reason: string
  /** text content of the Detail element, if any (trimmed, at most 500 chars) */
  detail: string | undefined
  /** normalised names of the Detail's child elements, e.g. `wsrf-rw:ResourceUnknownFault` */
  detailTypes: string[]
  httpStatus: number
}

/** The device answered with a SOAP fault that is not an auth refusal nor "not supported". */
export class OnvifFaultError extends OnvifError {
  readonly fault: SoapFault
  constructor(message: string, opts: OnvifErrorOptions & { fault: SoapFault }) {
    super(message, opts)
    this.fault = opts.fault
  }
  get code(): string {
    return this.fault.code
  }
  get subcodes(): string[] {
    return this.fault.subcodes
  }
  get reason(): string {
    return this.fault.reason
  }
  get httpStatus(): number {
    return this.fault.httpStatus
  }
}

/** The device does not offer the service or action (no XAddr, ter:ActionNotSupported, HTTP 404 …). */
export class OnvifNotSupportedError extends OnvifError {
  readonly fault: SoapFault | undefined
  constructor(message: string, opts: OnvifErrorOptions & { fault?: SoapFault } = {}) {
    super(message, opts)
    this.fault = opts.fault
  }
}

/** The device no longer knows the event subscription (expired, or dropped by a reboot); create a new one. */
export class OnvifSubscriptionGoneError extends OnvifError {
  readonly fault: SoapFault | undefined
  constructor(message: string, opts: OnvifErrorOptions & { fault?: SoapFault } = {}) {
    super(message, opts)
    this.fault = opts.fault
  }
}
