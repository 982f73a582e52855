/// <reference lib="dom" />
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../support/chromium.js'
import { projectRoot } from '../../src/core/paths.js'
import { DEMO_PASSWORD, startTestGateway, type StartOptions, type TestGateway } from '../support/gateway.js'

export { CHROMIUM_PATH as CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js'

export async function launchBrowser(t?: Test): Promise<Browser> {
  const browser = await launchChromium()
  t?.teardown(() => browser.close())
  return browser
}

/** A demo gateway listening on a real port, serving the built web application. */
export async function startWebGateway(t: Test, options: StartOptions = {}): Promise<{ gw: TestGateway; base: string }> {
  if (!existsSync(join(projectRoot, 'web', 'dist', 'index.html'))) throw new Error('web/dist is missing: run `bash scripts/build-web.sh` before the browser tests')
  const gw = await startTestGateway(t, options)
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const addr = gw.app.server.address()
  if (!addr || typeof addr === 'string') throw new Error('no listening address')
  return { gw, base: `http://127.0.0.1:${addr.port}` }
}

export async function newPage(browser: Browser, opts: { lang?: 'zh' | 'en'; width?: number; height?: number } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1600, height: opts.height ?? 900 }, locale: 'zh-CN', acceptDownloads: true })
  if (opts.lang) await context.addInitScript((lang) => localStorage.setItem('gw.lang', lang), opts.lang)
  return context.newPage()
}

/** Signs in through the login form and waits for the camera tree. */
export async function signIn(page: Page, base: string, username: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto(`${base}/`)
  await page.locator('input[name=username]').fill(username)
  await page.locator('input[name=password]').fill(password)
  await page.locator('form[data-testid=login-form] button[type=submit]').click()
  await page.locator('[data-testid=nav]').waitFor()
}
