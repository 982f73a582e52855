import { ValidationError } from '../errors.js'

/**
 * Opaque pagination cursors: base64url of `<kind>:<id>`. The kind stops a cursor from one list
 * being replayed against another; anything that does not decode is a 400 naming `query.cursor`.
 */
export function encodeCursor(kind: string, id: number): string {
  return Buffer.from(`${kind}:${id}`).toString('base64url')
}

export function decodeCursor(kind: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(raw) ? Buffer.from(raw, 'base64url').toString('utf8') : ''
  const match = /^([a-z]+):(\d{1,15})$/.exec(text)
  if (!match || match[1] !== kind) throw ValidationError.field('query.cursor', 'is not a cursor this list issued')
  return Number(match[2])
}
