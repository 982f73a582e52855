/**
 * The web application's test and support hook (web/src/screens/VideoTile.tsx), as seen from
 * Playwright callbacks that run in the page.
 */
interface GwTileDebug {
  cameraId: number | null
  phase: string
  stream: 'main' | 'sub'
  stats: { framesDecoded: number; fps: number; bitrateKbps: number; delayMs: number; width: number; height: number; packetsLost: number } | null
  attempts: number
  mode: string | null
}
interface Window {
  __gwWall?: { tiles(): GwTileDebug[]; drop(index: number): void }
}
