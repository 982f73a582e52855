/**
 * Finds and loads one of the project's native modules (native/<name>/build/<file>.node, built by
 * scripts/build-native.sh). Each is optional: callers keep a JavaScript path for when it is not
 * built (no C compiler) or fails to load, and report `reason`.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface NativeModuleLoad<T> {
  module: T | null
  /** "loaded <path>", or why not */
  reason: string
}

const cache = new Map<string, NativeModuleLoad<unknown>>()

/** The project root holds native/: this file sits at src/lib/native (tsx) or dist/src/lib/native. */
function find(relative: string): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, relative)
    if (existsSync(candidate)) return candidate
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  return undefined
}

/** Loads native/<name>/build/<file> once per process. */
export function loadNativeModule<T>(name: string, file: string): NativeModuleLoad<T> {
  const relative = join('native', name, 'build', file)
  const known = cache.get(relative)
  if (known) return known as NativeModuleLoad<T>
  let result: NativeModuleLoad<T>
  const path = find(relative)
  if (!path) {
    result = { module: null, reason: `${relative} is not built (scripts/build-native.sh)` }
  } else {
    try {
      result = { module: createRequire(import.meta.url)(path) as T, reason: `loaded ${path}` }
    } catch (err) {
      result = { module: null, reason: `${path} failed to load: ${(err as Error).message}` }
    }
  }
  cache.set(relative, result)
  return result
}
