import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { buildGateway, type Gateway } from '../../src/app.js'
import { loadConfig, type GatewayConfig } from '../../src/core/config.js'
import { DEMO_PASSWORD } from '../../src/features/demo/index.js'

export const ADMIN_PASSWORD = 'test-root-password'
/** cameras.allowedCidrs of test gateways: the default ranges plus loopback, where test cameras run */
export const TEST_CAMERA_CIDRS = [...loadConfig({ env: {} }).cameras.allowedCidrs, '127.0.0.0/8', '::1/128']
export { DEMO_PASSWORD }

export interface TestGateway extends Gateway {
  dataDir: string
  /** signs in and returns the bearer token */
  login(username: string, password?: string): Promise<string>
  /** inject with a bearer token */
  as(token: string): Injector
  /** closes and reopens on the same data dir (restart test) */
  restart(): Promise<TestGateway>
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
export interface Injector {
  request(method: Method, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ statusCode: number; json: any; body: string; headers: Record<string, unknown> }>
  get(url: string): ReturnType<Injector['request']>
  post(url: string, body?: unknown): ReturnType<Injector['request']>
  patch(url: string, body?: unknown): ReturnType<Injector['request']>
  delete(url: string): ReturnType<Injector['request']>
}

export interface StartOptions {
  demo?: boolean
  overrides?: Record<string, unknown>
  dataDir?: string
  env?: Record<string, string>
}

/**
 * A real gateway on a temporary SQLite file, with a known admin password. Closed and its data
 * removed on teardown.
 */
export async function startTestGateway(t: Test, options: StartOptions = {}): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gw-test-'))
  const env = { GW_ADMIN_PASSWORD: ADMIN_PASSWORD, ...(options.env ?? {}) }
  const config: GatewayConfig = loadConfig({
    env: {},
    // The test cameras (GStreamer's RTSP server, the ONVIF simulator, tests' own listeners) run on
    // loopback: allowed explicitly, as an admin would. A test of the default policy overrides cameras.
    overrides: { dataDir, demo: options.demo ?? true, log: { level: 'silent' }, http: { port: 0 }, cameras: { allowedCidrs: TEST_CAMERA_CIDRS }, ...(options.overrides ?? {}) },
  })
  const gateway = await buildGateway(config, { env })
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await gateway.close()
  }
  const tg: TestGateway = {
    ...gateway,
    dataDir,
    close,
    async login(username, password) {
      const res = await gateway.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: password ?? (username === 'admin' ? ADMIN_PASSWORD : DEMO_PASSWORD) } })
      if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`)
      return (res.json() as { token: string }).token
    },
    as(token) {
      return injector(gateway, token)
    },
    async restart() {
      await close()
      return startTestGateway(t, { ...options, dataDir })
    },
  }
  t.teardown(async () => {
    await close()
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
  })
  return tg
}

export function injector(gateway: Gateway, token: string | null): Injector {
  const request: Injector['request'] = async (method, url, body, headers = {}) => {
    const res = await gateway.app.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(body === undefined ? {} : typeof body === 'string' || Buffer.isBuffer(body) ? { payload: body } : { payload: body as object }),
    })
    let json: unknown
    try {
      json = res.body ? JSON.parse(res.body) : undefined
    } catch {
      json = undefined
    }
    return { statusCode: res.statusCode, json, body: res.body, headers: res.headers as Record<string, unknown> }
  }
  return {
    request,
    get: (url) => request('GET', url),
    post: (url, body) => request('POST', url, body),
    patch: (url, body) => request('PATCH', url, body),
    delete: (url) => request('DELETE', url),
  }
}
