import { chromium, type Browser } from 'playwright-core'

/**
 * Debian's Chromium, headless, as every browser test, screenshot script and benchmark launches it.
 * The network flags keep it from reaching out (this machine has no internet); host ICE candidates
 * stay IP addresses instead of mDNS `.local` names, which werift cannot resolve.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
]

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true })
}
