/// <reference lib="dom" />
import t from 'tap'
import { systemPrincipal } from '../../src/core/scope.js'
import { launchBrowser, newPage, signIn, startWebGateway } from './browser.js'

t.test('the PTZ pad shows only the controls the head has: no zoom buttons for a head without zoom', async (t) => {
  const { gw, base } = await startWebGateway(t)
  const actor = systemPrincipal('test')
  const id = (n: number) => gw.services.db.prepare('SELECT id FROM cameras WHERE serial = ?').pluck().get(`DEMO-JD01-SQ01-${n}`) as number
  const noZoom = id(0)
  const unknown = id(1)
  gw.services.registry.update(actor, noZoom, {
    capabilities: { ptz: true, ptzFeatures: { panTilt: { continuous: true, relative: true, absolute: true }, zoom: { continuous: false, relative: false, absolute: false }, presets: true } },
  })
  gw.services.registry.update(actor, unknown, { capabilities: { ptz: true, ptzFeatures: null } })
  const browser = await launchBrowser(t)
  const page = await newPage(browser)
  await signIn(page, base, 'community.patrol')
  for (const [i, cam] of [noZoom, unknown].entries()) {
    await page.locator(`[data-testid=tree-camera][data-camera-id="${cam}"]`).dragTo(page.locator(`[data-tile="${i}"]`))
  }
  // the pad is in the DOM once the tile holds a PTZ camera (shown on hover)
  const pad = (i: number) => page.locator(`[data-tile="${i}"] [data-testid=ptz-pad]`)
  await pad(0).waitFor({ state: 'attached' })
  await pad(1).waitFor({ state: 'attached' })
  t.equal(await pad(0).locator('.ptz-up').count(), 1, 'pan/tilt buttons')
  t.equal(await pad(0).locator('.ptz-zoom-in, .ptz-zoom-out').count(), 0, 'no zoom buttons on a head without zoom')
  t.equal(await pad(1).locator('.ptz-zoom-in, .ptz-zoom-out').count(), 2, 'a head whose features are not known shows every control')
})
