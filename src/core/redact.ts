/**
 * Removes credentials from text before it reaches a log line, an error or an API response.
 * Cameras hand out RTSP/HTTP URIs with `user:pass@` inside; ffmpeg and RTSP servers echo them back.
 */
// Userinfo runs to the LAST @ before the path: technicians paste passwords with a raw @ in them.
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi
const KEY_VALUE_SECRET = /\b(password|passwd|pwd|secret|token)=([^&\s"']+)/gi

export function redact(text: string): string {
  return text
    .replace(URL_USERINFO, (_m, scheme: string) => `${scheme}***@`)
    .replace(KEY_VALUE_SECRET, (_m, key: string) => `${key}=***`)
}

/** Returns the URL without its userinfo part; leaves non-URLs untouched. */
export function stripUrlCredentials(url: string): string {
  try {
    const parsed = new URL(url)
    if (!parsed.username && !parsed.password) return url
    parsed.username = ''
    parsed.password = ''
    return parsed.toString()
  } catch {
    return redact(url)
  }
}

/**
 * A request URL for a log line: percent-decoded first, so that `rtsp%3A%2F%2Fuser%3Apass%40…` or
 * `password%3D…` in a query string is caught like its plain form.
 */
export function redactRequestUrl(url: string): string {
  let text: string
  try {
    text = decodeURIComponent(url)
  } catch {
    // a malformed escape elsewhere: decode the ASCII escapes, which are all a secret's separators need
    text = url.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  }
  // ONVIF push consumer URLs carry their credential, the subscription token, in the path
  return redact(text.replace(/(\/onvif\/notify\/)[^/?#]+/g, '$1***'))
}
