import { redactUrl } from './url.js'

/** Base of all RTSP client errors. Messages are redacted: no `user:pass@` ever survives. */
export class RtspError extends Error {
  override name = 'RtspError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(redactUrl(message), options)
  }
}

/** The TCP connection could not be opened or was lost (refused, unreachable, reset, closed). */
export class RtspConnectionError extends RtspError {
  override name = 'RtspConnectionError'
  /** Node's errno code when there is one (ECONNREFUSED, EHOSTUNREACH, ENOTFOUND…). */
  readonly code: string | undefined
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options)
    this.code = options?.code
  }
}

export type RtspTimeoutPhase = 'connect' | 'request' | 'no-data'

/** Something did not happen in time: the TCP connect, a response, or media data. */
export class RtspTimeoutError extends RtspError {
  override name = 'RtspTimeoutError'
  constructor(
    message: string,
    readonly phase: RtspTimeoutPhase,
  ) {
    super(message)
  }
}

/** Media stopped: no RTP/RTCP for longer than the watchdog allows while playing. */
export class RtspNoDataError extends RtspTimeoutError {
  override name = 'RtspNoDataError'
  constructor(message: string) {
    super(message, 'no-data')
  }
}

/** Credentials missing, rejected (401 after they were sent) or of an unsupported scheme. */
export class RtspAuthError extends RtspError {
  override name = 'RtspAuthError'
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

/** The server answered something we cannot understand or use. */
export class RtspProtocolError extends RtspError {
  override name = 'RtspProtocolError'
}

/** A well-formed non-success response other than an auth failure (404, 454, 461, 503…). */
export class RtspStatusError extends RtspError {
  override name = 'RtspStatusError'
  constructor(
    readonly method: string,
    readonly status: number,
    readonly statusText: string,
    url: string,
  ) {
    super(`${method} ${url} failed: ${status} ${statusText}`)
  }
}

export type RtspUdpFailure = 'bind' | 'no-data'

/**
 * The UDP transport is unusable: no client port pair could be bound ('bind'), or nothing came
 * from the camera over UDP in the window after PLAY ('no-data': a firewall or NAT in the way).
 * The RTSP session itself may be fine: retry with `transport: 'tcp'`.
 */
export class RtspUdpUnavailableError extends RtspError {
  override name = 'RtspUdpUnavailableError'
  constructor(
    message: string,
    readonly reason: RtspUdpFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
