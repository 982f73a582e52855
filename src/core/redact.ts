/**
 * Removes credentials from text before it reaches a log line, an error or an API response.
 * Cameras hand out RTSP/HTTP URIs with `user:pass@` inside; ffmpeg and RTSP servers echo them back.
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::[^\s/@]*)?@/gi
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
